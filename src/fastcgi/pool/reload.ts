// The reload sequence (issue 10, item 2): SIGHUP/SIGUSR2 start a new generation of workers with the code on
// disk; only when every one of them listens does that generation become current and the old workers stop
// accepting and drain. A new generation that fails to load, exits before listening or is too slow is killed,
// and the old workers keep serving the previous code.
import type { Pool, PoolWorker } from './pool-worker.js';

/** How long new workers of a reload may take to listen before the reload counts as failed. */
export const RELOAD_TIMEOUT_MS = 60_000;

export class Reload {
  private pending: { generation: number; startedAt: number } | undefined;
  private readonly pool: Pool;

  constructor(pool: Pool) {
    this.pool = pool;
  }

  /** True while a new generation is starting (the process model waits: it plans for the current one). */
  get underWay(): boolean {
    return this.pending !== undefined;
  }

  /** True when `worker` belongs to the generation being started. */
  starts(worker: PoolWorker): boolean {
    return this.pending !== undefined && worker.generation === this.pending.generation;
  }

  /** SIGHUP/SIGUSR2: as many new workers as serve now (at least one). */
  start(): void {
    const { pool } = this;
    if (pool.stopping) return;
    if (this.pending !== undefined) {
      pool.log('tsgi fastcgi: reload already under way; this one is ignored');
      return;
    }
    const count = Math.max(1, pool.current().length);
    const generation = pool.generation + 1;
    this.pending = { generation, startedAt: Date.now() };
    pool.log(`tsgi fastcgi: reloading: starting ${count} worker(s) with the new code`);
    for (let i = 0; i < count; i++) pool.spawn(generation);
  }

  /** A worker listens: when it was the last of the new generation, that generation takes over. */
  listening(worker: PoolWorker): void {
    const { pool, pending } = this;
    if (pending === undefined || worker.generation !== pending.generation) return;
    const fresh = [...pool.workers].filter((w) => w.generation === pending.generation);
    if (!fresh.every((w) => w.listening)) return;
    const old = [...pool.workers].filter((w) => w.generation < pending.generation);
    pool.generation = pending.generation;
    this.pending = undefined;
    for (const w of old) pool.retire(w, 'reload');
    pool.log(
      `tsgi fastcgi: reloaded: ${fresh.length} new worker(s) serving; ${old.length} old worker(s) finishing their requests`,
    );
  }

  /** The new generation cannot serve: kill it, keep the old one, say why in one line. */
  failed(why: string): void {
    const { pool, pending } = this;
    if (pending === undefined) return;
    this.pending = undefined;
    for (const w of pool.workers) {
      if (w.generation !== pending.generation) continue;
      w.retiring = 'failed reload';
      w.child.kill('SIGKILL');
    }
    pool.log(
      `tsgi fastcgi: reload failed: ${why}; the ${pool.current().length} running worker(s) keep serving the previous code`,
    );
  }

  /** Called every tick: a generation that has not listened within RELOAD_TIMEOUT_MS has failed. */
  checkTimeout(now: number): void {
    if (this.pending !== undefined && now - this.pending.startedAt > RELOAD_TIMEOUT_MS) {
      this.failed(`the new workers did not listen within ${RELOAD_TIMEOUT_MS / 1000} s`);
    }
  }
}
