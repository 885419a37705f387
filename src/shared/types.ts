// The tsgi interface: the types an application and a server agree on (SPEC.md is the prose contract).

/**
 * `tsgi.input`: the request body. Async-iterable of byte chunks, plus `read(size)`. It never yields more than
 * CONTENT_LENGTH bytes, and it pulls from the transport only as the application reads (SPEC: "tsgi.input").
 */
export interface Input extends AsyncIterable<Uint8Array> {
  /**
   * Reads up to `size` bytes (everything that is left when `size` is omitted). Resolves to an empty array at
   * end of body. Rejects with a `RequestError` when the body is cut short (client gone, lying CONTENT_LENGTH).
   */
  read(size?: number): Promise<Uint8Array>;
}

/** `tsgi.errors`: where an application writes diagnostics (stderr for CGI, FCGI_STDERR for FastCGI). */
export interface ErrorStream {
  write(text: string | Uint8Array): void;
}

/** One response header: a name and a value, both ISO-8859-1 strings with no CR, LF or NUL. */
export type Header = readonly [name: string, value: string];

/** The legacy imperative body path returned by `startResponse`; resolves when the chunk is flushed. */
export type Write = (chunk: Uint8Array) => Promise<void>;

/**
 * `startResponse(status, headers, excInfo?)`: status is `"NNN Reason"`. A second call is allowed only with
 * `excInfo` (the error being handled); if headers were already sent, that error is re-thrown (PEP 3333).
 */
export type StartResponse = (status: string, headers: readonly Header[], excInfo?: unknown) => Write;

/** What an application returns: bytes only. `close()`, when present, is called exactly once. */
export type Body = (Iterable<Uint8Array> | AsyncIterable<Uint8Array>) & {
  close?(): void | Promise<void>;
};

/** A tsgi application: `(environ, startResponse) => body`. Middleware is an application wrapping one. */
export type Application = (environ: Environ, startResponse: StartResponse) => Body | Promise<Body>;

/** A middleware: takes an application, returns an application. */
export type Middleware = (app: Application) => Application;

/**
 * The environ: RFC 3875 request variables as ISO-8859-1 strings (every byte round-trips) plus `tsgi.*` keys.
 * Request headers appear as `HTTP_*` keys. Unknown keys are `unknown`: read them with `getVar()`.
 */
export interface Environ {
  [key: string]: unknown;
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  QUERY_STRING: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  REMOTE_ADDR?: string;
  REMOTE_PORT?: string;
  REQUEST_URI?: string;
  HTTP_HOST?: string;
  'tsgi.version': readonly [1, 0];
  'tsgi.url_scheme': 'http' | 'https';
  'tsgi.input': Input;
  'tsgi.errors': ErrorStream;
  'tsgi.multithread': boolean;
  'tsgi.multiprocess': boolean;
  'tsgi.run_once': boolean;
  /** True when the input ends at end of body even without CONTENT_LENGTH (FastCGI STDIN, chunked uploads). */
  'tsgi.input_terminated': boolean;
  /** Aborted when the client goes away or the server cancels the request (FCGI_ABORT_REQUEST, timeout). */
  'tsgi.signal': AbortSignal;
}

/**
 * The transport side of one response. The response driver calls `sendHead` once (lazily, before the first
 * non-empty chunk or at the end of an empty body), then `write` per chunk, then `end` exactly once.
 * Promises resolve when the transport has accepted the bytes (back-pressure).
 */
export interface ResponseSink {
  sendHead(status: string, headers: readonly Header[]): void | Promise<void>;
  write(chunk: Uint8Array): void | Promise<void>;
  /** `ok` is false when the response was cut off (error after headers, Content-Length not met, abort). */
  end(ok: boolean): void | Promise<void>;
}

/** What the response driver reports after one request. */
export interface ResponseOutcome {
  /** True when a complete response was sent. */
  ok: boolean;
  /** The status code sent, when a head was sent. */
  status?: number;
  /** Body bytes handed to the sink. */
  bytes: number;
  headersSent: boolean;
  /** The application's error, if one ended the response. */
  error?: unknown;
}
