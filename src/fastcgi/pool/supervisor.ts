// The pool's primary: starts workers on the sockets it holds, restarts crashed ones, reloads and recycles them
// with no gap, kills a worker whose event loop is stuck, and answers the status page from every worker's report.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ListenAddress, SocketFileOptions } from '../listen.js';
import {
  WORKER_ENV,
  type PoolSnapshot,
  type ProcessSnapshot,
  type ToPrimary,
  type ToWorker,
  type WorkerReport,
  type WorkerSetup,
} from './messages.js';
import {
  initialWorkers,
  minimumWorkers,
  planWorkers,
  type PoolLoad,
  type ProcessModel,
} from './process-model.js';
import { bindPoolSockets, listenQueue, type PoolSockets } from './sockets.js';

/** Restart back-off: first delay, ceiling, and how long a worker must live to count as healthy again. */
export const RESTART_DELAY_MS = { first: 100, max: 10_000, healthyAfter: 30_000 } as const;

/** Workers in a row that may die before listening before the primary gives up (a broken app at start). */
export const MAX_START_FAILURES = 5;

/** How long new workers of a reload may take to listen before the reload counts as failed. */
export const RELOAD_TIMEOUT_MS = 60_000;

/** How often the primary checks heartbeats, memory and the process model. */
const TICK_MS = 500;

/** What the primary needs to know. */
export interface PrimaryOptions extends SocketFileOptions {
  addresses: readonly ListenAddress[];
  model: ProcessModel;
  /** How long each worker may take to finish in-flight requests when stopping. */
  shutdownTimeoutMs: number;
  /** A worker whose heartbeat is older than this is killed (its event loop is blocked). */
  watchdogMs: number;
  /** Recycle a worker after this many requests (plus up to 10% jitter); 0: never. */
  maxRequestsPerWorker: number;
  /** Recycle a worker whose resident memory passes this many bytes; 0: never. */
  maxWorkerMemoryBytes: number;
  /** The pool's name on the status page. */
  poolName: string;
  log: (line: string) => void;
  /** Called once, when the first workers listen, with the addresses. */
  onListening?: (addresses: readonly string[]) => void;
  /** Receives the functions that stop (like a stop signal) and reload (like SIGHUP) the pool. */
  onControl?: (control: { stop(): void; reload(): void }) => void;
}

interface PoolWorker {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly generation: number;
  readonly bornAt: number;
  listening: boolean;
  /** Stopping on purpose (reload, recycling, shrinking, shutdown): its exit is no crash. */
  retiring: string | undefined;
  /** 'stop' was sent to it. */
  stopSent: boolean;
  /** A replacement started for it; it is told to stop once the replacement listens. */
  replaces: PoolWorker | undefined;
  report: WorkerReport;
  heardAt: number;
  /** Since when it has had no request in flight (for ondemand's idle timeout). */
  idleSince: number;
}

const EMPTY_REPORT: WorkerReport = { accepted: 0, slow: 0, active: 0, running: [] };

/** Resident memory of `pid` in bytes (0 where /proc does not tell). */
function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code ?? '?'}`;
}

/**
 * Runs the primary until it is told to stop and every worker has drained; resolves with the exit code.
 * SIGTERM/SIGINT/SIGUSR1 stop (a second one aborts what is left), SIGHUP/SIGUSR2 reload.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log, model } = options;
  const sockets: PoolSockets = await bindPoolSockets(options.addresses, options);
  const umask = process.umask();
  const startedAt = Date.now();
  const workers = new Set<PoolWorker>();
  let generation = 1;
  let pendingReload: { generation: number; startedAt: number } | undefined;
  let announced = false;
  let stopping = false;
  let aborting = false;
  let failure: string | undefined;
  let crashes = 0;
  let startFailures = 0;
  let retired = { accepted: 0, slow: 0 };
  let maxActive = 0;
  let maxChildrenReached = 0;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const current = (): PoolWorker[] =>
    [...workers].filter((w) => w.generation === generation && w.retiring === undefined);

  const send = (worker: PoolWorker, message: ToWorker): void => {
    if (worker.child.connected) worker.child.send(message);
    else worker.child.kill('SIGTERM');
  };

  const retire = (worker: PoolWorker, reason: string): void => {
    worker.retiring ??= reason;
    if (worker.stopSent) return;
    worker.stopSent = true;
    send(worker, { tsgi: 'stop' });
  };

  const spawn = (workerGeneration: number, replaces?: PoolWorker): PoolWorker => {
    const jitter = Math.floor(Math.random() * (options.maxRequestsPerWorker / 10 + 1));
    const setup: WorkerSetup = {
      fds: sockets.fds,
      umask,
      maxRequests: options.maxRequestsPerWorker > 0 ? options.maxRequestsPerWorker + jitter : 0,
    };
    const child = fork(process.argv[1] ?? '', process.argv.slice(2), {
      env: { ...process.env, [WORKER_ENV]: JSON.stringify(setup) },
      execArgv: process.execArgv,
      stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...sockets.fds],
    });
    const worker: PoolWorker = {
      child,
      pid: child.pid ?? 0,
      generation: workerGeneration,
      bornAt: Date.now(),
      listening: false,
      retiring: undefined,
      stopSent: false,
      replaces,
      report: EMPTY_REPORT,
      heardAt: Date.now(),
      idleSince: Date.now(),
    };
    workers.add(worker);
    child.on('message', (message: ToPrimary) => onMessage(worker, message));
    child.on('exit', (code, signal) => onExit(worker, code, signal));
    // A fork that fails (EAGAIN) emits 'error' and 'exit'; the exit path handles it.
    child.on('error', (error) => log(`tsgi fastcgi: worker ${worker.pid}: ${error.message}`));
    return worker;
  };

  const onMessage = (worker: PoolWorker, message: ToPrimary): void => {
    worker.heardAt = Date.now();
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
        return recycle(worker, message.reason);
      case 'status':
        worker.report = message.report;
        send(worker, { tsgi: 'status', id: message.id, snapshot: snapshot() });
        return;
      case 'fatal':
        // A worker that cannot listen will not do better after a restart: stop everything and say why.
        failure = message.message;
        return stop('cannot listen');
      case 'load-failed':
        if (pendingReload !== undefined && worker.generation === pendingReload.generation) {
          return reloadFailed(`the new code failed to load: ${message.message}`);
        }
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
    if (pendingReload !== undefined && worker.generation === pendingReload.generation) {
      const fresh = [...workers].filter((w) => w.generation === pendingReload?.generation);
      if (fresh.every((w) => w.listening)) {
        const old = [...workers].filter((w) => w.generation < worker.generation);
        generation = worker.generation;
        pendingReload = undefined;
        for (const w of old) retire(w, 'reload');
        log(
          `tsgi fastcgi: reloaded: ${fresh.length} new worker(s) serving; ${old.length} old worker(s) finishing their requests`,
        );
      }
    }
    if (!announced && current().filter((w) => w.listening).length >= Math.max(1, initialWorkers(model))) {
      announced = true;
      options.onListening?.(sockets.names);
    }
  };

  const reloadFailed = (why: string): void => {
    const reload = pendingReload;
    if (reload === undefined) return;
    pendingReload = undefined;
    for (const w of workers) {
      if (w.generation !== reload.generation) continue;
      w.retiring = 'failed reload';
      w.child.kill('SIGKILL');
    }
    const serving = current().length;
    log(
      `tsgi fastcgi: reload failed: ${why}; the ${serving} running worker(s) keep serving the previous code`,
    );
  };

  const recycle = (worker: PoolWorker, reason: string): void => {
    if (stopping || worker.retiring !== undefined || worker.generation !== generation) return;
    if ([...workers].some((w) => w.replaces === worker)) return;
    log(`tsgi fastcgi: recycling worker ${worker.pid}: ${reason}`);
    worker.retiring = `recycled: ${reason}`;
    // Its replacement listens first; only then does it stop accepting and drain (no request fails).
    spawn(generation, worker);
  };

  const onExit = (worker: PoolWorker, code: number | null, signal: NodeJS.Signals | null): void => {
    workers.delete(worker);
    retired = {
      accepted: retired.accepted + worker.report.accepted,
      slow: retired.slow + worker.report.slow,
    };
    for (const w of workers) if (w.replaces === worker) w.replaces = undefined;
    const how = describeExit(code, signal);
    if (stopping) {
      if (workers.size === 0) finish();
      return;
    }
    if (worker.retiring !== undefined) {
      if (worker.retiring !== 'failed reload' && (code !== 0 || signal !== null)) {
        log(`tsgi fastcgi: worker ${worker.pid} (${worker.retiring}) exited with ${how}`);
      }
      return;
    }
    if (pendingReload !== undefined && worker.generation === pendingReload.generation && !worker.listening) {
      return reloadFailed(`a new worker exited with ${how} before listening`);
    }
    const held = worker.report.active;
    const holding = held > 0 ? `; ${held} request(s) were in flight at its last report` : '';
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
      if (!stopping && current().length < minimumWorkers(model, seesQueue)) spawn(generation);
    }, delay);
  };

  // Ondemand learns of waiting connections from the kernel's accept queue, which Linux shows for TCP only.
  const seesQueue = sockets.tcpPorts.length > 0 && sockets.tcpPorts.length === sockets.fds.length;
  const idleWorkers = (): PoolWorker[] => current().filter((w) => w.listening && w.report.active === 0);
  const load = (now: number): PoolLoad => {
    const idle = idleWorkers();
    const idleTimeout = model.kind === 'ondemand' ? model.idleTimeoutMs : Infinity;
    return {
      idle: idle.length,
      total: current().length,
      queued: model.kind === 'ondemand' && seesQueue ? listenQueue(sockets.tcpPorts).length : 0,
      longIdle: idle.filter((w) => now - w.idleSince > idleTimeout).length,
      seesQueue,
    };
  };

  const tick = (): void => {
    if (stopping) return;
    const now = Date.now();
    const active = [...workers].filter((w) => w.report.active > 0).length;
    maxActive = Math.max(maxActive, active);
    for (const worker of workers) {
      if (!worker.listening) continue;
      const silent = now - worker.heardAt;
      if (silent > options.watchdogMs) {
        const running = worker.report.running.map((r) => `${r.method} ${r.uri}`).join(', ');
        log(
          `tsgi fastcgi: worker ${worker.pid} blocked: its event loop has not answered for ${(silent / 1000).toFixed(1)} s` +
            ` (--worker-timeout)${running ? `, running ${running}` : ''}; killing it`,
        );
        worker.child.kill('SIGKILL');
        worker.heardAt = Infinity;
        continue;
      }
      if (options.maxWorkerMemoryBytes > 0 && worker.retiring === undefined) {
        const rss = residentBytes(worker.pid);
        if (rss > options.maxWorkerMemoryBytes) {
          recycle(worker, `${(rss / 1048576).toFixed(0)} MiB resident (--max-worker-memory)`);
        }
      }
    }
    if (pendingReload !== undefined && now - pendingReload.startedAt > RELOAD_TIMEOUT_MS) {
      reloadFailed(`the new workers did not listen within ${RELOAD_TIMEOUT_MS / 1000} s`);
    }
    if (pendingReload !== undefined) return;
    if (model.kind === 'static') return;
    const plan = planWorkers(model, load(now));
    if (plan.reachedMax) maxChildrenReached++;
    // One start at a time: a worker still loading will take the waiting connections once it listens.
    const starting = current().some((w) => !w.listening);
    if (plan.target > current().length && !starting) spawn(generation);
    else if (plan.target < current().length) {
      const idle = idleWorkers().sort((a, b) => a.idleSince - b.idleSince)[0];
      if (idle !== undefined) retire(idle, `idle (pm ${model.kind})`);
    }
  };
  // Ondemand looks at the accept queue more often, so a first request does not wait a whole tick.
  const ticker = setInterval(tick, model.kind === 'ondemand' ? TICK_MS / 5 : TICK_MS);

  const snapshot = (): PoolSnapshot => {
    const now = Date.now();
    const processes: ProcessSnapshot[] = [...workers].map((w) => {
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
    maxActive = Math.max(maxActive, active);
    let accepted = retired.accepted;
    let slow = retired.slow;
    for (const w of workers) {
      accepted += w.report.accepted;
      slow += w.report.slow;
    }
    return {
      pool: options.poolName,
      processManager: model.kind,
      startTime: Math.floor(startedAt / 1000),
      acceptedConn: accepted,
      listenQueue: queue.length,
      maxListenQueue: queue.length,
      listenQueueLen: queue.limit,
      idleProcesses: processes.filter((p) => p.state === 'Idle').length,
      activeProcesses: active,
      totalProcesses: processes.length,
      maxActiveProcesses: maxActive,
      maxChildrenReached,
      slowRequests: slow,
      processes,
    };
  };

  const reload = (): void => {
    if (stopping) return;
    if (pendingReload !== undefined) {
      log('tsgi fastcgi: reload already under way; this one is ignored');
      return;
    }
    const count = Math.max(1, current().length);
    pendingReload = { generation: generation + 1, startedAt: Date.now() };
    log(`tsgi fastcgi: reloading: starting ${count} worker(s) with the new code`);
    for (let i = 0; i < count; i++) spawn(pendingReload.generation);
  };

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
      for (const w of workers) send(w, { tsgi: 'abort' });
      return;
    }
    stopping = true;
    if (workers.size === 0) return finish();
    if (failure === undefined) {
      log(
        `tsgi fastcgi: ${reason}: stopping ${workers.size} worker(s) (up to ${options.shutdownTimeoutMs} ms)`,
      );
    }
    for (const w of workers) retire(w, 'stopping');
    // A worker stuck past its own drain timeout is killed; the primary still exits.
    setTimeout(() => {
      for (const w of workers) w.child.kill('SIGKILL');
    }, options.shutdownTimeoutMs + 2000).unref();
  };

  const stopSignals = ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const;
  const reloadSignals = ['SIGHUP', 'SIGUSR2'] as const;
  const onStopSignal = (signal: NodeJS.Signals): void => stop(signal);
  const onReloadSignal = (): void => reload();
  for (const signal of stopSignals) process.on(signal, onStopSignal);
  for (const signal of reloadSignals) process.on(signal, onReloadSignal);
  options.onControl?.({ stop: () => stop('stop requested'), reload });

  for (let i = 0; i < initialWorkers(model); i++) spawn(generation);
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
