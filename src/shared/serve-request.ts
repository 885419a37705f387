// One way a request is served (issue 9): a front end's variables, body, error stream and sink go in; the environ,
// the refusal of a request that cannot become one, and the application run are the same for CGI, FastCGI,
// node:http and fetch. Each front end keeps only its transport.
import type { Cancellation } from './cancellation.js';
import { buildEnviron, type EnvironOptions } from './environ.js';
import { Exchange } from './exchange.js';
import { createInput, parseContentLength } from './input.js';
import { runApplication } from './respond.js';
import type { Application, Environ, ErrorStream, ResponseOutcome, ResponseSink } from './types.js';

type Variables = Readonly<Record<string, string | undefined>>;

/** What a front end knows about one request. */
export interface FrontEndRequest {
  /**
   * RFC 3875 meta-variables as ISO-8859-1 strings (one char per byte), or the function that makes them from the
   * transport's request (a failure there is refused with a 500 like any other that is not the client's fault).
   */
  readonly variables: Variables | (() => Variables);
  /**
   * The request body as the transport delivers it, or a function that opens it given the parsed
   * CONTENT_LENGTH (a CGI runner opens stdin only when there is a body). Undefined: no body.
   */
  readonly body?:
    | AsyncIterable<Uint8Array>
    | ((contentLength: number | undefined) => AsyncIterable<Uint8Array> | undefined);
  /** `tsgi.errors`; refusals log their one line here too. */
  readonly errors: ErrorStream;
  /** Where the response goes. */
  readonly sink: ResponseSink;
  /**
   * What the front end knows about itself (`multithread`, `signal`, …). `inputTerminated` also tells the input
   * that the body source ends at the end of the body, so it reads to that end without CONTENT_LENGTH.
   */
  readonly environ?: EnvironOptions;
  /**
   * Environ keys only this front end can make from the variables (FastCGI's `tsgi.fastcgi.data`); called before
   * the environ is built, and a RequestError it throws refuses the request like a bad CONTENT_LENGTH does.
   */
  readonly extra?: (variables: Variables) => Record<string, unknown>;
  /** The request's cancellation, when the front end makes `tsgi.signal` lazily (see `RunOptions.cancellation`). */
  readonly cancellation?: Cancellation;
  /**
   * Called before a refusal's error page: a transport that can no longer trust the request's framing (a body
   * length it cannot read) closes the connection after the page (node:http: no keep-alive).
   */
  readonly onRefused?: (error: unknown) => void;
}

/**
 * Serves one request: builds its input and environ, runs `app` through the response driver, and resolves to the
 * outcome. A request that cannot become an environ (no REQUEST_METHOD, a CONTENT_LENGTH that is no byte count)
 * is refused through the driver's own error page: `400 Bad Request` for a RequestError, `500 Internal Server
 * Error` for anything else, with the same short body on every front end (the reason goes to `tsgi.errors`, never
 * to the client). Never rejects.
 */
export function serveRequest(app: Application, request: FrontEndRequest): Promise<ResponseOutcome> {
  const { errors, cancellation } = request;
  let variables: Variables = {};
  let environ: Environ;
  try {
    variables = typeof request.variables === 'function' ? request.variables() : request.variables;
    const options = request.environ ?? {};
    const contentLength = parseContentLength(variables.CONTENT_LENGTH);
    const body = typeof request.body === 'function' ? request.body(contentLength) : request.body;
    const input = createInput(body, { contentLength, inputTerminated: options.inputTerminated });
    const extra = request.extra?.(variables);
    environ = buildEnviron(
      variables,
      input,
      errors,
      extra === undefined ? options : { ...options, extra: { ...options.extra, ...extra } },
    );
  } catch (error) {
    return refuseRequest(request, variables, error);
  }
  return runApplication(app, environ, request.sink, cancellation === undefined ? {} : { cancellation });
}

/**
 * Answers a request that never reached the application with the driver's error page (see `serveRequest`), so a
 * refusal follows the same rules as any other response: one `sink.end()`, one log line, quiet when aborted.
 */
export function refuseRequest(
  request: FrontEndRequest,
  variables: Variables,
  error: unknown,
): Promise<ResponseOutcome> {
  const signal = request.environ?.signal;
  // Only what the driver reads: the request as far as the log line can name it, and its cancellation.
  const environ = {
    REQUEST_METHOD: variables.REQUEST_METHOD || '-',
    REQUEST_URI: variables.REQUEST_URI ?? variables.PATH_INFO ?? '',
    'tsgi.errors': request.errors,
    'tsgi.signal': typeof signal === 'function' ? undefined : signal,
  } as unknown as Environ;
  try {
    request.onRefused?.(error);
  } catch {
    // The page still goes out; the hook only adjusts the transport.
  }
  const exchange = new Exchange(environ, request.sink, request.cancellation);
  return exchange.fail(error).catch(() => exchange.end(false, error));
}
