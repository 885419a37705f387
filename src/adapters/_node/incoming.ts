// The IncomingMessage a Node handler receives: method, URL and headers from the environ, body from tsgi.input.
import { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { parseContentLength } from '../../shared/input.js';
import type { Environ } from '../../shared/types.js';
import { rawHeadersOf, requestTarget } from '../_target.js';
import type { BridgeSocket } from './socket.js';

// SERVER_PROTOCOL "HTTP/1.1" (RFC 3875 §4.1.16); "INCLUDED" and anything odd read as HTTP/1.0 (as Go's cgi does).
const PROTOCOL = /^HTTP\/(\d)(?:\.(\d))?$/i;

/**
 * A request as `node:http` hands it to a listener, built from an environ. Its body is pulled from `tsgi.input`
 * only when the handler reads (`_read`), one chunk per call, so a slow handler holds back a large upload instead
 * of buffering it (the readable keeps at most its highWaterMark, 16 KiB, ahead of the handler).
 */
export class BridgeIncomingMessage extends IncomingMessage {
  readonly #input: AsyncIterator<Uint8Array>;
  #reading = false;

  constructor(socket: BridgeSocket, environ: Environ) {
    // IncomingMessage only keeps the socket and takes its highWaterMark; BridgeSocket is a Duplex like net.Socket.
    super(socket as unknown as Socket);
    this.method = environ.REQUEST_METHOD;
    const target = requestTarget(environ);
    this.url = target.below;
    if (environ.SCRIPT_NAME !== '') {
      // Express's convention for a mounted app (router `handle` keeps both when set): the mount point and the
      // untouched target, so redirects and `req.originalUrl` stay right under a cgi-bin path.
      Object.assign(this, { baseUrl: environ.SCRIPT_NAME, originalUrl: target.original });
    }
    const protocol = PROTOCOL.exec(environ.SERVER_PROTOCOL);
    this.httpVersionMajor = protocol ? Number(protocol[1]) : 1;
    this.httpVersionMinor = protocol ? Number(protocol[2] ?? 0) : 0;
    this.httpVersion = `${this.httpVersionMajor}.${this.httpVersionMinor}`;
    this.rawHeaders = rawHeadersOf(environ);
    const headers: Record<string, string> = {};
    for (let i = 0; i < this.rawHeaders.length; i += 2) {
      headers[this.rawHeaders[i]!.toLowerCase()] = this.rawHeaders[i + 1]!;
    }
    this.headers = headers;
    this.#input = environ['tsgi.input'][Symbol.asyncIterator]();
    // Express replaces the prototype of `req` with its own (`app.request`, derived from IncomingMessage): as an
    // own property, the reader survives that, as the Readable constructor's `read` option would set it.
    this._read = this._read.bind(this);
    // A body-less request is complete at once, as Node's parser marks a GET without a body.
    const length = parseContentLength(environ.CONTENT_LENGTH);
    if (length === 0 || (length === undefined && !environ['tsgi.input_terminated'])) {
      this.complete = true;
      this.push(null);
    }
  }

  override _read(): void {
    if (this.#reading || this.complete) return;
    this.#reading = true;
    this.#input.next().then(
      (step) => {
        this.#reading = false;
        if (step.done) {
          this.complete = true;
          this.push(null);
        } else {
          this.push(step.value);
        }
      },
      (error: unknown) => {
        this.#reading = false;
        // The body was cut short (client gone, lying CONTENT_LENGTH): node:http destroys the request with
        // ECONNRESET "aborted" then, and IncomingMessage's own _destroy emits 'aborted' and closes the socket.
        this.destroy(Object.assign(new Error('aborted', { cause: error }), { code: 'ECONNRESET' }));
      },
    );
  }
}
