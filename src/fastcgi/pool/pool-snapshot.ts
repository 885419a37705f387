// The pool's state as the status page shows it (issue 10, item 6), built in the primary from every worker's
// last report. Counters of workers that exited are kept, so they survive restarts as FPM's do.
import type { PoolSnapshot, ProcessSnapshot } from './messages.js';
import { residentBytes, type Pool, type PoolWorker } from './pool-worker.js';
import { listenQueue, type PoolSockets } from './sockets.js';

export class PoolCounters {
  readonly startedAt = Date.now();
  private retired = { accepted: 0, slow: 0 };
  private maxActive = 0;

  /** A worker exited: its counters stay in the pool's. */
  retire(worker: PoolWorker): void {
    this.retired = {
      accepted: this.retired.accepted + worker.report.accepted,
      slow: this.retired.slow + worker.report.slow,
    };
  }

  /** Called every tick and at every snapshot: the most workers seen busy at once. */
  sawActive(active: number): void {
    this.maxActive = Math.max(this.maxActive, active);
  }

  snapshot(pool: Pool, sockets: PoolSockets, maxChildrenReached: number): PoolSnapshot {
    const now = Date.now();
    const processes: ProcessSnapshot[] = [...pool.workers].map((w) => {
      const oldest = w.report.running[0];
      return {
        pid: w.pid,
        state: !w.listening
          ? 'Starting'
          : w.retiring !== undefined
            ? 'Finishing'
            : oldest
              ? 'Running'
              : 'Idle',
        startTime: Math.floor(w.bornAt / 1000),
        requests: w.report.accepted,
        requestDuration: oldest ? (now - oldest.startedAt) * 1000 : 0,
        requestMethod: oldest?.method ?? '-',
        requestUri: oldest?.uri ?? '-',
        contentLength: oldest?.contentLength ?? 0,
        memory: residentBytes(w.pid),
      };
    });
    const queue = listenQueue(sockets.tcpPorts);
    const active = processes.filter((p) => p.state === 'Running').length;
    this.sawActive(active);
    let accepted = this.retired.accepted;
    let slow = this.retired.slow;
    for (const w of pool.workers) {
      accepted += w.report.accepted;
      slow += w.report.slow;
    }
    return {
      pool: pool.options.poolName,
      processManager: pool.options.model.kind,
      startTime: Math.floor(this.startedAt / 1000),
      acceptedConn: accepted,
      listenQueue: queue.length,
      maxListenQueue: queue.length,
      listenQueueLen: queue.limit,
      idleProcesses: processes.filter((p) => p.state === 'Idle').length,
      activeProcesses: active,
      totalProcesses: processes.length,
      maxActiveProcesses: this.maxActive,
      maxChildrenReached,
      slowRequests: slow,
      processes,
    };
  }
}
