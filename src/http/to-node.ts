// toNodeHandler: a tsgi application as a node:http / https / http2-compatibility / Express request listener.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { requestVars } from './request-vars.js';
import { LazyCancellation } from '../shared/cancellation.js';
import type { EnvironOptions } from '../shared/environ.js';
import { parseStatus } from '../shared/headers.js';
import { serveRequest } from '../shared/serve-request.js';
import type { Application, ErrorStream, Header, ResponseOutcome, ResponseSink } from '../shared/types.js';
import { STDERR } from '../shared/default-log.js';
import { drainedOrClosed } from '../shared/drained.js';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;

/**
 * A `(req, res)` listener. The parameters take either flavour, so the same function is accepted by
 * `http.createServer`, `https.createServer`, `http2.createServer`/`createSecureServer` and Express routes.
 */
export type NodeRequestListener = (req: NodeRequest, res: NodeResponse) => void;

/** What happened to one request, for access logs and metrics. */
export interface NodeResponseReport {
  readonly request: NodeRequest;
  /** The client's address, read when the request arrived (Node detaches `request.socket` once it closes). */
  readonly remoteAddress: string | undefined;
  readonly outcome: ResponseOutcome;
  /** Body bytes written to the connection: `outcome.bytes` minus what HEAD (RFC 9110 §9.3.2) leaves out. */
  readonly bytesSent: number;
  /** From the call of the listener to the end of the response, in milliseconds. */
  readonly durationMs: number;
}

/** Options of {@link toNodeHandler}. */
export interface ToNodeHandlerOptions {
  /** `tsgi.errors` (default: process.stderr). */
  errors?: ErrorStream;
  /**
   * Passed to buildEnviron: `tsgi.multithread` (default true: concurrent requests share the event loop),
   * `tsgi.multiprocess` (default false; say true under node:cluster), extra environ keys, and `onStep`.
   */
  environ?: Pick<EnvironOptions, 'multithread' | 'multiprocess' | 'extra' | 'onStep'>;
  /** Called once per request after the response ended (or was cut off, or refused with a 400). */
  onResponse?(report: NodeResponseReport): void;
}

// RFC 9113 §7 INTERNAL_ERROR: the RST_STREAM code of a cut-off response (spelled out here so that loading this
// module does not load node:http2, which a CGI process would pay for on every request).
const HTTP2_INTERNAL_ERROR = 0x2;

// How long a cut-off response's socket may take to flush the bytes sent before the cut.
const CUT_OFF_LINGER_MS = 10_000;

/**
 * The transport side of one response on a node:http `ServerResponse` (or its http2 twin): the response driver
 * decides everything, this only serializes, and waits for 'drain' so a slow client slows the application.
 */
class NodeResponseSink implements ResponseSink {
  readonly #res: NodeResponse;
  readonly #http2: boolean;
  // node:http drops body writes for HEAD (RFC 9110 §9.3.2) but the driver still iterates and closes the body.
  readonly #skipBody: boolean;
  #closed = false;
  #finished = false;
  /** Body bytes handed to Node for the client. */
  bytesSent = 0;

  constructor(req: NodeRequest, res: NodeResponse, onClientGone: () => void) {
    this.#res = res;
    this.#http2 = req.httpVersionMajor >= 2;
    this.#skipBody = req.method === 'HEAD';
    res.once('finish', () => (this.#finished = true));
    res.once('close', () => {
      this.#closed = true;
      // 'close' before 'finish' means the connection went away under the response: abort tsgi.signal.
      if (!this.#finished) onClientGone();
    });
  }

  sendHead(status: string, headers: readonly Header[]): void {
    if (this.#closed) return;
    const code = parseStatus(status);
    const flat: string[] = [];
    for (const [name, value] of headers) flat.push(name, value);
    if (this.#http2) {
      // HTTP/2 has no reason phrase (RFC 9113 §8.3.2); passing one only makes Node print a warning.
      (this.#res as Http2ServerResponse).writeHead(code, flat as unknown as Record<string, string>);
      return;
    }
    const res = this.#res as ServerResponse;
    // "200" alone is served (headers.ts parseStatus): Node then fills in the standard reason phrase.
    const reason = status.length > 4 ? status.slice(4) : undefined;
    if (res.getHeaderNames().length === 0) {
      // A flat [name, value, …] list keeps repeated names (two Set-Cookie) apart and in the app's order.
      if (reason === undefined) res.writeHead(code, flat);
      else res.writeHead(code, reason, flat);
      return;
    }
    // Headers already set on `res` (Express sets X-Powered-By before the route runs): Node 20's writeHead(array)
    // merges through setHeader and keeps only the last of two Set-Cookie, so append them one by one instead.
    for (const [name] of headers) res.removeHeader(name);
    for (const [name, value] of headers) res.appendHeader(name, value);
    if (reason === undefined) res.writeHead(code);
    else res.writeHead(code, reason);
  }

  write(chunk: Uint8Array): void | Promise<void> {
    if (this.#skipBody || this.#closed) return;
    this.bytesSent += chunk.byteLength;
    if ((this.#res as ServerResponse).write(chunk)) return;
    return this.#until('drain');
  }

  end(ok: boolean): void | Promise<void> {
    if (this.#closed) return;
    if (!ok) {
      this.#cutOff();
      return;
    }
    this.#res.end();
    if (this.#finished) return;
    return this.#until('finish');
  }

  /**
   * Ends a response that must not look complete. HTTP/1: the bytes already written go out first (Node corks
   * them until the next tick, and a plain destroy() would drop them), then the connection closes without the
   * last chunk or the promised Content-Length, which is how an HTTP/1.1 client tells a cut-off (RFC 9112 §8).
   * HTTP/2: the stream is reset (RST_STREAM), the connection and its other streams stay up.
   */
  #cutOff(): void {
    if (this.#http2) {
      (this.#res as Http2ServerResponse).stream.close(HTTP2_INTERNAL_ERROR);
      return;
    }
    const socket = this.#res.socket;
    if (socket === null || socket.destroyed) {
      this.#res.destroy();
      return;
    }
    socket.end();
    socket.once('finish', () => socket.destroy());
    // A client that stops reading must not hold the socket open forever.
    setTimeout(() => socket.destroy(), CUT_OFF_LINGER_MS).unref();
  }

  /** Resolves on `event` or when the connection closes, whichever comes first (a gone client never drains). */
  #until(event: 'drain' | 'finish'): Promise<void> {
    return drainedOrClosed(this.#res, event);
  }
}

/**
 * Mounts a tsgi application on any Node `(req, res)` server: node:http, https, the http2 compatibility API, or
 * as an Express route (`app.use('/legacy', toNodeHandler(tsgiApp))` makes `/legacy` the SCRIPT_NAME).
 *
 * The environ is what a CGI server would build for the same request (see `requestVars`); `tsgi.input` reads
 * the request body only as the application asks for it; `tsgi.signal` aborts when the client goes away.
 * A request that cannot become an environ is refused as on every front end (`serveRequest`). In Express,
 * mount it before body parsers: a body they consumed is no longer there for `tsgi.input`.
 *
 * @example
 * http.createServer(toNodeHandler(app)).listen(8000);
 */
export function toNodeHandler(app: Application, options: ToNodeHandlerOptions = {}): NodeRequestListener {
  const errors = options.errors ?? STDERR;
  const { onResponse } = options;
  const environOptions = options.environ ?? {};

  return (req, res) => {
    const started = performance.now();
    // tsgi.signal is created only if read; the driver watches the cancellation itself.
    const abort = new LazyCancellation();
    const sink = new NodeResponseSink(req, res, () => abort.abort());
    const remoteAddress = req.socket?.remoteAddress;
    const report = (outcome: ResponseOutcome): void => {
      if (onResponse === undefined) return;
      try {
        const durationMs = performance.now() - started;
        onResponse({ request: req, remoteAddress, outcome, bytesSent: sink.bytesSent, durationMs });
      } catch (error) {
        // A failing log hook must not become an unhandled rejection that takes the server down.
        errors.write(
          `tsgi http: onResponse failed: ${error instanceof Error ? error.stack : String(error)}\n`,
        );
      }
    };

    // Node's parser frames every request body (Content-Length, chunked, or none): the input always ends at the
    // end of the body, with or without CONTENT_LENGTH (PEP 3333's wsgi.input_terminated).
    void serveRequest(app, {
      variables: () => requestVars(req),
      body: req,
      errors,
      sink,
      environ: {
        // SPEC §4.2: one Node process calls the app for the next request before this one has ended.
        multithread: true,
        ...environOptions,
        signal: abort.signal,
        inputTerminated: true,
      },
      cancellation: abort,
      // The body may be unreadable (a length beyond 2^53 - 1): close the connection after the page (HTTP/1).
      onRefused: () => {
        if (req.httpVersionMajor < 2) (res as ServerResponse).shouldKeepAlive = false;
      },
    }).then((outcome) => report(outcome));
  };
}
