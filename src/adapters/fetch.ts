// tsgi/adapters/fetch: fetch-style handlers (Hono, itty-router…) as tsgi apps: environ → Request, Response → body.
import { HOP_BY_HOP_HEADERS } from '../shared/constants.js';
import { requestOrigin } from '../shared/environ.js';
import { isToken } from '../shared/headers.js';
import { parseContentLength } from '../shared/input.js';
import { rawHeadersOf, requestTarget } from '../shared/request-target.js';
import { isThenable } from '../shared/thenable.js';
import type { Application, Body, Environ, Header, Input, StartResponse } from '../shared/types.js';
import { installLightGlobals, lightGlobals, type LightGlobals } from './_fetch/globals.js';
import { headersOf } from './_fetch/header-pairs.js';
import type { ResponseParts } from './_fetch/light-response.js';

/**
 * A fetch handler: `(request) => response`. It also receives the environ (Hono makes it `c.env`), so the app
 * can reach `tsgi.errors` or a variable only the front end knows.
 */
export type FetchHandler = (request: Request, environ: Environ) => Response | Promise<Response>;

/** Options of {@link fromFetchHandler}. */
export interface FetchHandlerOptions {
  /**
   * Install lightweight `Request`, `Response` and `fetch` globals (once per process, when the first fetch app is
   * wrapped) and hand the handler a lightweight Request. Default true. A `Response` made with a string or bytes
   * body then reaches the front end without a ReadableStream, and a Request costs no platform object until
   * its body or another member needs one: on Node 20 this is most of a Hono request's cost (issue 13). Every
   * member behaves as the platform's (`instanceof`, `clone()`, `text()`, `new Request(request)`,
   * `fetch(request)`, `Response.json()`…). Turn it off for a process whose code keeps the platform `fetch` or
   * `Request` captured before the app was wrapped and hands it the request: those refuse a lightweight one.
   */
  lightweightGlobals?: boolean;
}

// Reason phrases for statuses a Response may carry without one (statusText is optional in fetch).
const REASONS: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

// Methods whose Request may not carry a body (Fetch standard, "new Request" step 34).
const BODYLESS_METHODS = new Set(['GET', 'HEAD']);

/** tsgi.input as a ReadableStream that pulls one chunk per read, so a large upload never piles up. */
function inputStream(input: Input, onError?: (error: unknown) => void): ReadableStream<Uint8Array> {
  const chunks = input[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let step: IteratorResult<Uint8Array>;
        try {
          step = await chunks.next();
        } catch (error) {
          onError?.(error);
          throw error;
        }
        if (step.done) controller.close();
        else controller.enqueue(step.value);
      },
      async cancel() {
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The environ as a fetch `Request`: method, an absolute URL (scheme and host as PEP 3333 reconstructs them, path
 * and query below SCRIPT_NAME, the way Hono's `app.mount()` hands a request to a mounted handler), the request
 * headers, the body streamed from `tsgi.input`, and `tsgi.signal` as the request's signal.
 * Throws a TypeError when the environ cannot make a valid URL or header (a Host with spaces).
 */
export function environToRequest(environ: Environ, onInputError?: (error: unknown) => void): Request {
  // Not a copy of the environ with the path emptied: copying reads every key, tsgi.signal's lazy getter too.
  const url = requestOrigin(environ) + requestTarget(environ).below;
  const raw = rawHeadersOf(environ);
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const method = environ.REQUEST_METHOD;
  const length = parseContentLength(environ.CONTENT_LENGTH);
  const hasBody =
    !BODYLESS_METHODS.has(method.toUpperCase()) &&
    (length === undefined ? environ['tsgi.input_terminated'] : length > 0);
  const init: RequestInit & { duplex?: 'half' } = { method, headers };
  if (hasBody) {
    init.body = inputStream(environ['tsgi.input'], onInputError);
    // A streamed request body must say so (Fetch standard; Node's undici throws without it).
    init.duplex = 'half';
  }
  const request = new Request(url, init);
  // `request.signal` is tsgi.signal itself. Passed as `init.signal`, undici would tie a new AbortController to
  // it, which costs about 0.6 ms per Request on Node 20 (measured; 10× a whole Hono request). Handlers read the
  // getter, so an own getter with the same signal behaves the same for them; a getter, because a front end
  // creates tsgi.signal only when it is read (most handlers never read it).
  Object.defineProperty(request, 'signal', { get: () => environ['tsgi.signal'], enumerable: true });
  return request;
}

// Methods Fetch writes upper-case whatever their case ("normalize a method"), and those it refuses.
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** The method as `new Request` makes it, or a TypeError where `new Request` throws one. */
function fetchMethod(method: string): string {
  if (method === 'GET' || method === 'POST' || method === 'HEAD') return method;
  const upper = method.toUpperCase();
  if (!isToken(method)) throw new TypeError(`'${method}' is not a valid HTTP method.`);
  if (FORBIDDEN_METHODS.has(upper)) throw new TypeError(`'${method}' HTTP method is unsupported.`);
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/**
 * The environ as a lightweight Request (./_fetch/light-request.ts): the same method, URL, headers, body and
 * signal {@link environToRequest} gives, refused with the same TypeErrors (a bad URL, URL credentials, a
 * forbidden method), and no platform object until a member needs one.
 */
function environToLightRequest(
  environ: Environ,
  kit: LightGlobals,
  onInputError: (error: unknown) => void,
): Request {
  const target = requestOrigin(environ) + requestTarget(environ).below;
  let url: URL;
  try {
    url = new URL(target);
  } catch (error) {
    throw new TypeError(`Failed to parse URL from ${target}`, { cause: error });
  }
  if (url.username || url.password) {
    throw new TypeError(`Request cannot be constructed from a URL that includes credentials: ${target}`);
  }
  const method = fetchMethod(environ.REQUEST_METHOD);
  const length = parseContentLength(environ.CONTENT_LENGTH);
  const hasBody =
    !BODYLESS_METHODS.has(method.toUpperCase()) &&
    (length === undefined ? environ['tsgi.input_terminated'] : length > 0);
  return kit.request.create({
    method,
    url: url.href,
    // Read from the environ when first needed: rawHeadersOf walks every key (~1 µs on Node 20).
    headers: () => rawHeadersOf(environ),
    signal: () => environ['tsgi.signal'],
    body: hasBody ? () => inputStream(environ['tsgi.input'], onInputError) : null,
  });
}

/** The response head as tsgi wants it: `"NNN Reason"` and `[name, value]` pairs, Set-Cookie kept apart. */
export function responseHead(response: Response): { status: string; headers: Header[] } {
  const reason = response.statusText || REASONS[response.status] || 'Unknown';
  return { status: `${response.status} ${reason}`, headers: headerList(response.headers) };
}

function headerList(source: Headers): Header[] {
  const headers: Header[] = [];
  source.forEach((value, name) => {
    // Connection-level headers are the front end's business (PEP 3333); Set-Cookie comes apart just below.
    if (name !== 'set-cookie' && !HOP_BY_HOP_HEADERS.has(name)) headers.push([name, value]);
  });
  // Headers joins repeated fields with ", ", which would merge two cookies into one (RFC 6265 §3).
  for (const cookie of source.getSetCookie()) headers.push(['set-cookie', cookie]);
  return headers;
}

/**
 * The head and body of a lightweight Response whose body is bytes already: no stream to read. The length is
 * known, so the head says it (as @hono/node-server and node:http do for a whole body), and the web server in
 * front need not chunk the response; not for HEAD, whose body the handler may have left out.
 */
function writeParts(parts: ResponseParts, method: string, startResponse: StartResponse): Body {
  const reason = parts.statusText || REASONS[parts.status] || 'Unknown';
  const flat = parts.headers.flat;
  let headers: Header[];
  // Pairs whose names repeat would be joined by a Headers object; headerList does that.
  if (parts.headers.repeats) headers = headerList(headersOf(flat));
  else {
    headers = [];
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!;
      if (!HOP_BY_HOP_HEADERS.has(name)) headers.push([name, flat[i + 1]!]);
    }
  }
  const body = parts.body;
  if (body !== null && method !== 'HEAD' && !headers.some(([name]) => name === 'content-length'))
    headers.push(['content-length', String(body.byteLength)]);
  startResponse(`${parts.status} ${reason}`, headers);
  return body === null || body.byteLength === 0 ? [] : [body];
}

/** A Response body as a tsgi body: chunks as the stream gives them; close() cancels a stream left unread. */
function streamBody(stream: ReadableStream<Uint8Array> | null): Body {
  if (stream === null) return [];
  const reader = stream.getReader();
  let finished = false;
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Uint8Array>> {
        const step = await reader.read();
        if (step.done) finished = true;
        return step.done ? { done: true, value: undefined } : { done: false, value: step.value };
      },
    }),
    async close() {
      if (!finished) await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    },
  };
}

const BAD_REQUEST = new TextEncoder().encode('Bad Request\n');

/**
 * Turns a fetch handler into a tsgi application: `fromFetchHandler(app.fetch)` for Hono. The handler gets the
 * Request {@link environToRequest} describes (lightweight unless `lightweightGlobals: false`, see
 * {@link FetchHandlerOptions}); the `Response`'s status, headers (each Set-Cookie its own header) and body go
 * back through `startResponse` and the body: a string or bytes body of a lightweight Response as one chunk with
 * its Content-Length, a stream read only as fast as the front end writes. An environ that cannot become a
 * Request (a malformed Host, a method fetch refuses) gets a 400 and one line on `tsgi.errors`.
 *
 * @example
 * const app = new Hono().get('/hello/:name', (c) => c.text(`hello ${c.req.param('name')}`));
 * export default fromFetchHandler(app.fetch);
 */
export function fromFetchHandler(handler: FetchHandler, options: FetchHandlerOptions = {}): Application {
  if (typeof handler !== 'function') {
    throw new TypeError(
      'tsgi fromFetchHandler: expected a (request) => Response function, e.g. honoApp.fetch',
    );
  }
  const kit = options.lightweightGlobals === false ? undefined : installLightGlobals();
  // Not an async function: a handler that answers at once (Hono does for a synchronous route) gets its body
  // back to the response driver without a promise hop, as a plain tsgi app does.
  return (environ: Environ, startResponse: StartResponse): Body | Promise<Body> => {
    // A refusal of the body by a middleware below the server (limitBody's 413: an error with a 4xx `status`)
    // that the handler turned into its own 500 (Hono answers any unknown error so) goes back up as that
    // error, so the refusing middleware can answer with its status.
    let refusal: { error: unknown } | undefined;
    const onInputError = (error: unknown): void => {
      const status = (error as { status?: unknown } | null)?.status;
      if (typeof status === 'number' && status >= 400 && status < 500) refusal = { error };
    };
    let request: Request;
    try {
      request =
        kit === undefined
          ? environToRequest(environ, onInputError)
          : environToLightRequest(environ, kit, onInputError);
    } catch (error) {
      environ['tsgi.errors'].write(
        `tsgi adapters/fetch: 400 for an environ that is not a valid Request: ${String(error)}\n`,
      );
      startResponse('400 Bad Request', [
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['Content-Length', String(BAD_REQUEST.byteLength)],
      ]);
      return [BAD_REQUEST];
    }
    const answer = (response: Response): Body | Promise<Body> => {
      if (refusal !== undefined && response.status >= 500) {
        const { error } = refusal;
        return (response.body?.cancel() ?? Promise.resolve()).then(
          () => Promise.reject(error),
          () => Promise.reject(error),
        );
      }
      // Installed by this adapter or another: a Response of the lightweight global class may come either way.
      const parts = (kit ?? lightGlobals())?.response.partsOf(response);
      if (parts !== undefined) return writeParts(parts, environ.REQUEST_METHOD, startResponse);
      const head = responseHead(response);
      startResponse(head.status, head.headers);
      return streamBody(response.body);
    };
    const fail = (error: unknown): never => {
      throw refusal?.error ?? error;
    };
    let result: Response | PromiseLike<Response>;
    try {
      result = handler(request, environ);
    } catch (error) {
      return fail(error);
    }
    return isThenable(result) ? Promise.resolve(result).then(answer, fail) : answer(result);
  };
}
