// fromFastCgi: a tsgi application that hands each request to a FastCGI responder (PHP-FPM, another tsgi pool)
// over pooled keep-conn connections, as a web server would (Plack's FCGIDispatcher). The CGI variables come
// from the environ, the body streams out as FCGI_STDIN and the answer streams back, with back-pressure both
// ways; a client that leaves is passed on as FCGI_ABORT_REQUEST (spec §5.4).
import {
  CgiHeadParser,
  gatewayHeaders,
  MAX_CGI_HEAD_BYTES,
  type CgiHead,
  type CgiHeadError,
} from '../shared/cgi-head.js';
import type { Application, Environ, ErrorStream, StartResponse } from '../shared/types.js';
import type { FastCgiAddress, FastCgiCall, StreamSource } from './client.js';
import { FastCgiPool, type FastCgiPoolOptions, type PooledConnection } from './client-pool.js';

/** Variables to add to (or, with `undefined`, remove from) the ones taken from the environ. */
export type FastCgiParams = Readonly<Record<string, string | undefined>>;

/** Options of fromFastCgi. */
export interface FromFastCgiOptions extends FastCgiPoolOptions {
  /**
   * FCGI_PARAMS beyond the environ's CGI variables, e.g. `SCRIPT_FILENAME` (PHP-FPM runs the file it names), or
   * a function that computes them per request. They win over the environ's.
   */
  params?: FastCgiParams | ((environ: Environ) => FastCgiParams);
  /**
   * A body of unknown length (a chunked upload: no CONTENT_LENGTH) is read whole first and sent with its
   * CONTENT_LENGTH, as nginx buffers one, because responders such as PHP read CONTENT_LENGTH bytes; a longer one
   * is refused with 413 (default 8 MiB).
   */
  maxBufferedBodyBytes?: number;
  /** Largest CGI header block accepted from the responder (default 64 KiB); a longer one is a 502. */
  maxHeadBytes?: number;
  /**
   * After a client left: how long the request may take to end after FCGI_ABORT_REQUEST before its connection is
   * closed (default 250 ms). tsgi ends it at once and keeps the connection; PHP-FPM reads no record while a
   * script runs, so there only the close stops the script (its next write fails), as under nginx.
   */
  abortGraceMs?: number;
}

/** The application, with the pool it owns. */
export interface FastCgiApplication extends Application {
  /** Closes the idle connections now and the busy ones as their requests end. */
  close(): Promise<void>;
  /** Connections open to the responder, and how many of them are idle (for health checks and tests). */
  connections(): { open: number; idle: number };
}

// Methods that carry no body unless CONTENT_LENGTH says so: their requests can be retried on a fresh connection.
const BODILESS_METHODS = new Set(['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE']);
// RFC 3875 §4.1 meta-variable names (and HTTP_*): environ keys such as `tsgi.input` are never sent.
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NO_BODY = new Uint8Array(0);

/** The responder failed in a way a web server answers with `status` (502, 503). */
class GatewayError extends Error {
  readonly status: string;
  constructor(status: string, message: string) {
    super(message);
    this.status = status;
  }
}

/** The CGI variables of the request, as a web server would send them (nginx's fastcgi_params in spirit). */
function paramsOf(environ: Environ, extra: FastCgiParams): Record<string, string> {
  const params: Record<string, string> = { GATEWAY_INTERFACE: 'CGI/1.1' };
  for (const [name, value] of Object.entries(environ)) {
    if (typeof value === 'string' && VARIABLE_NAME.test(name)) params[name] = value;
  }
  params.REQUEST_URI ??= `${environ.SCRIPT_NAME}${environ.PATH_INFO}${environ.QUERY_STRING ? `?${environ.QUERY_STRING}` : ''}`;
  if (environ['tsgi.url_scheme'] === 'https') params.HTTPS ??= 'on';
  // httpoxy (CVE-2016-5385): a client's `Proxy:` header must not reach the responder as HTTP_PROXY, where PHP's
  // getenv('HTTP_PROXY') and many HTTP clients would take it for the outbound proxy (nginx's advice is the same:
  // fastcgi_param HTTP_PROXY ""). `params` can still set it on purpose.
  delete params.HTTP_PROXY;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete params[name];
    else params[name] = value;
  }
  return params;
}

/** The whole input, or undefined once it passes `limit` bytes. */
async function readWhole(input: AsyncIterable<Uint8Array>, limit: number): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of input) {
    length += chunk.length;
    if (length > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function hasBody(environ: Environ): boolean {
  const length = environ.CONTENT_LENGTH;
  if (length !== undefined && length !== '') return length !== '0';
  return !BODILESS_METHODS.has(environ.REQUEST_METHOD);
}

/** Reads STDOUT until the blank line that ends the CGI head (RFC 3875 §6.2); the rest is the body's start. */
async function readHead(stdout: AsyncIterator<Uint8Array>, maxHeadBytes: number): Promise<CgiHead> {
  const parser = new CgiHeadParser(maxHeadBytes);
  while (true) {
    const next = await stdout.next();
    if (next.done === true) {
      throw new GatewayError(
        '502 Bad Gateway',
        parser.received === 0 ? 'sent no response' : 'ended inside its header block',
      );
    }
    let head: CgiHead | undefined;
    try {
      head = parser.push(next.value);
    } catch (error) {
      throw new GatewayError('502 Bad Gateway', describeHeadError(error as CgiHeadError, maxHeadBytes));
    }
    // A gateway manages its own connection (RFC 9110 §7.6.1): the responder's hop-by-hop fields stop here.
    if (head !== undefined) return { ...head, headers: gatewayHeaders(head.headers) };
  }
}

function describeHeadError(error: CgiHeadError, maxHeadBytes: number): string {
  if (error.kind === 'too-long') return `sent a header block over ${maxHeadBytes} bytes`;
  if (error.field !== undefined) return `sent an invalid header ${JSON.stringify(error.field.slice(0, 40))}`;
  return `sent a bad header block: ${error.message}`;
}

function log(errors: ErrorStream, name: string, message: string): void {
  errors.write(`tsgi fromFastCgi: ${name} ${message}\n`);
}

function errorPage(startResponse: StartResponse, status: string): Uint8Array[] {
  startResponse(status, [['Content-Type', 'text/plain; charset=utf-8']]);
  return [Buffer.from(`${status.slice(4)}\n`)];
}

/**
 * A tsgi application that forwards every request to the FastCGI responder at `address` (`host:port`,
 * `unix:/path`, a path, or net options) and streams its answer back. Unreachable or broken responders get a 502
 * (503 when it answers FCGI_OVERLOADED) and one line on `tsgi.errors`.
 *
 *   const php = fromFastCgi('127.0.0.1:9000', { params: { SCRIPT_FILENAME: '/srv/app/index.php' } });
 */
export function fromFastCgi(address: FastCgiAddress, options: FromFastCgiOptions = {}): FastCgiApplication {
  const pool = new FastCgiPool(address, options);
  const name = typeof address === 'string' ? address : JSON.stringify(address);
  const maxHeadBytes = options.maxHeadBytes ?? MAX_CGI_HEAD_BYTES;
  const abortGraceMs = options.abortGraceMs ?? 250;
  const maxBufferedBodyBytes = options.maxBufferedBodyBytes ?? 8 * 1024 * 1024;

  const app = async (environ: Environ, startResponse: StartResponse) => {
    const errors = environ['tsgi.errors'];
    const extra = typeof options.params === 'function' ? options.params(environ) : (options.params ?? {});
    const params = paramsOf(environ, extra);
    let stdin: StreamSource = NO_BODY;
    if (hasBody(environ)) {
      const length = environ.CONTENT_LENGTH;
      if (length === undefined || length === '') {
        const whole = await readWhole(environ['tsgi.input'], maxBufferedBodyBytes);
        if (whole === undefined) {
          log(
            errors,
            name,
            `not sent a body of unknown length over ${maxBufferedBodyBytes} bytes (maxBufferedBodyBytes)`,
          );
          return errorPage(startResponse, '413 Content Too Large');
        }
        params.CONTENT_LENGTH = String(whole.length);
        stdin = whole;
      } else stdin = environ['tsgi.input'];
    }
    // Bytes in hand can be sent twice; a streamed body cannot.
    const replayable = stdin instanceof Uint8Array;
    // A request whose body is in hand may go again on a fresh connection when a reused one turns out closed (a
    // responder that recycled its worker between two requests).
    for (let attempt = 0; ; attempt++) {
      let lease: PooledConnection;
      try {
        lease = await pool.acquire(environ['tsgi.signal']);
      } catch (error) {
        if (environ['tsgi.signal'].aborted) return errorPage(startResponse, '502 Bad Gateway');
        log(
          errors,
          name,
          `cannot be reached: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
        return errorPage(startResponse, '502 Bad Gateway');
      }
      const signal = environ['tsgi.signal'];
      const call = lease.client.request({
        params,
        stdin,
        signal,
      });
      void pipeStderr(call, errors);
      const stdout = call.stdout[Symbol.asyncIterator]();
      // A client gone before the head: FCGI_ABORT_REQUEST went out with the signal; a responder that does not
      // end the request within the grace (PHP-FPM) loses the connection, which ends the wait below.
      let abortTimer: NodeJS.Timeout | undefined;
      const onAbort = (): void => void (abortTimer = setTimeout(() => lease.release(false), abortGraceMs));
      signal.addEventListener('abort', onAbort, { once: true });
      let head;
      try {
        head = await readHead(stdout, maxHeadBytes);
      } catch (error) {
        const stale =
          !(error instanceof GatewayError) && lease.reused && replayable && !signal.aborted && attempt < 2;
        // A request that ended with END_REQUEST left its connection in a known state: keep it.
        lease.release(call.isFinished && !lease.client.isClosed);
        if (stale) continue;
        const end = await call.ended.catch(() => undefined);
        if (end !== undefined && end.protocolStatus !== 0) {
          log(errors, name, `refused the request (protocolStatus ${end.protocolStatus})`);
          return errorPage(
            startResponse,
            end.protocolStatus === 2 ? '503 Service Unavailable' : '502 Bad Gateway',
          );
        }
        const reason =
          error instanceof GatewayError ? error.message : 'closed the connection before the header block';
        if (!signal.aborted) log(errors, name, reason);
        return errorPage(startResponse, error instanceof GatewayError ? error.status : '502 Bad Gateway');
      } finally {
        signal.removeEventListener('abort', onAbort);
        clearTimeout(abortTimer);
      }
      startResponse(head.status, head.headers);
      return responseBody(call, stdout, head.rest, lease, abortGraceMs);
    }
  };
  return Object.assign(app, { close: () => pool.close(), connections: () => pool.counts });
}

async function pipeStderr(call: FastCgiCall, errors: ErrorStream): Promise<void> {
  try {
    for await (const chunk of call.stderr) errors.write(chunk);
  } catch {
    // the connection closed: STDOUT's reader reports it
  }
}

/** The rest of STDOUT as the body; the connection goes back to the pool once END_REQUEST has come. */
function responseBody(
  call: FastCgiCall,
  stdout: AsyncIterator<Uint8Array>,
  first: Uint8Array,
  lease: PooledConnection,
  abortGraceMs: number,
): AsyncIterable<Uint8Array> & { close(): void } {
  let finished = false;
  void call.ended.then(
    () => (finished = true),
    () => (finished = true),
  );
  const body = (async function* () {
    if (first.length > 0) yield first;
    while (true) {
      const next = await stdout.next();
      if (next.done === true) break;
      yield next.value;
    }
    await call.ended;
    lease.release(!lease.client.isClosed);
  })();
  let closed = false;
  return {
    [Symbol.asyncIterator]: () => body,
    close() {
      if (closed) return;
      closed = true;
      if (finished) {
        lease.release(!lease.client.isClosed);
        return;
      }
      // Cut short (client gone, error after the head): ask the responder to stop (§5.4), drop what it still
      // sends, and keep the connection only if the request ends within the grace period.
      call.abort();
      const timer = setTimeout(() => lease.release(false), abortGraceMs);
      timer.unref();
      void (async () => {
        try {
          while ((await stdout.next()).done !== true);
          await call.ended;
          clearTimeout(timer);
          lease.release(!lease.client.isClosed);
        } catch {
          clearTimeout(timer);
          lease.release(false);
        }
      })();
    },
  };
}
