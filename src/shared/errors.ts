// The error taxonomy: what went wrong, and whose fault it was (peer, client, application, or misuse).

/** Base of every error tsgi throws; `code` is stable, the message starts with `tsgi:` or `tsgi <part>:`. */
export class TsgiError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad bytes from a FastCGI peer: the connection that sent them is closed, no other is touched. */
export class ProtocolError extends TsgiError {}

/** A request the server cannot turn into an environ (missing REQUEST_METHOD, truncated body): a 400. */
export class RequestError extends TsgiError {}

/** A breach of SPEC.md found by `validate()` or by the response driver; the message says the fix. */
export class ValidationError extends TsgiError {}
