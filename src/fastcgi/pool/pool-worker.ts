// What the primary keeps per worker and the pool-wide state its parts share (supervisor, watchdog, recycling,
// reload, status), and how a worker process is started.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { ListenAddress, SocketFileOptions } from '../listen.js';
import { WORKER_ENV, type ToWorker, type WorkerReport, type WorkerSetup } from './messages.js';
import type { ProcessModel } from './process-model.js';
import type { PoolSockets } from './sockets.js';
import { StackProbeClient } from './stack-probe.js';

/** What the primary needs to know. */
export interface PrimaryOptions extends SocketFileOptions {
  addresses: readonly ListenAddress[];
  model: ProcessModel;
  /** How long each worker may take to finish in-flight requests when stopping. */
  shutdownTimeoutMs: number;
  /** A worker whose heartbeat is older than this is killed (its event loop is blocked). */
  watchdogMs: number;
  /** --slow-request: the primary logs a blocked worker's slow requests with its stack; 0: no slow log. */
  slowRequestMs?: number;
  /** Start the stack probe thread in each worker (off: the watchdog knows only the last heartbeat). */
  stackProbe?: boolean;
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

export interface PoolWorker {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly generation: number;
  readonly bornAt: number;
  /** Asks the worker's probe thread for its stack and requests while its event loop is blocked. */
  readonly probe: StackProbeClient;
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
  /** The watchdog is killing it (the probe's answer is awaited, then SIGKILL). */
  killing: boolean;
  /** While blocked, when the slow log asks its probe next (0: at once; reset by every message). */
  probeAt: number;
  /** Requests the probe found it holding when the watchdog killed it (its exit line names the count). */
  heldWhenKilled: number | undefined;
}

/** The pool as its parts see it. `spawn` and `retire` are the supervisor's. */
export interface Pool {
  readonly options: PrimaryOptions;
  readonly workers: Set<PoolWorker>;
  readonly log: (line: string) => void;
  /** The generation of the code being served (a reload makes the next one current once it listens). */
  generation: number;
  readonly stopping: boolean;
  /** Workers of the current generation that are not retiring. */
  current(): PoolWorker[];
  spawn(generation: number, replaces?: PoolWorker): PoolWorker;
  retire(worker: PoolWorker, reason: string): void;
}

const EMPTY_REPORT: WorkerReport = { accepted: 0, slow: 0, active: 0, running: [] };

/** Resident memory of `pid` in bytes (0 where /proc does not tell). */
export function residentBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `code ${code ?? '?'}`;
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** Tells a worker something over IPC; one whose channel is gone is told with SIGTERM. */
export function send(worker: PoolWorker, message: ToWorker): void {
  if (worker.child.connected) worker.child.send(message);
  else worker.child.kill('SIGTERM');
}

/**
 * Forks a worker: this same command line with the setup in its environment, the listening sockets from fd 4
 * and, after them, the stack probe's pipe. The caller wires its messages and exit.
 */
export function forkWorker(
  sockets: PoolSockets,
  umask: number,
  options: PrimaryOptions,
  generation: number,
  replaces: PoolWorker | undefined,
): PoolWorker {
  const jitter = Math.floor(Math.random() * (options.maxRequestsPerWorker / 10 + 1));
  // stdio: 0-2, the IPC channel (3), the sockets, then the probe's pipe.
  const probeIndex = 4 + sockets.fds.length;
  const probe = options.stackProbe !== false;
  const setup: WorkerSetup = {
    fds: sockets.fds,
    umask,
    maxRequests: options.maxRequestsPerWorker > 0 ? options.maxRequestsPerWorker + jitter : 0,
    ...(probe ? { probeFd: probeIndex } : {}),
  };
  const child = fork(process.argv[1] ?? '', process.argv.slice(2), {
    env: { ...process.env, [WORKER_ENV]: JSON.stringify(setup) },
    execArgv: process.execArgv,
    stdio: ['inherit', 'inherit', 'inherit', 'ipc', ...sockets.fds, ...(probe ? ['pipe' as const] : [])],
  });
  const now = Date.now();
  return {
    child,
    pid: child.pid ?? 0,
    generation,
    bornAt: now,
    probe: new StackProbeClient(probe ? (child.stdio[probeIndex] as Socket | undefined) : undefined),
    listening: false,
    retiring: undefined,
    stopSent: false,
    replaces,
    report: EMPTY_REPORT,
    heardAt: now,
    idleSince: now,
    killing: false,
    probeAt: 0,
    heldWhenKilled: undefined,
  };
}
