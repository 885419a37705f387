// The deadlines a FastCGI connection keeps with one coarse timer: the params deadline (issue 10), the idle
// keep-conn limit, the slow log and the request timeout (FPM request_slowlog_timeout / request_terminate_timeout).
import { ProtocolError } from '../shared/errors.js';
import type { RequestCounters } from './connection-options.js';
import { deadlineCheckPeriod, type FastCgiLimits } from './limits.js';
import type { FastCgiRequest } from './request.js';

/** What a connection with no request should do now: nothing, end (idle too long), or fail (no request came). */
export type IdleVerdict = undefined | 'end' | ProtocolError;

/** The deadline rules of one connection; `check*` are called from its watchdog timer. */
export class RequestDeadlines {
  /** How often the watchdog runs: a quarter of the shortest deadline, 5 ms to 1 s. */
  readonly period: number;
  private readonly limits: FastCgiLimits;
  private readonly requestTimeoutMs: number;
  private readonly slowRequestMs: number;
  private readonly counters: RequestCounters;
  private readonly log: (line: string) => void;

  constructor(
    limits: FastCgiLimits,
    requestTimeoutMs: number,
    slowRequestMs: number,
    counters: RequestCounters,
    log: (line: string) => void,
  ) {
    this.limits = limits;
    this.requestTimeoutMs = requestTimeoutMs;
    this.slowRequestMs = slowRequestMs;
    this.counters = counters;
    this.log = log;
    this.period = [requestTimeoutMs, slowRequestMs]
      .filter((ms) => ms > 0)
      .reduce(
        (shortest, ms) => Math.min(shortest, Math.max(5, Math.floor(ms / 4))),
        deadlineCheckPeriod(limits),
      );
  }

  /**
   * A connection without requests since `idleSince`: a fresh one gets the params deadline for its first complete
   * request (bytes that are not a complete request do not move it), a kept-alive one the idle limit.
   */
  checkIdle(now: number, idleSince: number, begunAny: boolean): IdleVerdict {
    const limit = begunAny ? this.limits.idleTimeoutMs : this.limits.paramsTimeoutMs;
    if (now - idleSince < limit) return undefined;
    if (begunAny) return 'end';
    return new ProtocolError(
      'ERR_FCGI_PARAMS_TIMEOUT',
      `tsgi fastcgi: no complete request: FCGI_BEGIN_REQUEST and FCGI_PARAMS not complete after ${limit} ms (paramsTimeoutMs)`,
    );
  }

  /**
   * The active requests: a request whose params are late fails the connection (the error is returned, the rest
   * are not looked at); a running one past `slowRequestMs` gets its slow-log line, past `requestTimeoutMs` its
   * timeout. The first request's params deadline counts from `openedAt` (the accept): bytes before
   * BEGIN_REQUEST cannot push it on.
   */
  checkRequests(
    requests: Iterable<FastCgiRequest>,
    now: number,
    first: FastCgiRequest | undefined,
    openedAt: number,
  ): ProtocolError | undefined {
    for (const request of requests) {
      if (request.awaitingParams) {
        const since = request === first ? openedAt : request.beganAt;
        if (now - since < this.limits.paramsTimeoutMs) continue;
        return new ProtocolError(
          'ERR_FCGI_PARAMS_TIMEOUT',
          `tsgi fastcgi: FCGI_PARAMS of request ${request.id} not complete after ${this.limits.paramsTimeoutMs} ms (paramsTimeoutMs)`,
        );
      }
      if (request.isEnded) continue;
      const running = now - request.beganAt;
      if (this.slowRequestMs > 0 && running >= this.slowRequestMs && !request.slowLogged) {
        request.slowLogged = true;
        this.counters.slow++;
        this.log(
          `tsgi fastcgi: slow request: ${request.describe()} running for ${formatSeconds(running)} (pid ${process.pid})`,
        );
      }
      if (this.requestTimeoutMs > 0 && running >= this.requestTimeoutMs) {
        this.log(
          `tsgi fastcgi: request timeout: ${request.describe()} stopped after ${formatSeconds(running)} (--request-timeout)`,
        );
        request.timeOut(this.requestTimeoutMs);
      }
    }
    return undefined;
  }
}

function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
