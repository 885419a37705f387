// The primary's watch over each worker's heartbeat: a worker silent past --worker-timeout is killed and
// replaced (issue 10, item 3), and a silent one holding a request past --slow-request gets a slow-log line with
// its JavaScript stack (item 7). Both ask the worker's probe thread what it really holds: the last heartbeat can
// name an earlier request (a quick one served just before the one that blocked).
import { REPORT_INTERVAL_MS } from './messages.js';
import { seconds, type Pool, type PoolWorker } from './pool-worker.js';
import { formatStack, type ProbeAnswer } from './stack-probe.js';
import type { RunningRequest } from '../server.js';

/**
 * A worker silent this long counts as blocked for the slow log. Its heartbeat comes every second; twice that
 * leaves room for a busy machine's late timers, and pausing a worker that was only slow costs it ~50 ms.
 */
export const BLOCKED_AFTER_MS = 2 * REPORT_INTERVAL_MS;

function describeRequests(requests: readonly RunningRequest[], now: number): string {
  return requests.map((r) => `${r.method} ${r.uri} (${seconds(now - r.startedAt)})`).join(', ');
}

function describeStack(answer: ProbeAnswer): string {
  if (answer.stack !== null && answer.stack.length > 0)
    return `JavaScript stack: ${formatStack(answer.stack)}`;
  return `no JavaScript stack: ${answer.note ?? 'the worker was not running JavaScript'}`;
}

// Without the probe's answer, the heartbeat's list is all there is: said as such, since it can be an earlier request.
function lastReported(worker: PoolWorker, now: number): string {
  const last = worker.report.running;
  return last.length > 0 ? `, running at its last report ${describeRequests(last, now)}` : '';
}

/** A worker was heard from: its event loop runs, so a blocked episode (if any) is over. */
export function heard(worker: PoolWorker): void {
  worker.heardAt = Date.now();
  worker.probeAt = 0;
}

/** Checks one listening worker's heartbeat; called every tick. */
export function watchHeartbeat(pool: Pool, worker: PoolWorker, now: number): void {
  if (!worker.listening || worker.killing) return;
  const silent = now - worker.heardAt;
  if (silent > pool.options.watchdogMs) {
    killBlocked(pool, worker, silent);
    return;
  }
  const slowMs = pool.options.slowRequestMs ?? 0;
  if (slowMs > 0 && silent >= BLOCKED_AFTER_MS && now >= worker.probeAt && !worker.probe.busy) {
    worker.probeAt = Infinity;
    void worker.probe.ask(slowMs).then((answer) => logBlockedSlow(pool, worker, answer, slowMs));
  }
}

// The probe counted (and marked) the requests past --slow-request, so the worker will not log them again once
// its loop runs; those not past it yet are asked about again when they will be, if the worker is still silent.
function logBlockedSlow(pool: Pool, worker: PoolWorker, answer: ProbeAnswer, slowMs: number): void {
  const now = Date.now();
  if (answer.running === null) {
    pool.log(
      `tsgi fastcgi: worker ${worker.pid} blocked for ${seconds(now - worker.heardAt)} (--slow-request)` +
        `${lastReported(worker, now)}; ${describeStack(answer)}`,
    );
    return;
  }
  for (const request of answer.slow) {
    pool.log(
      `tsgi fastcgi: slow request: ${request.method} ${request.uri} running for ${seconds(now - request.startedAt)}` +
        ` (pid ${worker.pid}), event loop blocked; ${describeStack(answer)}`,
    );
  }
  const next = answer.running
    .map((r) => r.startedAt + slowMs)
    .filter((due) => due > now)
    .sort((a, b) => a - b)[0];
  // Heard from meanwhile (probeAt reset): the episode is over and the worker logs its own slow requests.
  if (worker.probeAt === Infinity) worker.probeAt = next ?? Infinity;
}

// The line names what the probe found the worker holding; only when the probe cannot answer (a worker stuck in
// native code) does it fall back to the last heartbeat, and says so.
function killBlocked(pool: Pool, worker: PoolWorker, silent: number): void {
  worker.killing = true;
  void worker.probe.ask(-1).then((answer) => {
    const now = Date.now();
    let holding: string;
    if (answer.running !== null) {
      worker.heldWhenKilled = answer.running.length;
      holding = answer.running.length > 0 ? `, running ${describeRequests(answer.running, now)}` : '';
    } else holding = lastReported(worker, now);
    pool.log(
      `tsgi fastcgi: worker ${worker.pid} blocked: its event loop has not answered for ${seconds(silent)}` +
        ` (--worker-timeout)${holding}; ${describeStack(answer)}; killing it`,
    );
    worker.child.kill('SIGKILL');
  });
}
