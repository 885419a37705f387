// Applies the process model (issue 10, item 5) every tick: dynamic keeps --min-spare..--max-spare idle workers,
// ondemand starts workers while connections wait and stops those idle past --idle-worker-timeout. The arithmetic
// is process-model.ts's; this part owns what the primary sees and does, one worker started or stopped per tick.
import { planWorkers, type PoolLoad } from './process-model.js';
import type { Pool, PoolWorker } from './pool-worker.js';
import { listenQueue, type PoolSockets } from './sockets.js';

export class Scaling {
  /** Ticks on which more workers were wanted than --workers allows (the status page's "max children reached"). */
  maxChildrenReached = 0;
  /** Whether Linux shows the accept queue of every socket (TCP only): ondemand needs it to start from zero. */
  readonly seesQueue: boolean;

  private readonly pool: Pool;
  private readonly sockets: PoolSockets;

  constructor(pool: Pool, sockets: PoolSockets) {
    this.pool = pool;
    this.sockets = sockets;
    this.seesQueue = sockets.tcpPorts.length > 0 && sockets.tcpPorts.length === sockets.fds.length;
  }

  /** Listening workers of the current code with no request in flight at their last report. */
  idleWorkers(): PoolWorker[] {
    return this.pool.current().filter((w) => w.listening && w.report.active === 0);
  }

  private load(now: number): PoolLoad {
    const { model } = this.pool.options;
    const idle = this.idleWorkers();
    const idleTimeout = model.kind === 'ondemand' ? model.idleTimeoutMs : Infinity;
    return {
      idle: idle.length,
      total: this.pool.current().length,
      queued: model.kind === 'ondemand' && this.seesQueue ? listenQueue(this.sockets.tcpPorts).length : 0,
      longIdle: idle.filter((w) => now - w.idleSince > idleTimeout).length,
      seesQueue: this.seesQueue,
    };
  }

  /** One step towards the model's number of workers. */
  tick(now: number): void {
    const { pool } = this;
    const { model } = pool.options;
    if (model.kind === 'static') return;
    const plan = planWorkers(model, this.load(now));
    if (plan.reachedMax) this.maxChildrenReached++;
    const current = pool.current();
    // One start at a time: a worker still loading will take the waiting connections once it listens.
    const starting = current.some((w) => !w.listening);
    if (plan.target > current.length && !starting) pool.spawn(pool.generation);
    else if (plan.target < current.length) {
      const idle = this.idleWorkers().sort((a, b) => a.idleSince - b.idleSince)[0];
      if (idle !== undefined) pool.retire(idle, `idle (pm ${model.kind})`);
    }
  }
}
