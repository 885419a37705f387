// The pool's primary: binds the sockets once, starts workers on them, restarts crashed ones with a back-off,
// and stops them all on a stop signal. What it decides about a running pool lives beside it: the heartbeat
// watch (watchdog.ts), recycling (recycling.ts), the reload sequence (reload.ts), the process model
// (scaling.ts) and the status page's numbers (pool-snapshot.ts).
import type { ToPrimary } from './messages.js';
import { PoolCounters } from './pool-snapshot.js';
import {
  describeExit,
  forkWorker,
  send,
  type Pool,
  type PoolWorker,
  type PrimaryOptions,
} from './pool-worker.js';
import { initialWorkers, minimumWorkers } from './process-model.js';
import { checkMemory, recycle } from './recycling.js';
import { Reload } from './reload.js';
import { Scaling } from './scaling.js';
import { bindPoolSockets, type PoolSockets } from './sockets.js';
import { heard, watchHeartbeat } from './watchdog.js';

export type { PrimaryOptions } from './pool-worker.js';
export { RELOAD_TIMEOUT_MS } from './reload.js';

/** Restart back-off: first delay, ceiling, and how long a worker must live to count as healthy again. */
export const RESTART_DELAY_MS = { first: 100, max: 10_000, healthyAfter: 30_000 } as const;

/** Workers in a row that may die before listening before the primary gives up (a broken app at start). */
export const MAX_START_FAILURES = 5;

/** How often the primary checks heartbeats, memory and the process model. */
const TICK_MS = 500;

/**
 * Runs the primary until it is told to stop and every worker has drained; resolves with the exit code.
 * SIGTERM/SIGINT/SIGUSR1 stop (a second one aborts what is left), SIGHUP/SIGUSR2 reload.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log, model } = options;
  const sockets: PoolSockets = await bindPoolSockets(options.addresses, options);
  const umask = process.umask();
  let announced = false;
  let stopping = false;
  let aborting = false;
  let failure: string | undefined;
  let crashes = 0;
  let startFailures = 0;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const retire = (worker: PoolWorker, reason: string): void => {
    worker.retiring ??= reason;
    if (worker.stopSent) return;
    worker.stopSent = true;
    send(worker, { tsgi: 'stop' });
  };

  const spawn = (generation: number, replaces?: PoolWorker): PoolWorker => {
    const worker = forkWorker(sockets, umask, options, generation, replaces);
    pool.workers.add(worker);
    worker.child.on('message', (message: ToPrimary) => onMessage(worker, message));
    worker.child.on('exit', (code, signal) => onExit(worker, code, signal));
    // A fork that fails (EAGAIN) emits 'error' and 'exit'; the exit path handles it.
    worker.child.on('error', (error) => log(`tsgi fastcgi: worker ${worker.pid}: ${error.message}`));
    return worker;
  };

  const pool: Pool = {
    options,
    workers: new Set<PoolWorker>(),
    log,
    generation: 1,
    get stopping() {
      return stopping;
    },
    current: () =>
      [...pool.workers].filter((w) => w.generation === pool.generation && w.retiring === undefined),
    spawn,
    retire,
  };
  const reload = new Reload(pool);
  const scaling = new Scaling(pool, sockets);
  const counters = new PoolCounters();

  const onMessage = (worker: PoolWorker, message: ToPrimary): void => {
    heard(worker);
    switch (message.tsgi) {
      case 'report':
        if (message.report.active > 0) worker.idleSince = Infinity;
        else if (worker.idleSince === Infinity) worker.idleSince = Date.now();
        worker.report = message.report;
        return;
      case 'listening':
        worker.listening = true;
        // Idle time counts from here: a worker slow to start must not be stopped before its first accept.
        worker.idleSince = Date.now();
        startFailures = 0;
        return onListening(worker);
      case 'recycle':
        return recycle(pool, worker, message.reason);
      case 'status':
        worker.report = message.report;
        send(worker, {
          tsgi: 'status',
          id: message.id,
          snapshot: counters.snapshot(pool, sockets, scaling.maxChildrenReached),
        });
        return;
      case 'fatal':
        // A worker that cannot listen will not do better after a restart: stop everything and say why.
        failure = message.message;
        return stop('cannot listen');
      case 'load-failed':
        if (reload.starts(worker)) return reload.failed(`the new code failed to load: ${message.message}`);
        if (!announced) {
          // At start a broken APP fails the same way in every worker: stop at once with its one line.
          failure = `APP failed to load: ${message.message}`;
          return stop('cannot start');
        }
        log(`tsgi fastcgi: worker ${worker.pid}: APP failed to load: ${message.message}`);
        return;
    }
  };

  const onListening = (worker: PoolWorker): void => {
    if (worker.replaces !== undefined) {
      retire(worker.replaces, 'replaced');
      worker.replaces = undefined;
    }
    reload.listening(worker);
    if (
      !announced &&
      pool.current().filter((w) => w.listening).length >= Math.max(1, initialWorkers(model))
    ) {
      announced = true;
      options.onListening?.(sockets.names);
    }
  };

  const onExit = (worker: PoolWorker, code: number | null, signal: NodeJS.Signals | null): void => {
    pool.workers.delete(worker);
    counters.retire(worker);
    for (const w of pool.workers) if (w.replaces === worker) w.replaces = undefined;
    const how = describeExit(code, signal);
    if (stopping) {
      if (pool.workers.size === 0) finish();
      return;
    }
    if (worker.retiring !== undefined) {
      if (worker.retiring !== 'failed reload' && (code !== 0 || signal !== null)) {
        log(`tsgi fastcgi: worker ${worker.pid} (${worker.retiring}) exited with ${how}`);
      }
      return;
    }
    if (reload.starts(worker) && !worker.listening) {
      return reload.failed(`a new worker exited with ${how} before listening`);
    }
    // What the watchdog's probe found beats the last heartbeat, which can be a second old.
    const held = worker.heldWhenKilled ?? worker.report.active;
    const when = worker.heldWhenKilled !== undefined ? 'when it was killed' : 'at its last report';
    const holding = held > 0 ? `; ${held} request(s) were in flight ${when}` : '';
    if (!worker.listening) {
      startFailures++;
      if (startFailures >= MAX_START_FAILURES && !announced) {
        failure = `${startFailures} workers in a row exited before listening (the last with ${how})`;
        stop('giving up');
        return;
      }
    }
    crashes = Date.now() - worker.bornAt > RESTART_DELAY_MS.healthyAfter ? 1 : crashes + 1;
    const delay = Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.first * 2 ** (crashes - 1));
    log(`tsgi fastcgi: worker ${worker.pid} exited (${how})${holding}; starting a new one in ${delay} ms`);
    // Not unref'd: with no worker alive this timer is what keeps the primary running.
    setTimeout(() => {
      if (!stopping && pool.current().length < minimumWorkers(model, scaling.seesQueue)) {
        spawn(pool.generation);
      }
    }, delay);
  };

  const tick = (): void => {
    if (stopping) return;
    const now = Date.now();
    counters.sawActive([...pool.workers].filter((w) => w.report.active > 0).length);
    for (const worker of pool.workers) {
      watchHeartbeat(pool, worker, now);
      checkMemory(pool, worker);
    }
    reload.checkTimeout(now);
    // During a reload the model plans for the generation that will serve: it waits.
    if (!reload.underWay) scaling.tick(now);
  };
  // Ondemand looks at the accept queue more often, so a first request does not wait a whole tick.
  const ticker = setInterval(tick, model.kind === 'ondemand' ? TICK_MS / 5 : TICK_MS);

  const finish = (): void => {
    clearInterval(ticker);
    sockets.close();
    resolveDone(failure === undefined ? 0 : 1);
  };

  const stop = (reason: string): void => {
    if (stopping) {
      if (aborting) return;
      aborting = true;
      log(`tsgi fastcgi: ${reason} again: aborting the requests still running`);
      for (const w of pool.workers) send(w, { tsgi: 'abort' });
      return;
    }
    stopping = true;
    if (pool.workers.size === 0) return finish();
    if (failure === undefined) {
      log(
        `tsgi fastcgi: ${reason}: stopping ${pool.workers.size} worker(s) (up to ${options.shutdownTimeoutMs} ms)`,
      );
    }
    for (const w of pool.workers) retire(w, 'stopping');
    // A worker stuck past its own drain timeout is killed; the primary still exits.
    setTimeout(() => {
      for (const w of pool.workers) w.child.kill('SIGKILL');
    }, options.shutdownTimeoutMs + 2000).unref();
  };

  const stopSignals = ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const;
  const reloadSignals = ['SIGHUP', 'SIGUSR2'] as const;
  const onStopSignal = (signal: NodeJS.Signals): void => stop(signal);
  const onReloadSignal = (): void => reload.start();
  for (const signal of stopSignals) process.on(signal, onStopSignal);
  for (const signal of reloadSignals) process.on(signal, onReloadSignal);
  options.onControl?.({ stop: () => stop('stop requested'), reload: () => reload.start() });

  for (let i = 0; i < initialWorkers(model); i++) spawn(pool.generation);
  if (initialWorkers(model) === 0) {
    announced = true;
    options.onListening?.(sockets.names);
  }
  const code = await done;
  for (const signal of stopSignals) process.off(signal, onStopSignal);
  for (const signal of reloadSignals) process.off(signal, onReloadSignal);
  if (failure !== undefined) log(`tsgi fastcgi: stopped: ${failure}`);
  return code;
}
