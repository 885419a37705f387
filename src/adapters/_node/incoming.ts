// The IncomingMessage a Node handler receives: method, URL and headers from the environ, body from tsgi.input.
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { parseContentLength } from '../../shared/input.js';
import type { Environ } from '../../shared/types.js';
import { rawHeadersOf, requestTarget } from '../../shared/request-target.js';
import type { BridgeSocket } from './socket.js';

// SERVER_PROTOCOL "HTTP/1.1" (RFC 3875 §4.1.16); "INCLUDED" and anything odd read as HTTP/1.0 (as Go's cgi does).
const PROTOCOL = /^HTTP\/(\d)(?:\.(\d))?$/i;
const BODYLESS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/**
 * A request as `node:http` hands it to a listener, built from an environ. Its body is pulled from `tsgi.input`
 * only when the handler reads (`_read`), one chunk per call, so a slow handler holds back a large upload instead
 * of buffering it (the readable keeps at most its highWaterMark, 16 KiB, ahead of the handler).
 */
export class BridgeIncomingMessage extends IncomingMessage {
  readonly #environ: Environ;
  #input: AsyncIterator<Uint8Array> | undefined;
  #reading = false;
  // The body was refused (limitBody's 413), the client is still there: fail the request, keep the response.
  #refused = false;

  constructor(socket: BridgeSocket, environ: Environ) {
    // IncomingMessage only keeps the socket and takes its highWaterMark; BridgeSocket is a Duplex like net.Socket.
    super(socket as unknown as Socket);
    this.method = environ.REQUEST_METHOD;
    const target = requestTarget(environ);
    this.url = target.below;
    if (environ.SCRIPT_NAME !== '') {
      // Express's convention for a mounted app (router `handle` keeps both when set): the mount point and the
      // untouched target, so redirects and `req.originalUrl` stay right under a cgi-bin path.
      const mounted = this as unknown as { baseUrl: string; originalUrl: string };
      mounted.baseUrl = environ.SCRIPT_NAME;
      mounted.originalUrl = target.original;
    }
    if (environ.SERVER_PROTOCOL === 'HTTP/1.1') {
      this.httpVersionMajor = 1;
      this.httpVersionMinor = 1;
      this.httpVersion = '1.1';
    } else {
      const protocol = PROTOCOL.exec(environ.SERVER_PROTOCOL);
      this.httpVersionMajor = protocol ? Number(protocol[1]) : 1;
      this.httpVersionMinor = protocol ? Number(protocol[2] ?? 0) : 0;
      this.httpVersion = `${this.httpVersionMajor}.${this.httpVersionMinor}`;
    }
    this.rawHeaders = rawHeadersOf(environ);
    const headers: Record<string, string> = {};
    for (let i = 0; i < this.rawHeaders.length; i += 2) {
      headers[this.rawHeaders[i]!.toLowerCase()] = this.rawHeaders[i + 1]!;
    }
    // Whether a body follows. Without CONTENT_LENGTH, only an input the front end terminates can carry one
    // (FastCGI, a chunked upload), and a GET or HEAD is taken to have none, as Node's parser and srvx do.
    const length = parseContentLength(environ.CONTENT_LENGTH);
    const hasBody =
      length === undefined
        ? environ['tsgi.input_terminated'] && !BODYLESS_METHODS.has(environ.REQUEST_METHOD)
        : length > 0;
    // A body without a length shows as chunked, as on node:http: body parsers (type-is `hasBody`) look for
    // exactly that to know there is a body at all.
    if (hasBody && length === undefined && headers['transfer-encoding'] === undefined) {
      headers['transfer-encoding'] = 'chunked';
    }
    this.headers = headers;
    // The input's iterator is opened on the first read: most requests have no body to read.
    this.#environ = environ;
    // Express replaces the prototype of `req` with its own (`app.request`, derived from IncomingMessage): as an
    // own property, the reader survives that, as the Readable constructor's `read` option would set it.
    this._read = BridgeIncomingMessage.prototype._read;
    this._destroy = BridgeIncomingMessage.prototype._destroy;
    // A body-less request is complete at once, as Node's parser marks a GET without a body.
    if (!hasBody) {
      this.complete = true;
      this.push(null);
    }
  }

  override _read(): void {
    this.#pull();
  }

  // One chunk from tsgi.input. IncomingMessage switches off Readable's read-ahead (node:http's parser pushes on
  // its own), so while push() says there is room, the next chunk is fetched here; once it says the buffer is
  // full, the next _read() (the handler reading) resumes it.
  #pull(): void {
    if (this.#reading || this.complete) return;
    this.#reading = true;
    this.#input ??= this.#environ['tsgi.input'][Symbol.asyncIterator]();
    this.#input.next().then(
      (step) => {
        this.#reading = false;
        if (step.done) {
          this.complete = true;
          this.push(null);
        } else if (this.push(step.value)) {
          this.#pull();
        }
      },
      (error: unknown) => {
        this.#reading = false;
        // A 4xx refusal (http-errors' `status`, as limitBody's ContentTooLargeError has) while the client waits
        // for an answer: the handler gets the error and can answer 413 (body-parser, Koa and Fastify do).
        const status = (error as { status?: unknown } | null)?.status;
        if (typeof status === 'number' && status >= 400 && status < 500) {
          this.#refused = true;
          // Nothing more will be read: on-finished (Express's finalhandler) sees the request as done and sends
          // the error page at once instead of waiting for an 'end' that will not come.
          this.complete = true;
          this.destroy(error as Error);
          return;
        }
        // The body was cut short (client gone, lying CONTENT_LENGTH): node:http destroys the request with
        // ECONNRESET "aborted" then, and IncomingMessage's own _destroy emits 'aborted' and closes the socket.
        this.destroy(Object.assign(new Error('aborted', { cause: error }), { code: 'ECONNRESET' }));
      },
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#refused) {
      super._destroy(error, callback);
      return;
    }
    // As IncomingMessage's own _destroy: an 'error' only for someone listening, never an uncaught one.
    callback(this.listenerCount('error') > 0 ? error : null);
  }
}
