// What "the client went away" looks like as an error: one list for the driver's neighbours, the error catcher,
// the FastCGI connection and the development server, so that none of them logs a hang-up as a failure.

/**
 * Error codes Node gives an operation on a connection the peer closed or reset (wsgiref ignores BrokenPipeError
 * and ConnectionResetError the same way): EPIPE/ECONNRESET/ECONNABORTED from the socket, the stream codes of a
 * write to a destroyed or prematurely closed stream, and ABORT_ERR of an aborted operation.
 */
export const CLIENT_GONE_CODES: ReadonlySet<string> = new Set([
  'EPIPE',
  'ECONNRESET',
  'ECONNABORTED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'ABORT_ERR',
]);

/** True when `error` only says that the peer went away (a code above, or an AbortError). */
export function isClientGoneError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name } = error as { code?: unknown; name?: unknown };
  return name === 'AbortError' || (typeof code === 'string' && CLIENT_GONE_CODES.has(code));
}
