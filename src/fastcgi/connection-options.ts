// What a FastCGI connection is told by its listener: options, the shared request gate and counters, and the
// FCGI_GET_VALUES answers (spec §4.1) those values make.
import type { FastCgiLimits } from './limits.js';
import {
  FCGI_NULL_REQUEST_ID,
  ManagementVariable,
  RecordType,
  Role,
  decodePairs,
  encodePairs,
  encodeRecord,
} from './protocol.js';
import type { RefusalLog } from './refusals.js';

/** The answers to FCGI_GET_VALUES (§4.1): the listener's real limits, passed in by the server. */
export interface ManagementValues {
  /** `FCGI_MAX_CONNS`: connections the listener accepts at once. */
  maxConns: number;
  /** `FCGI_MAX_REQS`: requests the listener serves at once. */
  maxReqs: number;
}

/** A listener-wide request budget shared by connections; a refused acquire answers FCGI_OVERLOADED. */
export interface RequestGate {
  tryAcquire(): boolean;
  release(): void;
}

/** Counters a listener keeps over all its connections (the status page's "accepted conn", "slow requests"). */
export interface RequestCounters {
  /** Requests whose FCGI_PARAMS completed and that were given to the application. */
  accepted: number;
  /** Requests that ran past `slowRequestMs`. */
  slow: number;
}

/** How one connection behaves. Every field is optional. */
export interface ConnectionOptions {
  /** Overrides of DEFAULT_LIMITS (limits.ts). */
  limits?: Partial<FastCgiLimits>;
  /** Serve concurrent request ids on this connection (default true); off answers FCGI_CANT_MPX_CONN. */
  multiplex?: boolean;
  /** `tsgi.multiprocess` in each environ: other processes serve the same app (`--workers`). */
  multiprocess?: boolean;
  /** Roles served (default all three); any other gets FCGI_UNKNOWN_ROLE. */
  roles?: readonly Role[];
  /** FCGI_GET_VALUES answers. Default: this one connection, `maxRequestsPerConnection` (1 without multiplex). */
  values?: Partial<ManagementValues>;
  /** A listener-wide concurrent request limit (`FCGI_MAX_REQS`); over it answers FCGI_OVERLOADED. */
  gate?: RequestGate;
  /** Receives one line per event worth an operator's attention (default: process.stderr). */
  log?: (line: string) => void;
  /** Requests running longer are answered 504 (or cut off) and their signal aborted (FPM request_terminate_timeout). */
  requestTimeoutMs?: number;
  /** Requests running longer get one slow-log line (FPM request_slowlog_timeout). */
  slowRequestMs?: number;
  /** Listener-wide counters this connection adds to. */
  counters?: RequestCounters;
  /** Where refused requests (FCGI_OVERLOADED) are counted; default: one log line each. */
  refusals?: RefusalLog;
}

/** The roles a connection serves unless told otherwise. */
export const ALL_ROLES: readonly Role[] = [Role.Responder, Role.Authorizer, Role.Filter];

/** The FCGI_GET_VALUES answers of a connection: the listener's values, else this one connection's own. */
export function resolveManagementValues(
  values: Partial<ManagementValues> | undefined,
  multiplex: boolean,
  limits: FastCgiLimits,
): ManagementValues {
  return {
    maxConns: values?.maxConns ?? 1,
    maxReqs: values?.maxReqs ?? (multiplex ? limits.maxRequestsPerConnection : 1),
  };
}

/**
 * The FCGI_GET_VALUES_RESULT record for one FCGI_GET_VALUES content (§4.1): exactly the variables asked that are
 * known, in the order asked; unknown names are left out. Throws ProtocolError on malformed pairs.
 */
export function answerGetValues(content: Uint8Array, values: ManagementValues, multiplex: boolean): Buffer {
  const answers = new Map<string, string>();
  decodePairs(content, (name) => {
    if (name === ManagementVariable.MaxConns) answers.set(name, String(values.maxConns));
    else if (name === ManagementVariable.MaxReqs) answers.set(name, String(values.maxReqs));
    else if (name === ManagementVariable.MpxsConns) answers.set(name, multiplex ? '1' : '0');
  });
  return encodeRecord(RecordType.GetValuesResult, FCGI_NULL_REQUEST_ID, encodePairs(answers));
}
