// serveFastCgi: the process around a listener — where it listens, its pool, the start line, the signals.
import { readFileSync } from 'node:fs';
import { defaultAddresses, parseListenAddress, type ListenAddress } from './listen.js';
import type { PoolSnapshot } from './pool/messages.js';
import type { ProcessModel } from './pool/process-model.js';
import { withPoolPages } from './pool/status-page.js';
import { runPrimary } from './pool/supervisor.js';
import {
  isPoolWorker,
  reportOf,
  runWorkerDuties,
  tellPrimary,
  workerFds,
  workerSetup,
} from './pool/worker.js';
import {
  createFastCgiServer,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type FastCgiServer,
  type FastCgiServerOptions,
} from './server.js';
import type { Application } from '../shared/types.js';
import { logToStderr } from '../shared/default-log.js';

/** A blocked worker is killed after this long without a heartbeat when no request timeout says otherwise. */
export const DEFAULT_WATCHDOG_MS = 30_000;

/** Options of `serveFastCgi`: the listener's, plus where to listen, the pool and stopping. */
export interface ServeFastCgiOptions extends FastCgiServerOptions {
  /**
   * Addresses (`host:port`, `[v6]:port`, `unix:/path`, `/path`, `fd:N`). Default: systemd's sockets
   * (LISTEN_FDS), else fd 0 when it is a listening socket (FCGI_LISTENSOCK_FILENO: lighttpd bin-path,
   * spawn-fcgi, mod_fcgid).
   */
  listen?: readonly (string | ListenAddress)[];
  /** Worker processes (a static pool); 0 or undefined serves in this process unless `processModel` is set. */
  workers?: number;
  /** The pool's process manager (static, dynamic, ondemand); overrides `workers`. */
  processModel?: ProcessModel;
  /** How long a stop signal waits for in-flight requests (default 30 s). */
  shutdownTimeoutMs?: number;
  /** A worker whose event loop does not answer for this long is killed (default: the request timeout, else 30 s). */
  watchdogMs?: number;
  /** Recycle a worker after this many requests (plus up to 10% jitter). */
  maxRequestsPerWorker?: number;
  /** Recycle a worker whose resident memory passes this many bytes. */
  maxWorkerMemoryBytes?: number;
  /**
   * A thread in each worker that gives the primary a blocked worker's JavaScript stack and requests
   * (default true; it costs each worker 9-16 MiB resident).
   */
  stackProbe?: boolean;
  /** Answer the status page here (SCRIPT_NAME + PATH_INFO), as FPM's pm.status_path. */
  statusPath?: string;
  /** Answer `pong` here, as FPM's ping.path. */
  pingPath?: string;
  /** The pool's name on the status page (default `tsgi`). */
  poolName?: string;
  /**
   * Stop gracefully on SIGTERM, SIGUSR1 (what mod_fcgid and mod_fastcgi send) and SIGINT, then exit the
   * process with 0 (default true); a pool also reloads on SIGHUP and SIGUSR2. Off: call `stop()` yourself.
   */
  handleSignals?: boolean;
  /** Appended to the start line (e.g. why this run mode was chosen). */
  startNote?: string;
}

/** A started listener (or a pool's primary). */
export interface RunningFastCgi {
  /** The listener in this process; undefined in a pool's primary, which only supervises. */
  readonly server: FastCgiServer | undefined;
  /** Where it listens (TCP port 0 resolved), as written in the start line. */
  readonly addresses: readonly string[];
  /** Resolves with the exit code once stopped. */
  readonly stopped: Promise<number>;
  /** Graceful stop (the same as a stop signal, without exiting the process). */
  stop(): Promise<number>;
}

/** Thrown when no address was given and the process inherited no listening socket. */
export class NoListenAddressError extends Error {
  constructor(detail = 'fd 0 is not a socket') {
    super(`tsgi fastcgi: nowhere to listen: no address given, no systemd socket (LISTEN_FDS), and ${detail}`);
    this.name = 'NoListenAddressError';
  }
}

const STOP_SIGNALS = ['SIGTERM', 'SIGUSR1', 'SIGINT'] as const;
const RELOAD_SIGNALS = ['SIGHUP', 'SIGUSR2'] as const;

/** The process model `options` ask for, or undefined for one process. */
function modelOf(options: ServeFastCgiOptions): ProcessModel | undefined {
  if (options.processModel !== undefined) return options.processModel;
  const workers = options.workers ?? 0;
  return workers > 0 ? { kind: 'static', workers } : undefined;
}

function describeModel(model: ProcessModel): string {
  switch (model.kind) {
    case 'static':
      return `${model.workers} worker${model.workers === 1 ? '' : 's'}`;
    case 'dynamic':
      return `pm dynamic, up to ${model.maxWorkers} workers, ${model.minSpare}-${model.maxSpare} spare`;
    case 'ondemand':
      return `pm ondemand, up to ${model.maxWorkers} workers`;
  }
}

/**
 * Serves `app` over FastCGI until stopped: listens on every address, prints one start line (where, how many
 * processes), and on SIGTERM/SIGUSR1/SIGINT stops accepting, lets in-flight requests finish within
 * `shutdownTimeoutMs`, and exits 0. With a pool (`workers`, `processModel`) this process is the primary: it
 * binds the sockets, keeps workers running on them, reloads on SIGHUP/SIGUSR2, and sets `tsgi.multiprocess`.
 */
export async function serveFastCgi(
  app: Application,
  options: ServeFastCgiOptions = {},
): Promise<RunningFastCgi> {
  const log = options.log ?? logToStderr;
  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const handleSignals = options.handleSignals ?? true;
  if (isPoolWorker()) return serveWorker(app, { ...options, log }, timeoutMs);

  const given = (options.listen ?? []).map((a) => (typeof a === 'string' ? parseListenAddress(a) : a));
  const addresses = given.length > 0 ? given : defaultAddresses();
  if (addresses.length === 0) throw new NoListenAddressError();
  const note = options.startNote === undefined ? '' : `; ${options.startNote}`;
  const model = modelOf(options);

  if (model !== undefined) {
    let control = { stop: (): void => {}, reload: (): void => {} };
    const announced: string[] = [];
    let onListening: () => void = () => {};
    const listening = new Promise<void>((resolve) => (onListening = resolve));
    const stopped = runPrimary({
      addresses,
      model,
      socketMode: options.socketMode,
      socketOwner: options.socketOwner,
      socketGroup: options.socketGroup,
      shutdownTimeoutMs: timeoutMs,
      watchdogMs:
        options.watchdogMs ??
        (options.requestTimeoutMs ? options.requestTimeoutMs + 2000 : DEFAULT_WATCHDOG_MS),
      slowRequestMs: options.slowRequestMs ?? 0,
      stackProbe: options.stackProbe ?? true,
      maxRequestsPerWorker: options.maxRequestsPerWorker ?? 0,
      maxWorkerMemoryBytes: options.maxWorkerMemoryBytes ?? 0,
      poolName: options.poolName ?? 'tsgi',
      log,
      onListening: (bound) => {
        announced.push(...bound);
        log(
          `tsgi fastcgi: listening on ${bound.join(', ')} (${describeModel(model)}, primary pid ${process.pid})${note}`,
        );
        onListening();
      },
      onControl: (given) => (control = given),
    });
    // A bind failure (address in use) is the caller's error, as for one process; later failures end `stopped`.
    await Promise.race([listening, stopped.then(() => undefined)]);
    if (handleSignals) void stopped.then((code) => process.exit(code));
    return {
      server: undefined,
      addresses: announced,
      stopped,
      stop: () => {
        control.stop();
        return stopped;
      },
    };
  }

  const startedAt = Date.now();
  const pagesApp = withPoolPages(app, {
    statusPath: options.statusPath,
    pingPath: options.pingPath,
    snapshot: () => singleSnapshot(server, options.poolName ?? 'tsgi', startedAt),
  });
  const server = createFastCgiServer(pagesApp, { ...options, log });
  for (const address of addresses) {
    try {
      await server.listen(address);
    } catch (error) {
      // fd 0 can be a connected socket (a CGI server's socketpair stdin): that is no listener to serve on.
      const code = (error as NodeJS.ErrnoException).code;
      // The addresses already bound are let go, so that the process can exit with the error.
      await server.close(0);
      if (
        given.length === 0 &&
        address.kind === 'fd' &&
        address.origin === 'inherited' &&
        (code === 'EINVAL' || code === 'ENOTSOCK')
      ) {
        throw new NoListenAddressError(`fd ${address.fd} is a socket but not a listening one`);
      }
      throw error;
    }
  }
  // Signal handlers go in before the start line: whoever reads it may signal at once.
  const running = controlled(server, log, timeoutMs, handleSignals);
  if (handleSignals) {
    // One process cannot start its own replacement: the web server that started it (or --workers) reloads.
    const ignored = (signal: NodeJS.Signals): void =>
      log(
        `tsgi fastcgi: ${signal} ignored: reloading needs a pool (tsgi binds its own address, or --workers N)`,
      );
    for (const signal of RELOAD_SIGNALS) process.on(signal, ignored);
    void running.stopped.then(() => {
      for (const signal of RELOAD_SIGNALS) process.off(signal, ignored);
    });
  }
  log(`tsgi fastcgi: listening on ${server.addresses.join(', ')} (1 process, pid ${process.pid})${note}`);
  return running;
}

// The status page of a listener serving alone: the pool is this process.
function singleSnapshot(server: FastCgiServer, pool: string, startedAt: number): PoolSnapshot {
  const now = Date.now();
  const oldest = server.runningRequests()[0];
  let memory = 0;
  try {
    memory = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    memory = process.memoryUsage.rss();
  }
  const busy = oldest !== undefined;
  return {
    pool,
    processManager: 'single',
    startTime: Math.floor(startedAt / 1000),
    acceptedConn: server.acceptedRequests,
    listenQueue: 0,
    maxListenQueue: 0,
    listenQueueLen: 0,
    idleProcesses: busy ? 0 : 1,
    activeProcesses: busy ? 1 : 0,
    totalProcesses: 1,
    maxActiveProcesses: 1,
    maxChildrenReached: 0,
    slowRequests: server.slowRequests,
    processes: [
      {
        pid: process.pid,
        state: busy ? 'Running' : 'Idle',
        startTime: Math.floor(startedAt / 1000),
        requests: server.acceptedRequests,
        requestDuration: oldest ? (now - oldest.startedAt) * 1000 : 0,
        requestMethod: oldest?.method ?? '-',
        requestUri: oldest?.uri ?? '-',
        contentLength: oldest?.contentLength ?? 0,
        memory,
      },
    ],
  };
}

interface Controlled extends RunningFastCgi {
  stopAndExit(reason: string): void;
  abort(reason: string): void;
  readonly isStopping: boolean;
}

// Wires a listener to the stop signals; the returned `stopped` settles once it has drained.
function controlled(
  server: FastCgiServer,
  log: (line: string) => void,
  timeoutMs: number,
  handleSignals: boolean,
): Controlled {
  let stopping: Promise<number> | undefined;
  let aborted = false;
  let resolveStopped: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (resolveStopped = resolve));
  const stop = (reason: string): Promise<number> => {
    if (stopping !== undefined) return stopping;
    log(
      `tsgi fastcgi: ${reason}: stopping, ${server.activeRequests} request(s) in flight (up to ${timeoutMs} ms)`,
    );
    stopping = server.close(timeoutMs).then((result) => {
      log(`tsgi fastcgi: stopped${result.drained ? '' : ` (${result.aborted} request(s) aborted)`}`);
      for (const signal of STOP_SIGNALS) process.off(signal, stopAndExit);
      resolveStopped(0);
      return 0;
    });
    return stopping;
  };
  // A second stop while draining: the operator wants out now (issue 10: the second close() used to return the
  // first, memoised drain, and the process still waited the whole shutdown timeout).
  const abort = (reason: string): void => {
    if (aborted) return;
    aborted = true;
    log(`tsgi fastcgi: ${reason}: aborting ${server.activeRequests} request(s)`);
    void server.close(0);
  };
  const stopAndExit = (reason: string): void => {
    if (stopping !== undefined && reason.startsWith('SIG')) abort(`${reason} again`);
    void stop(reason).then((code) => process.exit(code));
  };
  if (handleSignals) for (const signal of STOP_SIGNALS) process.on(signal, stopAndExit);
  return {
    server,
    addresses: server.addresses,
    stopped,
    stop: () => stop('stop requested'),
    stopAndExit,
    abort: (reason) => {
      void stop(reason).then((code) => process.exit(code));
      abort(reason);
    },
    get isStopping() {
      return stopping !== undefined;
    },
  };
}

// A pool worker: listen on the primary's sockets, report, and drain when the primary says stop.
async function serveWorker(
  app: Application,
  options: ServeFastCgiOptions & { log: (line: string) => void },
  timeoutMs: number,
): Promise<RunningFastCgi> {
  const setup = workerSetup();
  process.umask(setup.umask);
  const pagesApp = withPoolPages(app, {
    statusPath: options.statusPath,
    pingPath: options.pingPath,
    snapshot: () => duties.askStatus(),
  });
  // Requests arrive only once the server listens, after `duties` exists.
  const reporting: Application = (environ, startResponse) => {
    duties.requestStarting();
    return pagesApp(environ, startResponse);
  };
  const server = createFastCgiServer(reporting, { ...options, multiprocess: true });
  let onStop: (abort: boolean) => void = () => {};
  const duties = runWorkerDuties(server, setup, (abort) => onStop(abort));
  try {
    for (const fd of workerFds(setup)) await server.listen({ kind: 'fd', fd, origin: 'inherited' });
  } catch (error) {
    tellPrimary({ tsgi: 'fatal', message: (error as Error).message });
    process.exit(1);
  }
  const running = controlled(server, options.log, timeoutMs, true);
  onStop = (abort) =>
    abort ? running.abort('asked by the primary') : running.stopAndExit('asked by the primary');
  // The primary is gone (killed): do not linger as an orphan holding the sockets. It may have gone while this
  // worker was still loading the app, before this listener existed, so the channel is checked once as well.
  process.on('disconnect', () => running.stopAndExit('primary gone'));
  if (!process.connected) running.stopAndExit('primary gone');
  // An app that calls process.exit() or throws where nothing catches it ends the worker: say what that cost.
  process.on('exit', (code) => {
    if (running.isStopping) return;
    const active = server.activeRequests;
    options.log(
      `tsgi fastcgi: worker ${process.pid} exiting with code ${code}${active > 0 ? ` while serving ${active} request(s)` : ''}`,
    );
  });
  tellPrimary({ tsgi: 'listening' });
  tellPrimary({ tsgi: 'report', report: reportOf(server) });
  return running;
}
