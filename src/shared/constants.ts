// Protocol constants every part shares: the tsgi version, connection-level header names, bodiless statuses.

/** `tsgi.version`: the interface version this package implements (PEP 3333's `wsgi.version` is `(1, 0)`). */
export const TSGI_VERSION = [1, 0] as const;

/**
 * Connection-level ("hop-by-hop") header names, lower case. PEP 3333 §"Other HTTP Features": an application
 * MUST NOT set them; RFC 9110 §7.6.1 (Connection, TE, Upgrade…) and RFC 9112 (Transfer-Encoding, Keep-Alive);
 * RFC 3875 §6.3 forbids connection-level headers in CGI output. The proxy pair is RFC 2616 §13.5.1's list.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** RFC 9110 §6.4.1: 204 and 304 responses never carry content (1xx neither; see `isBodilessStatus`). */
export const NULL_BODY_STATUSES: ReadonlySet<number> = new Set([204, 304]);

/** True for statuses whose responses have no content (1xx, 204, 304), so a Content-Length is not a promise. */
export function isBodilessStatus(code: number): boolean {
  return code < 200 || NULL_BODY_STATUSES.has(code);
}

/** The response the driver sends when an application fails before its headers went out (SPEC: "Errors"). */
export const INTERNAL_ERROR_STATUS = '500 Internal Server Error';
/** Short and fixed on purpose: diagnostics go to `tsgi.errors`, never to the client (wsgiref `error_output`). */
export const INTERNAL_ERROR_BODY = 'Internal Server Error\n';

/**
 * The page of a request that is the client's fault (RFC 9110 §15.5.1): one the server cannot turn into an
 * environ (every front end, issue 9), or a body cut short (ERR_BODY_TRUNCATED). The reason goes to the log only.
 */
export const BAD_REQUEST_STATUS = '400 Bad Request';
export const BAD_REQUEST_BODY = 'Bad Request\n';
