// What the pool's primary and its workers tell each other (over the IPC channel of child_process.fork).
import type { RunningRequest } from '../server.js';

/** Environment variable carrying a worker's setup (JSON): its presence makes a process a pool worker. */
export const WORKER_ENV = 'TSGI_FASTCGI_WORKER';

/** The first descriptor of the listening sockets in a worker (0-2 are stdio, 3 the IPC channel). */
export const WORKER_FIRST_FD = 4;

/** How often a worker reports (its heartbeat: the primary's watchdog counts from the last one). */
export const REPORT_INTERVAL_MS = 1000;

/** What the primary hands a worker it starts. */
export interface WorkerSetup {
  /** The listening sockets, one descriptor per address, from WORKER_FIRST_FD on. */
  readonly fds: readonly number[];
  /** The umask the primary had before it tightened its own to bind unix sockets. */
  readonly umask: number;
  /** Recycle after this many requests (jitter already added); 0: never. */
  readonly maxRequests: number;
  /** The pipe the primary asks the stack probe on (after the listening sockets); absent: no probe. */
  readonly probeFd?: number;
}

/** A worker's counters and what it is doing, sent every REPORT_INTERVAL_MS. */
export interface WorkerReport {
  /** Requests given to the application since the worker started. */
  readonly accepted: number;
  /** Requests that ran past --slow-request. */
  readonly slow: number;
  /** Requests in flight. */
  readonly active: number;
  /** The requests running now, oldest first (at most a few: the status page shows the oldest). */
  readonly running: readonly RunningRequest[];
}

/** Worker to primary. */
export type ToPrimary =
  | { readonly tsgi: 'listening' }
  /** The worker cannot listen: no restart will do better. */
  | { readonly tsgi: 'fatal'; readonly message: string }
  /** APP failed to load (syntax error, throws at import): one line. */
  | { readonly tsgi: 'load-failed'; readonly message: string }
  | { readonly tsgi: 'report'; readonly report: WorkerReport }
  /** The worker reached --max-requests-per-worker: start its replacement, then stop it. */
  | { readonly tsgi: 'recycle'; readonly reason: string }
  /** The status page wants the pool's state; `id` pairs the answer. */
  | { readonly tsgi: 'status'; readonly id: number; readonly report: WorkerReport };

/** Primary to worker. */
export type ToWorker =
  /** Stop accepting, finish what is in flight (up to --shutdown-timeout), exit. */
  | { readonly tsgi: 'stop' }
  /** A second stop signal: abort what is left now. */
  | { readonly tsgi: 'abort' }
  | { readonly tsgi: 'status'; readonly id: number; readonly snapshot: PoolSnapshot };

/** One process of the pool, as the status page's `?full` lists it (FPM's per-process fields). */
export interface ProcessSnapshot {
  readonly pid: number;
  readonly state: 'Idle' | 'Running' | 'Starting' | 'Finishing';
  /** Unix seconds. */
  readonly startTime: number;
  readonly requests: number;
  /** Microseconds the current (oldest running) request has run; 0 when idle. */
  readonly requestDuration: number;
  readonly requestMethod: string;
  readonly requestUri: string;
  readonly contentLength: number;
  /** Resident memory in bytes (0 where /proc does not tell). */
  readonly memory: number;
}

/** The pool as the status page shows it (FPM's pool fields). */
export interface PoolSnapshot {
  readonly pool: string;
  readonly processManager: 'static' | 'dynamic' | 'ondemand' | 'single';
  /** Unix seconds. */
  readonly startTime: number;
  /** Requests accepted since the pool started, worker restarts included. */
  readonly acceptedConn: number;
  readonly listenQueue: number;
  readonly maxListenQueue: number;
  readonly listenQueueLen: number;
  readonly idleProcesses: number;
  readonly activeProcesses: number;
  readonly totalProcesses: number;
  readonly maxActiveProcesses: number;
  readonly maxChildrenReached: number;
  readonly slowRequests: number;
  readonly processes: readonly ProcessSnapshot[];
}
