// The FastCGI listener's named limits: every buffer and timer a peer can fill has a bound here, with its default.

/**
 * Per-connection limits. Each one names what it triggers when a peer crosses it, so a test can cross it on
 * purpose (golang/go#81548: a FastCGI child without such limits exhausts memory).
 */
export interface FastCgiLimits {
  /** Bytes of one request's FCGI_PARAMS stream; more closes the connection (one log line). */
  readonly maxParamsBytes: number;
  /** Concurrent request ids on one connection; one more is answered with FCGI_OVERLOADED (spec §5.5). */
  readonly maxRequestsPerConnection: number;
  /** Unread FCGI_STDIN (and FCGI_DATA) bytes buffered per request before the socket stops being read. */
  readonly maxStdinBufferBytes: number;
  /**
   * Largest FCGI_STDOUT/FCGI_STDERR record content written. The spec's ceiling is 65535 (a 16-bit length);
   * a multiple of 8 at or under it (65528) needs no padding bytes.
   */
  readonly maxRecordContent: number;
  /** A keep-conn connection with no active request is closed after this many milliseconds without traffic. */
  readonly idleTimeoutMs: number;
  /**
   * Time for a complete request head: from the accept (first request) or FCGI_BEGIN_REQUEST (later ones) to the
   * end of FCGI_PARAMS. Bytes do not reset it; a slower peer (slow-loris, a dribbler) is disconnected.
   */
  readonly paramsTimeoutMs: number;
  /** FCGI_STDERR bytes allowed to wait in the socket's write buffer; diagnostics past it are dropped. */
  readonly maxStderrBacklogBytes: number;
}

/** The defaults: generous for nginx/Apache/lighttpd traffic, small enough that a hostile peer is cheap. */
export const DEFAULT_LIMITS: FastCgiLimits = Object.freeze({
  // nginx's default fastcgi_param set is ~1 KiB; headers are capped at 8-64 KiB by the web servers themselves.
  maxParamsBytes: 256 * 1024,
  maxRequestsPerConnection: 128,
  maxStdinBufferBytes: 256 * 1024,
  maxRecordContent: 65528,
  idleTimeoutMs: 60_000,
  // Web servers send BEGIN_REQUEST and PARAMS in one write; 10 s bounds how long a flood of idle or
  // dribbling connections can hold slots (issue 10).
  paramsTimeoutMs: 10_000,
  maxStderrBacklogBytes: 1024 * 1024,
});

/** The spec's hard ceiling for a record's content length (a 16-bit field, spec §3.3). */
export const MAX_RECORD_CONTENT = 65535;

/** Merges `overrides` onto DEFAULT_LIMITS, rejecting values that would make the listener unsafe or stuck. */
export function resolveLimits(overrides: Partial<FastCgiLimits> = {}): FastCgiLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`tsgi fastcgi: limit ${name} must be a positive number, got ${String(value)}`);
    }
  }
  if (limits.maxRecordContent > MAX_RECORD_CONTENT) {
    throw new RangeError(`tsgi fastcgi: limit maxRecordContent must be at most ${MAX_RECORD_CONTENT}`);
  }
  return Object.freeze(limits);
}

/** How often a connection checks its idle and params deadlines: a quarter of the shorter one, 5 ms to 1 s. */
export function deadlineCheckPeriod(limits: FastCgiLimits): number {
  return Math.max(5, Math.min(1000, Math.floor(Math.min(limits.idleTimeoutMs, limits.paramsTimeoutMs) / 4)));
}
