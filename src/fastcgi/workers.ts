// `--workers N`: a node:cluster primary that forks N listener processes sharing the sockets and restarts crashed ones.
import cluster, { type Worker } from 'node:cluster';
import {
  checkSocketMode,
  clearStaleSocket,
  DEFAULT_SOCKET_MODE,
  parseListenAddress,
  type ListenAddress,
} from './listen.js';

/** Environment variable carrying the primary's resolved addresses (JSON) to its workers. */
export const WORKER_ADDRESSES_ENV = 'TSGI_FASTCGI_ADDRESSES';
/** Environment variable carrying the umask the workers restore (the primary binds under a tighter one). */
const WORKER_UMASK_ENV = 'TSGI_FASTCGI_UMASK';

/** Restart back-off: first delay, ceiling, and how long a worker must live to count as healthy again. */
export const RESTART_DELAY_MS = { first: 100, max: 10_000, healthyAfter: 30_000 } as const;

/** Workers in a row that may die before listening before the primary stops trying (a broken app). */
export const MAX_START_FAILURES = 5;

/** Messages between the primary and its workers (over the cluster IPC channel). */
export type WorkerMessage =
  { tsgi: 'listening'; addresses: string[] } | { tsgi: 'fatal'; message: string } | { tsgi: 'stop' };

/** What the primary needs to know. */
export interface PrimaryOptions {
  workers: number;
  addresses: readonly ListenAddress[];
  socketMode?: number;
  /** How long each worker may take to finish in-flight requests when stopping. */
  shutdownTimeoutMs: number;
  log: (line: string) => void;
  /** Called once, when every worker listens for the first time, with where the first one listens. */
  onListening?: (addresses: string[]) => void;
  /** Receives the function that stops the primary as a stop signal would. */
  onStopRequest?: (stop: () => void) => void;
}

/** True in a process forked by `runPrimary`. */
export function isWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ADDRESSES_ENV] !== undefined;
}

/** In a worker: the addresses the primary resolved (systemd's variables are the primary's, not ours). */
export function workerAddresses(): ListenAddress[] {
  return JSON.parse(process.env[WORKER_ADDRESSES_ENV] ?? '[]') as ListenAddress[];
}

/** In a worker: give back the umask the primary had before it tightened its own for binding. */
export function restoreWorkerUmask(): void {
  const umask = Number(process.env[WORKER_UMASK_ENV]);
  if (Number.isInteger(umask)) process.umask(umask);
}

/** In a worker: tells the primary how listening went. */
export function reportToPrimary(message: WorkerMessage): void {
  process.send?.(message);
}

/**
 * Runs the cluster primary until it is told to stop (SIGTERM, SIGUSR1, SIGINT) and every worker has
 * drained; resolves with the exit code. The primary never accepts connections itself: cluster binds the
 * sockets here and hands connections to the workers. A worker that dies is replaced after a delay that
 * doubles while workers keep dying young (a crash loop must not spin the CPU).
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { log } = options;
  const mode = options.socketMode ?? DEFAULT_SOCKET_MODE;
  checkSocketMode(mode);
  for (const address of options.addresses) {
    if (address.kind === 'unix') await clearStaleSocket(address.path);
  }
  // cluster binds unix sockets in this process when the first worker asks: bind them closed to others.
  const umask = process.umask(0o777 & ~mode);
  let addresses = options.addresses;
  const envFor = (list: readonly ListenAddress[]): NodeJS.ProcessEnv => ({
    [WORKER_ADDRESSES_ENV]: JSON.stringify(list),
    [WORKER_UMASK_ENV]: String(umask),
  });
  let env = envFor(addresses);

  const born = new Map<Worker, number>();
  const listening = new Set<Worker>();
  let announced = false;
  let stopping = false;
  let failure: string | undefined;
  let crashes = 0;
  let startFailures = 0;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));

  const fork = (): void => {
    const worker = cluster.fork(env);
    born.set(worker, Date.now());
    worker.on('message', (message: WorkerMessage) => {
      if (message.tsgi === 'listening') {
        listening.add(worker);
        if (addresses.some((address) => address.kind === 'tcp' && address.port === 0)) {
          // Port 0 was resolved by the first bind: a replacement worker must come back to the same port.
          addresses = addresses.map((address, i) =>
            address.kind === 'tcp' && address.port === 0 && message.addresses[i] !== undefined
              ? parseListenAddress(message.addresses[i])
              : address,
          );
          env = envFor(addresses);
        }
        if (!announced && listening.size === options.workers) {
          announced = true;
          options.onListening?.(message.addresses);
        }
      } else if (message.tsgi === 'fatal') {
        // A worker that cannot listen will not do better after a restart: stop everything and say why.
        failure = message.message;
        stop();
      }
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const started = born.get(worker) ?? Date.now();
    const hadListened = listening.has(worker);
    born.delete(worker);
    listening.delete(worker);
    if (stopping) {
      if (born.size === 0) resolveDone(failure === undefined ? 0 : 1);
      return;
    }
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (addresses.some((address) => address.kind === 'fd') && born.size === 0) {
      // cluster closed the inherited socket with the last worker using it; a new one cannot listen on it.
      log(
        `tsgi fastcgi: worker ${worker.process.pid} exited (${how}) and no worker is left on the inherited socket; exiting`,
      );
      stopping = true;
      resolveDone(1);
      return;
    }
    // Workers that die before they ever listen (the app throws while loading) would loop forever: give up.
    startFailures = hadListened ? 0 : startFailures + 1;
    if (startFailures >= MAX_START_FAILURES) {
      failure = `${startFailures} workers in a row exited before listening (the last with ${how})`;
      stop();
      return;
    }
    crashes = Date.now() - started > RESTART_DELAY_MS.healthyAfter ? 1 : crashes + 1;
    const delay = Math.min(RESTART_DELAY_MS.max, RESTART_DELAY_MS.first * 2 ** (crashes - 1));
    log(`tsgi fastcgi: worker ${worker.process.pid} exited (${how}); starting a new one in ${delay} ms`);
    // Not unref'd: with no worker alive this timer is what keeps the primary running.
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (born.size === 0) {
      resolveDone(failure === undefined ? 0 : 1);
      return;
    }
    for (const worker of born.keys()) {
      const message: WorkerMessage = { tsgi: 'stop' };
      if (worker.isConnected()) worker.send(message);
      else worker.process.kill('SIGTERM');
    }
    // A worker stuck past its own drain timeout is killed; the primary still exits.
    setTimeout(() => {
      for (const worker of born.keys()) worker.process.kill('SIGKILL');
    }, options.shutdownTimeoutMs + 2000).unref();
  };
  const signals = ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const;
  for (const signal of signals) process.on(signal, stop);
  options.onStopRequest?.(stop);

  for (let i = 0; i < options.workers; i++) fork();
  const code = await done;
  for (const signal of signals) process.off(signal, stop);
  if (failure !== undefined) log(`tsgi fastcgi: stopped: ${failure}`);
  return code;
}
