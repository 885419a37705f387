// A pool worker: listens on the sockets its primary holds, reports (the watchdog's heartbeat), drains on 'stop'.
import type { FastCgiServer } from '../server.js';
import {
  REPORT_INTERVAL_MS,
  WORKER_ENV,
  WORKER_FIRST_FD,
  type PoolSnapshot,
  type ToPrimary,
  type ToWorker,
  type WorkerReport,
  type WorkerSetup,
} from './messages.js';
import { startStackProbe } from './stack-probe.js';

/** True in a process the pool's primary started. */
export function isPoolWorker(): boolean {
  return process.env[WORKER_ENV] !== undefined && typeof process.send === 'function';
}

/** In a worker: what the primary handed it. */
export function workerSetup(): WorkerSetup {
  return JSON.parse(process.env[WORKER_ENV] ?? '{}') as WorkerSetup;
}

/** In a worker: the inherited listening sockets' descriptors (as `fd:N` addresses). */
export function workerFds(setup: WorkerSetup): number[] {
  return setup.fds.map((_, i) => WORKER_FIRST_FD + i);
}

/** In a worker: one message to the primary (dropped if the channel is gone). */
export function tellPrimary(message: ToPrimary): void {
  if (process.connected) process.send?.(message);
}

/** A worker's report of `server` now. */
export function reportOf(server: FastCgiServer): WorkerReport {
  const running = server.runningRequests();
  return {
    accepted: server.acceptedRequests,
    slow: server.slowRequests,
    active: server.activeRequests,
    running: running.slice(0, 4),
  };
}

/**
 * Starts a worker's duties around a listening `server`: the heartbeat report, recycling after `maxRequests`,
 * and the answers to status queries. `onStop(abort)` is how the primary's 'stop' and 'abort' arrive.
 */
export function runWorkerDuties(
  server: FastCgiServer,
  setup: WorkerSetup,
  onStop: (abort: boolean) => void,
): { askStatus(): Promise<PoolSnapshot>; requestStarting(): void } {
  if (setup.probeFd !== undefined) {
    startStackProbe(setup.probeFd, {
      running: () => server.runningRequests(),
      claimSlow: (slowMs) => server.claimSlowRequests(slowMs),
    });
  }
  let recycleAsked = false;
  let reportedAt = 0;
  const heartbeat = setInterval(() => {
    reportedAt = Date.now();
    tellPrimary({ tsgi: 'report', report: reportOf(server) });
    if (!recycleAsked && setup.maxRequests > 0 && server.acceptedRequests >= setup.maxRequests) {
      recycleAsked = true;
      tellPrimary({
        tsgi: 'recycle',
        reason: `${server.acceptedRequests} requests served (--max-requests-per-worker)`,
      });
    }
  }, REPORT_INTERVAL_MS);
  heartbeat.unref();
  const pending = new Map<number, (snapshot: PoolSnapshot) => void>();
  let nextId = 1;
  process.on('message', (message: ToWorker) => {
    if (message.tsgi === 'stop') onStop(false);
    else if (message.tsgi === 'abort') onStop(true);
    else if (message.tsgi === 'status') {
      pending.get(message.id)?.(message.snapshot);
      pending.delete(message.id);
    }
  });
  // A reload signal sent to the whole process group (a terminal) is the primary's to act on, not a reason to die.
  for (const signal of ['SIGHUP', 'SIGUSR2'] as const) process.on(signal, () => {});
  return {
    // A request about to run is reported when the last report is old: if it blocks the event loop, the
    // watchdog's line can then name it. At most ten messages a second, whatever the load.
    requestStarting() {
      const now = Date.now();
      if (now - reportedAt < REPORT_INTERVAL_MS / 10) return;
      reportedAt = now;
      tellPrimary({ tsgi: 'report', report: reportOf(server) });
    },
    askStatus() {
      const id = nextId++;
      return new Promise<PoolSnapshot>((resolve, reject) => {
        pending.set(id, resolve);
        tellPrimary({ tsgi: 'status', id, report: reportOf(server) });
        setTimeout(() => {
          if (pending.delete(id)) reject(new Error('the primary did not answer the status query'));
        }, 2000).unref();
      });
    },
  };
}
