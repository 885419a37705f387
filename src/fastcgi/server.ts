// The FastCGI listener: accepts on any number of sockets, keeps the listener-wide limits, stops gracefully.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Application } from '../shared/types.js';
import { FastCgiConnection } from './connection.js';
import type { RequestCounters, RequestGate } from './connection-options.js';
import type { FastCgiLimits } from './limits.js';
import {
  formatListenAddress,
  listenOn,
  parseListenAddress,
  type ListenAddress,
  type SocketFileOptions,
} from './listen.js';
import { RefusalLog } from './refusals.js';
import type { FastCgiRequest } from './request.js';
import { parseWebServerAddrs, type PeerFilter } from './web-server-addrs.js';
import { logToStderr } from '../shared/default-log.js';

/**
 * Listener-wide defaults: FCGI_MAX_CONNS and FCGI_MAX_REQS as answered to FCGI_GET_VALUES. Connections are
 * cheap while idle (a few KiB each) and every one has a deadline, so the cap sits above a 2,000-connection
 * flood from one peer (issue 10): such a flood then refuses nobody, and is closed at the params deadline.
 */
export const DEFAULT_MAX_CONNECTIONS = 4096;
export const DEFAULT_MAX_REQUESTS = 1024;
/** How long a graceful stop waits for in-flight requests before aborting them. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/** How the listener behaves; every field is optional. */
export interface FastCgiServerOptions extends SocketFileOptions {
  /** Per-connection limits (params bytes, requests per connection, idle keep-conn time, …), see limits.ts. */
  limits?: Partial<FastCgiLimits>;
  /** Connections open at once (FCGI_MAX_CONNS); one more is closed at accept with a log line. */
  maxConnections?: number;
  /** Requests in flight at once over all connections (FCGI_MAX_REQS); one more gets FCGI_OVERLOADED. */
  maxRequests?: number;
  /** Serve several requests at once on one connection (FCGI_MPXS_CONNS; default true). */
  multiplex?: boolean;
  /** `tsgi.multiprocess` in the environ (set by `--workers`). */
  multiprocess?: boolean;
  /**
   * Who may connect over TCP, as FCGI_WEB_SERVER_ADDRS (§3.2): comma-separated IPv4/IPv6 addresses or
   * subnets. Default: the FCGI_WEB_SERVER_ADDRS environment variable; unset means anyone.
   */
  webServerAddrs?: string;
  /** Listen backlog (default 511). */
  backlog?: number;
  /** One line per event an operator should see (default: stderr). */
  log?: (line: string) => void;
  /** A request running longer gets a 504 (or is cut off) and its signal aborts; 0 or undefined: no limit. */
  requestTimeoutMs?: number;
  /** A request running longer gets one slow-log line; 0 or undefined: off. */
  slowRequestMs?: number;
}

/** One request in flight, as the status page shows it. */
export interface RunningRequest {
  method: string;
  uri: string;
  /** `Date.now()` at FCGI_BEGIN_REQUEST. */
  startedAt: number;
  contentLength: number;
}

/** What a graceful stop did. */
export interface StopResult {
  /** True when every in-flight request finished before the timeout. */
  drained: boolean;
  /** Requests aborted because the timeout passed. */
  aborted: number;
}

// A counter shared by every connection of this listener (FCGI_MAX_REQS is per application, not per connection).
function createGate(limit: number): RequestGate & { readonly inFlight: number } {
  let inFlight = 0;
  return {
    get inFlight() {
      return inFlight;
    },
    tryAcquire() {
      if (inFlight >= limit) return false;
      inFlight++;
      return true;
    },
    release() {
      inFlight--;
    },
  };
}

/**
 * A FastCGI listener serving `app`: call `listen()` once per address, `close()` to stop. Each accepted
 * socket becomes a FastCgiConnection; a connection's bad bytes close that connection only.
 */
export class FastCgiServer {
  readonly app: Application;
  private readonly options: FastCgiServerOptions;
  private readonly servers: Server[] = [];
  private readonly bound: string[] = [];
  private readonly connections = new Set<FastCgiConnection>();
  private readonly peers: PeerFilter | undefined;
  private readonly gate: ReturnType<typeof createGate>;
  private readonly maxConnections: number;
  private readonly logLine: (line: string) => void;
  private readonly refusals: RefusalLog;
  private readonly counters: RequestCounters = { accepted: 0, slow: 0 };
  private stopping: Promise<StopResult> | undefined;
  private abortNow: (() => void) | undefined;

  constructor(app: Application, options: FastCgiServerOptions = {}) {
    this.app = app;
    this.options = options;
    this.logLine = options.log ?? logToStderr;
    this.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.gate = createGate(options.maxRequests ?? DEFAULT_MAX_REQUESTS);
    this.peers = parseWebServerAddrs(options.webServerAddrs ?? process.env.FCGI_WEB_SERVER_ADDRS);
    this.refusals = new RefusalLog(this.logLine);
  }

  /** Requests given to the application so far (the status page's "accepted conn"). */
  get acceptedRequests(): number {
    return this.counters.accepted;
  }

  /** Requests that ran past `slowRequestMs`. */
  get slowRequests(): number {
    return this.counters.slow;
  }

  /** The requests running now, oldest first. */
  runningRequests(): RunningRequest[] {
    return this.running(() => true);
  }

  /**
   * Counts the requests running for at least `slowMs` and not slow-logged yet as slow, marks them logged and
   * returns them: a pool's primary logs those of a worker whose event loop is blocked, with its stack (issue 10),
   * and the listener must not log them a second time once the loop runs again. A negative `slowMs` claims none.
   */
  claimSlowRequests(slowMs: number): RunningRequest[] {
    if (slowMs < 0) return [];
    const now = Date.now();
    return this.running((request) => {
      if (request.slowLogged || now - request.beganAt < slowMs) return false;
      request.slowLogged = true;
      this.counters.slow++;
      return true;
    });
  }

  private running(take: (request: FastCgiRequest) => boolean): RunningRequest[] {
    const running: RunningRequest[] = [];
    for (const connection of this.connections) {
      for (const request of connection.requests() as Iterable<FastCgiRequest>) {
        if (request.vars === undefined || request.isEnded || !take(request)) continue;
        const [method, uri] = request.describe().split(' ', 2);
        running.push({
          method: method ?? '-',
          uri: uri ?? '',
          startedAt: request.beganAt,
          contentLength: Number(request.vars.CONTENT_LENGTH) || 0,
        });
      }
    }
    return running.sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Where the listener listens, as `formatListenAddress` writes it (TCP port 0 resolved to the real port). */
  get addresses(): readonly string[] {
    return this.bound;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Requests in flight over all connections. */
  get activeRequests(): number {
    let total = 0;
    for (const connection of this.connections) total += connection.activeRequests;
    return total;
  }

  /** FCGI_WEB_SERVER_ADDRS in force, or undefined when anyone may connect. */
  get webServerAddrs(): string | undefined {
    return this.peers?.description;
  }

  /**
   * Starts listening on `address` (a string as `parseListenAddress` reads it, or a parsed one) and resolves
   * with the address as bound. `shared` is for cluster workers (the primary prepared the socket file).
   */
  async listen(address: string | ListenAddress, options: { shared?: boolean } = {}): Promise<ListenAddress> {
    if (this.stopping !== undefined) throw new Error('tsgi fastcgi: the listener is stopping');
    const target = typeof address === 'string' ? parseListenAddress(address) : address;
    const server = createServer({ noDelay: true }, this.accept);
    await listenOn(server, target, { ...this.options, shared: options.shared });
    // After listening, an error (EMFILE at accept, …) is logged; the listener keeps going.
    server.on('error', (error) => this.logLine(`tsgi fastcgi: listener error: ${error.message}`));
    this.servers.push(server);
    const info = server.address();
    const actual: ListenAddress =
      target.kind === 'tcp' && info !== null && typeof info === 'object'
        ? { kind: 'tcp', host: target.host, port: (info as AddressInfo).port }
        : target;
    this.bound.push(formatListenAddress(actual));
    return actual;
  }

  /**
   * Graceful stop: stop accepting, let in-flight requests finish (keep-conn connections close when idle),
   * and after `timeoutMs` abort what is left. Resolves when every connection is closed. Called again while
   * stopping with a timeout of 0 (a second stop signal), it aborts what is left at once.
   */
  close(timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<StopResult> {
    if (this.stopping !== undefined) {
      if (timeoutMs === 0) this.abortNow?.();
      return this.stopping;
    }
    this.stopping = this.drain(timeoutMs);
    return this.stopping;
  }

  private async drain(timeoutMs: number): Promise<StopResult> {
    // close() stops accepting now; its callback would wait for every connection, so it is not awaited.
    for (const server of this.servers) server.close();
    for (const connection of this.connections) connection.closeWhenIdle();
    const allClosed = async (): Promise<void> => {
      const open = [...this.connections].filter((connection) => !connection.isClosed);
      await Promise.all(
        open.map((connection) => new Promise<void>((resolve) => connection.once('close', () => resolve()))),
      );
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let early = false;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
      this.abortNow = () => {
        early = true;
        resolve('timeout');
      };
    });
    const outcome = await Promise.race([allClosed(), timedOut]);
    clearTimeout(timer);
    if (outcome !== 'timeout') return { drained: true, aborted: 0 };
    const aborted = this.activeRequests;
    if (!early && timeoutMs > 0)
      this.logLine(`tsgi fastcgi: ${aborted} request(s) still running after ${timeoutMs} ms; aborting them`);
    for (const connection of this.connections) connection.shutdown('server shutting down');
    await allClosed();
    return { drained: false, aborted };
  }

  private readonly accept = (socket: Socket): void => {
    // Unix sockets have no remote address: FCGI_WEB_SERVER_ADDRS concerns TCP peers only (§3.2).
    if (
      this.peers !== undefined &&
      socket.remoteFamily !== undefined &&
      !this.peers.allows(socket.remoteAddress)
    ) {
      this.refusals.refuse(
        `a connection from ${socket.remoteAddress}`,
        `not in FCGI_WEB_SERVER_ADDRS=${this.peers.description}`,
      );
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      this.refusals.refuse('a connection', `${this.maxConnections} already open (--max-connections)`);
      socket.destroy();
      return;
    }
    if (this.stopping !== undefined) {
      socket.destroy();
      return;
    }
    const connection = new FastCgiConnection(socket, this.app, {
      limits: this.options.limits,
      multiplex: this.options.multiplex,
      multiprocess: this.options.multiprocess,
      gate: this.gate,
      counters: this.counters,
      refusals: this.refusals,
      requestTimeoutMs: this.options.requestTimeoutMs,
      slowRequestMs: this.options.slowRequestMs,
      values: { maxConns: this.maxConnections, maxReqs: this.options.maxRequests ?? DEFAULT_MAX_REQUESTS },
      log: this.logLine,
    });
    this.connections.add(connection);
    connection.once('close', () => this.connections.delete(connection));
  };
}

/** Creates a listener for `app`; call `listen(address)` on it. */
export function createFastCgiServer(app: Application, options?: FastCgiServerOptions): FastCgiServer {
  return new FastCgiServer(app, options);
}
