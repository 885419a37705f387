// When a worker is replaced on purpose (issue 10, item 4): after --max-requests-per-worker requests (the worker
// asks) or past --max-worker-memory resident (the primary measures). Either way the replacement listens first and
// only then does the old worker stop accepting and drain, so no request fails.
import { residentBytes, type Pool, type PoolWorker } from './pool-worker.js';

/** Starts `worker`'s replacement; the supervisor retires `worker` once the replacement listens. */
export function recycle(pool: Pool, worker: PoolWorker, reason: string): void {
  if (pool.stopping || worker.retiring !== undefined || worker.generation !== pool.generation) return;
  if ([...pool.workers].some((w) => w.replaces === worker)) return;
  pool.log(`tsgi fastcgi: recycling worker ${worker.pid}: ${reason}`);
  worker.retiring = `recycled: ${reason}`;
  pool.spawn(pool.generation, worker);
}

/** Recycles `worker` if its resident memory is past --max-worker-memory; called every tick. */
export function checkMemory(pool: Pool, worker: PoolWorker): void {
  const limit = pool.options.maxWorkerMemoryBytes;
  // A worker still starting is not measured: it cannot be replaced before it has served anything anyway.
  if (limit <= 0 || !worker.listening || worker.retiring !== undefined || worker.killing) return;
  const rss = residentBytes(worker.pid);
  if (rss > limit) recycle(pool, worker, `${(rss / 1048576).toFixed(0)} MiB resident (--max-worker-memory)`);
}
