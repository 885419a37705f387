// serveFastCgi: the process around a listener — where it listens, its workers, the start line, stop signals.
import { defaultAddresses, parseListenAddress, type ListenAddress } from './listen.js';
import {
  createFastCgiServer,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type FastCgiServer,
  type FastCgiServerOptions,
} from './server.js';
import {
  isWorker,
  reportToPrimary,
  restoreWorkerUmask,
  runPrimary,
  workerAddresses,
  type WorkerMessage,
} from './workers.js';
import type { Application } from '../shared/types.js';

/** Options of `serveFastCgi`: the listener's, plus where to listen, workers and stopping. */
export interface ServeFastCgiOptions extends FastCgiServerOptions {
  /**
   * Addresses (`host:port`, `[v6]:port`, `unix:/path`, `/path`, `fd:N`). Default: systemd's sockets
   * (LISTEN_FDS), else fd 0 when it is a listening socket (FCGI_LISTENSOCK_FILENO: lighttpd bin-path,
   * spawn-fcgi, mod_fcgid).
   */
  listen?: readonly (string | ListenAddress)[];
  /** Worker processes on node:cluster sharing the sockets; 0 or undefined serves in this process. */
  workers?: number;
  /** How long a stop signal waits for in-flight requests (default 30 s). */
  shutdownTimeoutMs?: number;
  /**
   * Stop gracefully on SIGTERM, SIGUSR1 (what mod_fcgid and mod_fastcgi send) and SIGINT, then exit the
   * process with 0 (default true). Off: call `stop()` yourself.
   */
  handleSignals?: boolean;
  /** Appended to the start line (e.g. why this run mode was chosen). */
  startNote?: string;
}

/** A started listener (or a cluster primary). */
export interface RunningFastCgi {
  /** The listener in this process; undefined in a cluster primary, which only supervises. */
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

function defaultLog(line: string): void {
  process.stderr.write(line + '\n');
}

/**
 * Serves `app` over FastCGI until stopped: listens on every address, prints one start line (where, how many
 * processes), and on SIGTERM/SIGUSR1/SIGINT stops accepting, lets in-flight requests finish within
 * `shutdownTimeoutMs`, and exits 0. With `workers: N` this process supervises N workers (node:cluster)
 * that share the sockets, replaces a crashed one with back-off, and sets `tsgi.multiprocess`.
 */
export async function serveFastCgi(
  app: Application,
  options: ServeFastCgiOptions = {},
): Promise<RunningFastCgi> {
  const log = options.log ?? defaultLog;
  const timeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  const handleSignals = options.handleSignals ?? true;
  if (isWorker()) return serveWorker(app, { ...options, log }, timeoutMs);

  const given = (options.listen ?? []).map((a) => (typeof a === 'string' ? parseListenAddress(a) : a));
  const addresses = given.length > 0 ? given : defaultAddresses();
  if (addresses.length === 0) throw new NoListenAddressError();
  const workers = options.workers ?? 0;
  const note = options.startNote === undefined ? '' : `; ${options.startNote}`;

  if (workers > 0) {
    let stopPrimary: () => void = () => {};
    const announced: string[] = [];
    const stopped = runPrimary({
      workers,
      addresses,
      socketMode: options.socketMode,
      shutdownTimeoutMs: timeoutMs,
      log,
      onListening: (bound) => {
        announced.push(...bound);
        log(
          `tsgi fastcgi: listening on ${bound.join(', ')} (${workers} worker${workers === 1 ? '' : 's'}, primary pid ${process.pid})${note}`,
        );
      },
      onStopRequest: (stop) => (stopPrimary = stop),
    });
    if (handleSignals) void stopped.then((code) => process.exit(code));
    return {
      server: undefined,
      addresses: announced,
      stopped,
      stop: () => {
        stopPrimary();
        return stopped;
      },
    };
  }

  const server = createFastCgiServer(app, { ...options, log });
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
  log(`tsgi fastcgi: listening on ${server.addresses.join(', ')} (1 process, pid ${process.pid})${note}`);
  return controlled(server, log, timeoutMs, handleSignals);
}

// Wires a listener to the stop signals; the returned `stopped` settles once it has drained.
function controlled(
  server: FastCgiServer,
  log: (line: string) => void,
  timeoutMs: number,
  handleSignals: boolean,
): RunningFastCgi & { stopAndExit(reason: string): void } {
  let stopping: Promise<number> | undefined;
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
  const stopAndExit = (reason: string): void => {
    if (stopping !== undefined && reason.startsWith('SIG')) {
      // A second signal while draining: the operator wants out now.
      log(`tsgi fastcgi: ${reason} again: aborting ${server.activeRequests} request(s)`);
      void server.close(0);
    }
    void stop(reason).then((code) => process.exit(code));
  };
  if (handleSignals) for (const signal of STOP_SIGNALS) process.on(signal, stopAndExit);
  return { server, addresses: server.addresses, stopped, stop: () => stop('stop requested'), stopAndExit };
}

// A cluster worker: listen on the primary's addresses, report, and drain when the primary says stop.
async function serveWorker(
  app: Application,
  options: ServeFastCgiOptions & { log: (line: string) => void },
  timeoutMs: number,
): Promise<RunningFastCgi> {
  restoreWorkerUmask();
  const server = createFastCgiServer(app, { ...options, multiprocess: true });
  try {
    for (const address of workerAddresses()) await server.listen(address, { shared: true });
  } catch (error) {
    reportToPrimary({ tsgi: 'fatal', message: (error as Error).message });
    process.exit(1);
  }
  const running = controlled(server, options.log, timeoutMs, true);
  process.on('message', (message: WorkerMessage) => {
    if (message.tsgi === 'stop') running.stopAndExit('asked by the primary');
  });
  // The primary is gone (killed): do not linger as an orphan holding the sockets.
  process.on('disconnect', () => running.stopAndExit('primary gone'));
  reportToPrimary({ tsgi: 'listening', addresses: [...server.addresses] });
  return running;
}
