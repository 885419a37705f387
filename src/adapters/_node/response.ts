// The ServerResponse a Node handler writes to: its status and headers become startResponse, its body bytes chunks.
import { ServerResponse, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';
import { HOP_BY_HOP_HEADERS } from '../../shared/constants.js';
import type { Header } from '../../shared/types.js';
import type { WriteCallback } from './body-channel.js';
import type { BridgeIncomingMessage } from './incoming.js';
import type { BridgeSocket } from './socket.js';

/** What the response tells the bridge. */
export interface ResponseOwner {
  /** True while ServerResponse itself writes to the socket (inside `end()` and `flushHeaders()`). */
  framing: boolean;
  /** The head is final (Node calls `writeHead` itself before the first body byte, for an implicit head too). */
  head(status: string, headers: Header[]): void;
  /** One body chunk; false when the front end has not taken enough yet (write() then returns false). */
  body(chunk: Uint8Array, callback: WriteCallback | undefined): boolean;
  /** The handler called `end()`: nothing more will be written after what is already on its way. */
  ended(): void;
  /** Node reported an error on `res` (a write after end). */
  failed(error: Error): void;
  /** One diagnostic line for `tsgi.errors`. */
  log(line: string): void;
}

// The methods overridden below; see the constructor.
const OVERRIDES = [
  'writeHead',
  'end',
  'write',
  'flushHeaders',
  'addTrailers',
  'writeContinue',
  'writeProcessing',
  'writeEarlyHints',
] as const;

type HeadersArgument =
  OutgoingHttpHeaders | OutgoingHttpHeader[] | readonly (readonly [string, OutgoingHttpHeader])[];

function byteLength(chunk: unknown, encoding: unknown): number | undefined {
  if (typeof chunk === 'string') {
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  }
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return undefined;
}

const isWritable = (chunk: unknown): chunk is string | Uint8Array =>
  typeof chunk === 'string' || chunk instanceof Uint8Array;

// An array is one header line per element, as node:http writes it (two Set-Cookie stay two).
function addHeader(headers: Header[], name: string, value: OutgoingHttpHeader): void {
  if (Array.isArray(value)) for (const item of value) headers.push([name, String(item)]);
  else headers.push([name, String(value)]);
}

// The head of writeHead(status, object): undefined when a value is undefined (node:http would throw; through
// setHeader it is skipped, as before). Connection, Keep-Alive, Transfer-Encoding… belong to the front end's
// connection, not to the response.
function headerList(object: OutgoingHttpHeaders): Header[] | undefined {
  const headers: Header[] = [];
  for (const name of Object.keys(object)) {
    const value = object[name];
    if (value === undefined) return undefined;
    if (!HOP_BY_HOP_HEADERS.has(name.toLowerCase())) addHeader(headers, name, value);
  }
  return headers;
}

// node:http throws a write-after-end at the handler as an 'error' event on `res`; unheard it would end the
// process and every other request with it. One function for every response (no closure per request).
function onError(this: BridgeServerResponse, error: Error): void {
  this.owner.failed(error);
}

/**
 * A `ServerResponse` on a {@link BridgeSocket}, through public API only (no `_header`, `_storeHeader` or other
 * underscore member, which change between Node versions and which node-fastcgi and light-my-request depend on).
 * Every head goes through the public `writeHead` (Node's implicit head calls it too), so that is where status
 * and headers are read, with `getRawHeaderNames`/`getHeaders`. Body bytes go from `write`/`end` to the bridge
 * as they are (issue 13: Node's own path renders the head as text, frames, converts strings and queues in the
 * socket's Writable, all for bytes that are dropped or copied again). `end()` still runs Node's own `end()`
 * for its state ('prefinish', `writableEnded`, 'finish', end callbacks), whose only socket write is the head
 * text, which the bridge drops and whose callback it runs when the body has been delivered.
 */
export class BridgeServerResponse extends ServerResponse {
  readonly owner: ResponseOwner;
  #trailersLogged = false;
  #needDrain = false;
  // The head says no body: HEAD, 1xx, 204, 304 (RFC 9110 §6.4.1); node:http ignores body writes then.
  #bodiless = false;

  constructor(req: BridgeIncomingMessage, socket: BridgeSocket, owner: ResponseOwner) {
    super(req);
    this.owner = owner;
    // A CGI/FastCGI front end frames the body itself (RFC 3875 §6.3.4 leaves framing to the server), and the
    // head text Node renders is dropped: no chunked framing, no Date (the web server in front dates the
    // response, RFC 9110 §6.6.1). `useChunkedEncodingByDefault` and `sendDate` are public (no underscore).
    this.useChunkedEncodingByDefault = false;
    this.sendDate = false;
    // What node:http does with each accepted connection; it also makes the socket's 'close' emit ours.
    this.assignSocket(socket as never);
    // Express replaces the prototype of `res` with its own (`app.response`, derived from ServerResponse), which
    // would bypass these overrides; as own properties they survive that (srvx binds its methods for the same
    // reason). Plain assignment of the class's own functions: no bind, so it costs next to nothing per request.
    for (const method of OVERRIDES)
      (this as unknown as Record<string, unknown>)[method] = OWN_METHODS[method];
    this.on('error', onError);
  }

  // The one place a head becomes final. `headers` given here are applied through setHeader/appendHeader first
  // (what Node itself does when setHeader was used before), so getHeader sees every header whichever way it came;
  // except a plain object after no setHeader (Fastify's one call), which goes to Node whole, as node:http
  // itself keeps it: validated and written, not stored (getHeader does not see it there either).
  override writeHead(statusCode: number, reason?: string | HeadersArgument, headers?: HeadersArgument): this {
    if (typeof reason !== 'string') {
      headers = reason;
      reason = undefined;
    }
    const valid = Number.isInteger(statusCode) && statusCode >= 100 && statusCode <= 999;
    let whole: Header[] | undefined;
    if (headers !== undefined && valid && !this.headersSent) {
      if (!Array.isArray(headers) && this.getHeaderNames().length === 0) {
        whole = headerList(headers as OutgoingHttpHeaders);
      }
      if (whole === undefined) this.#applyHeaders(headers);
    }
    // Throws as on node:http for a bad status code, a bad reason, a bad header or a second head.
    const given = whole === undefined ? undefined : (headers as OutgoingHttpHeaders);
    if (reason === undefined) super.writeHead(statusCode, given);
    else super.writeHead(statusCode, reason, given);
    const code = this.statusCode;
    this.#bodiless = code < 200 || code === 204 || code === 304 || this.req.method === 'HEAD';
    this.owner.head(`${code} ${this.statusMessage}`, whole ?? this.#collectHeaders());
    return this;
  }

  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    // What cannot be written (not bytes, after end, destroyed) gets Node's own error, which sends nothing.
    if (!isWritable(chunk) || this.writableEnded || this.destroyed) {
      return super.write(chunk as string, encoding as BufferEncoding, callback as () => void);
    }
    if (!this.headersSent) this.writeHead(this.statusCode);
    const ok = this.#send(chunk, encoding, callback as WriteCallback | undefined);
    if (!ok) this.#needDrain = true;
    return ok;
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
    const last = chunk === undefined || chunk === null || chunk === '' ? undefined : chunk;
    if (this.writableEnded || this.destroyed || (last !== undefined && !isWritable(last))) {
      // Node's own answer (an error for a chunk after end, the callback once finished): nothing is sent.
      this.owner.framing = true;
      try {
        super.end(chunk as string, encoding as BufferEncoding, callback as () => void);
      } finally {
        this.owner.framing = false;
      }
      return this;
    }
    if (!this.headersSent) {
      this.#implicitContentLength(last, encoding);
      this.writeHead(this.statusCode);
    }
    if (last !== undefined) this.#send(last as string | Uint8Array, encoding, undefined);
    // Node's own end() writes the head text to the socket (dropped, see the class) and runs its state machine.
    this.owner.framing = true;
    try {
      super.end(callback as () => void);
    } finally {
      this.owner.framing = false;
    }
    this.owner.ended();
    return this;
  }

  override flushHeaders(): void {
    this.owner.framing = true;
    try {
      super.flushHeaders();
    } finally {
      this.owner.framing = false;
    }
  }

  override addTrailers(_headers: OutgoingHttpHeaders | readonly [string, string][]): void {
    // CGI and FastCGI carry no trailers (RFC 3875 §6.3 has a head and a body only): say so once, lose nothing else.
    if (this.#trailersLogged) return;
    this.#trailersLogged = true;
    this.owner.log('tsgi adapters/node: res.addTrailers() ignored: a CGI/FastCGI response has no trailers\n');
  }

  // Interim 1xx responses cannot pass through CGI or FastCGI (one head per response, RFC 3875 §6.2); the web
  // server in front answers `Expect: 100-continue` itself. Writing them would put a second head on the socket.
  override writeContinue(): void {}

  override writeProcessing(): void {}

  override writeEarlyHints(): void {}

  /** The front end took enough of the body: 'drain' if a write() said to wait (as node:http forwards it). */
  drain(): void {
    if (!this.#needDrain || this.destroyed || this.writableFinished) return;
    this.#needDrain = false;
    this.emit('drain');
  }

  #send(chunk: string | Uint8Array, encoding: unknown, callback: WriteCallback | undefined): boolean {
    const bytes =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
        : chunk;
    if (this.#bodiless || bytes.byteLength === 0) {
      if (callback) process.nextTick(callback);
      return true;
    }
    return this.owner.body(bytes, callback);
  }

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
    // getRawHeaderNames (Node 15.13+, public) keeps the case the handler used, in the order of getHeaders();
    // @types/node 20 does not declare it.
    const rawNames = (this as unknown as { getRawHeaderNames(): string[] }).getRawHeaderNames();
    if (rawNames.length === 0) return headers;
    const values = this.getHeaders();
    for (const name of rawNames) {
      const lower = name.toLowerCase();
      // Connection, Keep-Alive, Transfer-Encoding… belong to the front end's connection, not to the response.
      if (HOP_BY_HOP_HEADERS.has(lower)) continue;
      const value = values[lower];
      if (value !== undefined) addHeader(headers, name, value);
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
