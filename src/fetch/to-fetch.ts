// toFetchHandler: a tsgi application as a fetch handler (Deno.serve, Bun.serve, @hono/node-server, workers).
import { unquoteToLatin1 } from '../shared/encoding.js';
import type { EnvironOptions } from '../shared/environ.js';
import { serveRequest } from '../shared/serve-request.js';
import { anySignal } from '../shared/signals.js';
import type { Application, ErrorStream, Header, ResponseSink } from '../shared/types.js';
import { plainAddress } from '../shared/peer-address.js';
import { addHeaderVariable } from '../shared/header-vars.js';

/**
 * The second argument fetch servers pass, where the client's address is found: Deno.serve's `info.remoteAddr`,
 * or @hono/node-server's `env.incoming.socket`. Anything else is ignored.
 */
export interface FetchConnInfo {
  remoteAddr?: { hostname?: string; port?: number };
  incoming?: { socket?: { remoteAddress?: string; remotePort?: number } };
}

/** The client's address and port from a fetch server's second argument, when it carries them. */
function remoteOf(info: unknown): { address?: string; port?: number } {
  if (typeof info !== 'object' || info === null) return {};
  const { remoteAddr, incoming } = info as FetchConnInfo;
  if (remoteAddr !== undefined) return { address: remoteAddr.hostname, port: remoteAddr.port };
  const socket = incoming?.socket;
  return { address: plainAddress(socket?.remoteAddress), port: socket?.remotePort };
}

/** Options of {@link toFetchHandler}. */
export interface ToFetchHandlerOptions {
  /** `tsgi.errors` (default: `console.error`, which every fetch runtime has). */
  errors?: ErrorStream;
  /** Where the app is mounted: this prefix of the URL path becomes SCRIPT_NAME (default ""). */
  scriptName?: string;
  /** Passed to buildEnviron: the `tsgi.multithread` / `tsgi.multiprocess` flags and extra environ keys. */
  environ?: Pick<EnvironOptions, 'multithread' | 'multiprocess' | 'extra' | 'onStep'>;
}

const CONSOLE: ErrorStream = {
  write: (text) =>
    console.error(String(typeof text === 'string' ? text : new TextDecoder().decode(text)).trimEnd()),
};

/** The RFC 3875 variables of a fetch Request: what a CGI server would set for it. */
function requestVars(
  request: Request,
  scriptName: string,
  info: unknown,
): Record<string, string | undefined> {
  const url = new URL(request.url);
  const path = unquoteToLatin1(url.pathname);
  const mounted = scriptName !== '' && (path === scriptName || path.startsWith(scriptName + '/'));
  const https = url.protocol === 'https:';
  const remote = remoteOf(info);
  const vars: Record<string, string | undefined> = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: mounted ? scriptName : '',
    PATH_INFO: mounted ? path.slice(scriptName.length) : path,
    QUERY_STRING: url.search.slice(1),
    REQUEST_URI: url.pathname + url.search,
    SERVER_NAME: url.hostname,
    SERVER_PORT: url.port || (https ? '443' : '80'),
    // A fetch Request does not say which HTTP version carried it.
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: remote.address,
    REMOTE_PORT: remote.port === undefined ? undefined : String(remote.port),
    HTTPS: https ? 'on' : undefined,
  };
  // Headers has joined repeated fields already, as addHeaderVariable would (Cookie with "; ").
  request.headers.forEach((value, name) => addHeaderVariable(vars, name, value));
  vars.HTTP_HOST ??= url.host;
  vars.CONTENT_TYPE = request.headers.get('content-type') ?? undefined;
  vars.CONTENT_LENGTH = request.headers.get('content-length') ?? undefined;
  return vars;
}

/**
 * The transport side of one response as a fetch `Response`: the head resolves the response promise, the body
 * is a ReadableStream that holds at most one chunk, so the application writes at the pace the client reads.
 * A cancelled stream (the client went away) aborts the request's `tsgi.signal`.
 */
class FetchResponseSink implements ResponseSink {
  readonly #resolve: (response: Response) => void;
  readonly #method: string;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  readonly #stream: ReadableStream<Uint8Array>;
  #pulled: (() => void) | undefined;
  #cancelled = false;
  #init: { status: number; statusText: string; headers: string[][] } | undefined;
  #bodiless = false;
  #responded = false;

  constructor(method: string, resolve: (response: Response) => void, onCancel: () => void) {
    this.#method = method;
    this.#resolve = resolve;
    this.#stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#wake(),
        cancel: () => {
          this.#cancelled = true;
          this.#wake();
          onCancel();
        },
      },
      { highWaterMark: 1 },
    );
  }

  // The head is held until the body shows whether there is one: an empty body becomes a null body, so the
  // fetch server adds nothing (@hono/node-server gives a non-null body a default Content-Type).
  sendHead(status: string, headers: readonly Header[]): void {
    const code = Number(status.slice(0, 3));
    this.#init = {
      status: code,
      statusText: status.slice(4),
      headers: headers.map(([name, value]) => [name, value]),
    };
    // A Response for 204/304 (or for HEAD) must have a null body (Fetch standard "null body status").
    this.#bodiless = code === 204 || code === 304 || code < 200 || this.#method === 'HEAD';
    if (this.#bodiless) this.#respond(null);
  }

  write(chunk: Uint8Array): void | Promise<void> {
    if (this.#cancelled || this.#bodiless) return;
    this.#respond(this.#stream);
    this.#controller.enqueue(chunk);
    if ((this.#controller.desiredSize ?? 0) > 0) return;
    return new Promise((resolve) => (this.#pulled = resolve));
  }

  async end(ok: boolean): Promise<void> {
    if (this.#cancelled) return;
    if (ok) {
      this.#respond(null);
      this.#controller.close();
      return;
    }
    this.#respond(this.#stream);
    // Erroring the stream makes the fetch server abort the connection, so the client can tell a cut-off from an
    // ending; first let it take and write what it already has (an error drops queued chunks).
    while ((this.#controller.desiredSize ?? 1) <= 0 && !this.#cancelled) {
      await new Promise<void>((resolve) => (this.#pulled = resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    this.#controller.error(new Error('tsgi: the response was cut off'));
  }

  #respond(body: ReadableStream<Uint8Array> | null): void {
    if (this.#responded || this.#init === undefined) return;
    this.#responded = true;
    this.#resolve(new Response(body, this.#init as ResponseInit));
  }

  #wake(): void {
    const pulled = this.#pulled;
    this.#pulled = undefined;
    pulled?.();
  }
}

/**
 * Serves a tsgi application as a fetch handler, `(request) => Promise<Response>`, for the servers that take
 * one: `Deno.serve(toFetchHandler(app))`, `Bun.serve({ fetch: toFetchHandler(app) })`, or `serve({ fetch })`
 * from @hono/node-server. The environ is what a CGI server would build for the same request; `tsgi.input`
 * streams the request body; `tsgi.signal` aborts with the request's signal or when the client stops reading.
 * The promise resolves as soon as the head is known; the body streams after it.
 */
export function toFetchHandler(
  app: Application,
  options: ToFetchHandlerOptions = {},
): (request: Request, info?: unknown) => Promise<Response> {
  const errors = options.errors ?? CONSOLE;
  const scriptName = (options.scriptName ?? '').replace(/\/+$/, '');
  return (request, info) =>
    new Promise<Response>((resolve) => {
      const cancelled = new AbortController();
      const sink = new FetchResponseSink(request.method, resolve, () => cancelled.abort());
      const source = request.body ?? undefined;
      void serveRequest(app, {
        variables: () => requestVars(request, scriptName, info),
        body: source as AsyncIterable<Uint8Array> | undefined,
        errors,
        sink,
        environ: {
          ...options.environ,
          signal: anySignal([request.signal, cancelled.signal]),
          // A fetch Request's body stream ends at the end of the body, with or without Content-Length.
          inputTerminated: source !== undefined,
        },
      }).then((outcome) => {
        // Aborted before any head: the client is gone, but the promise must still settle.
        if (!outcome.headersSent)
          resolve(new Response(null, { status: 503, statusText: 'Service Unavailable' }));
      });
    });
}
