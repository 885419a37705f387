// The ServerResponse a Node handler writes to: its status and headers become startResponse, its body bytes chunks.
import { ServerResponse, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP_HEADERS } from '../../shared/constants.js';
import type { Header } from '../../shared/types.js';
import type { BridgeIncomingMessage } from './incoming.js';
import type { BridgeSocket } from './socket.js';

/** What the response tells the bridge. */
export interface ResponseEvents {
  /** The head is final (Node calls `writeHead` itself before the first body byte, for an implicit head too). */
  head(status: string, headers: Header[]): void;
  /** One diagnostic line for `tsgi.errors`. */
  log(line: string): void;
  /** The handler called `end()`: nothing more will be written after what is already on its way. */
  ended(): void;
}

// The methods overridden below; see the constructor.
const OVERRIDES = [
  'writeHead',
  'setHeader',
  'appendHeader',
  'end',
  'write',
  'addTrailers',
  'writeContinue',
  'writeProcessing',
  'writeEarlyHints',
] as const;

type HeadersArgument =
  OutgoingHttpHeaders | OutgoingHttpHeader[] | readonly (readonly [string, OutgoingHttpHeader])[];

function isTransferEncoding(name: unknown): boolean {
  return typeof name === 'string' && name.toLowerCase() === 'transfer-encoding';
}

function byteLength(chunk: unknown, encoding: unknown): number | undefined {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return undefined;
}

/**
 * A `ServerResponse` on a {@link BridgeSocket}, through public API only (no `_header`, `_storeHeader` or other
 * underscore member, which change between Node versions and which node-fastcgi and light-my-request depend on).
 * Every head goes through the public `writeHead` (Node's implicit head calls it too), so that is where status
 * and headers are read, with `getRawHeaderNames`/`getHeader`. The body reaches the socket unframed:
 * chunked encoding is off and a `Transfer-Encoding` set by the handler is dropped (it would make Node frame it).
 */
export class BridgeServerResponse extends ServerResponse {
  readonly #events: ResponseEvents;
  #trailersLogged = false;
  #needDrain = false;

  constructor(req: BridgeIncomingMessage, socket: BridgeSocket, events: ResponseEvents) {
    super(req);
    this.#events = events;
    // A CGI/FastCGI front end frames the body itself (RFC 3875 §6.3.4 leaves framing to the server); chunk
    // framing here would end up inside the body. `useChunkedEncodingByDefault` is public (no underscore).
    this.useChunkedEncodingByDefault = false;
    // The web server in front dates the response (RFC 9110 §6.6.1); a second Date header would be a duplicate.
    this.sendDate = false;
    // What node:http does with each accepted connection; it also makes the socket's 'close' emit ours.
    this.assignSocket(socket as never);
    // Express replaces the prototype of `res` with its own (`app.response`, derived from ServerResponse), which
    // would bypass these overrides; as own properties they survive that (srvx binds its methods for the same
    // reason). Plain assignment of the class's own functions: no bind, so it costs next to nothing per request.
    for (const method of OVERRIDES)
      (this as unknown as Record<string, unknown>)[method] = OWN_METHODS[method];
    // node:http's server forwards socket 'drain' to the response (socketOnDrain); without a server, we do.
    socket.on('drain', () => {
      if (!this.#needDrain || this.destroyed || this.writableFinished) return;
      this.#needDrain = false;
      this.emit('drain');
    });
  }

  // The one place a head becomes final. `headers` given here are applied through setHeader/appendHeader first
  // (what Node itself does when setHeader was used before), so getHeader sees every header whichever way it came.
  override writeHead(statusCode: number, reason?: string | HeadersArgument, headers?: HeadersArgument): this {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    const valid = Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 999;
    if (headers !== undefined && valid && !this.headersSent) this.#applyHeaders(headers);
    // Throws as on node:http for a bad status code, a bad reason or a second head.
    if (reason === undefined) super.writeHead(statusCode);
    else super.writeHead(statusCode, reason);
    this.#events.head(`${this.statusCode} ${this.statusMessage}`, this.#collectHeaders());
    return this;
  }

  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (isTransferEncoding(name)) return this;
    return super.setHeader(name, value);
  }

  override appendHeader(name: string, value: string | readonly string[]): this {
    if (isTransferEncoding(name)) return this;
    return super.appendHeader(name, value);
  }

  // node:http adds `Content-Length` when `end(data)` comes before any head, and `Content-Length: 0` for a bare
  // `end()`; that is internal (`_contentLength`), so the same rule is applied here before the implicit head.
  override end(chunk?: unknown, encoding?: unknown, callback?: unknown): this {
    if (typeof chunk === 'function') {
      callback = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const ending = !this.writableEnded;
    if (!this.headersSent && ending) this.#implicitContentLength(chunk, encoding);
    super.end(chunk as string, encoding as BufferEncoding, callback as () => void);
    if (ending && this.writableEnded) this.#events.ended();
    return this;
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const ok = super.write(chunk as string, encoding as BufferEncoding, callback as () => void);
    if (!ok) this.#needDrain = true;
    return ok;
  }

  override addTrailers(_headers: OutgoingHttpHeaders | readonly [string, string][]): void {
    // CGI and FastCGI carry no trailers (RFC 3875 §6.3 has a head and a body only): say so once, lose nothing else.
    if (this.#trailersLogged) return;
    this.#trailersLogged = true;
    this.#events.log(
      'tsgi adapters/node: res.addTrailers() ignored: a CGI/FastCGI response has no trailers\n',
    );
  }

  // Interim 1xx responses cannot pass through CGI or FastCGI (one head per response, RFC 3875 §6.2); the web
  // server in front answers `Expect: 100-continue` itself. Writing them would put a second head on the socket.
  override writeContinue(): void {}

  override writeProcessing(): void {}

  override writeEarlyHints(): void {}

  #applyHeaders(headers: HeadersArgument): void {
    if (!Array.isArray(headers)) {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
        if (value !== undefined) this.setHeader(name, value);
      }
      return;
    }
    // The array forms allow a name twice ([[k, v], …] or flat [k, v, k, v]): replace earlier values, keep these.
    const pairs: [string, OutgoingHttpHeader][] = [];
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers as [string, OutgoingHttpHeader][]) pairs.push([name, value]);
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) {
        pairs.push([String(headers[i]), headers[i + 1] as OutgoingHttpHeader]);
      }
    }
    for (const [name] of pairs) this.removeHeader(name);
    for (const [name, value] of pairs) {
      this.appendHeader(name, typeof value === 'number' ? String(value) : (value as string | string[]));
    }
  }

  #collectHeaders(): Header[] {
    const headers: Header[] = [];
    // getRawHeaderNames (Node 15.13+, public) keeps the case the handler used; @types/node 20 does not declare it.
    const rawNames = (this as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
    for (const name of rawNames) {
      // Connection, Keep-Alive, Transfer-Encoding… belong to the front end's connection, not to the response.
      if (HOP_BY_HOP_HEADERS.has(name.toLowerCase())) continue;
      const value = this.getHeader(name);
      if (value === undefined) continue;
      // An array is one header line per element, as node:http writes it (two Set-Cookie stay two).
      if (Array.isArray(value)) for (const item of value) headers.push([name, String(item)]);
      else headers.push([name, String(value)]);
    }
    return headers;
  }

  #implicitContentLength(chunk: unknown, encoding: unknown): void {
    const code = this.statusCode;
    if (this.req.method === 'HEAD' || code < 200 || code === 204 || code === 304) return;
    if (this.hasHeader('content-length')) return;
    const length = chunk === undefined || chunk === null ? 0 : byteLength(chunk, encoding);
    if (length !== undefined) this.setHeader('Content-Length', length);
  }
}

// The overriding functions, looked up once; `this` is the response they are called on (super calls inside them
// are bound to the class, not to the current prototype, so they still reach ServerResponse).
const OWN_METHODS = Object.fromEntries(
  OVERRIDES.map((method) => [method, BridgeServerResponse.prototype[method]]),
) as Record<(typeof OVERRIDES)[number], unknown>;
