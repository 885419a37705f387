// The socket a bridged request and response believe they are on: peer addresses from the environ, bytes to tsgi.
import { Duplex } from 'node:stream';
import { decimalLength } from '../../shared/input.js';
import type { Environ } from '../../shared/types.js';
import type { WriteCallback } from './body-channel.js';

/** What the socket tells the bridge. */
export interface SocketOwner {
  /**
   * Bytes written to the socket. Only ServerResponse's own framing comes this way (the head it renders, the empty
   * final write whose callback means 'finish'): the body bypasses the socket (see BridgeServerResponse). Anything
   * else is a handler writing to `res.socket` itself.
   */
  socketWrite(
    chunk: Uint8Array | string,
    encoding: BufferEncoding | undefined,
    callback?: WriteCallback,
  ): boolean;
  /** The socket was destroyed: by the bridge when the response is over, or by the handler (req/res.destroy()). */
  socketDestroyed(): void;
}

// A port is plain decimal digits (the shared CONTENT_LENGTH rule) up to 65535 (RFC 793 §3.1: 16 bits); a
// server-set REMOTE_PORT like "99999999999999999999" would otherwise show as 1e20 on req.socket.
function port(value: unknown): number | undefined {
  const digits = typeof value === 'string' ? decimalLength(value) : undefined;
  return digits !== undefined && digits <= 0xffff ? digits : undefined;
}

function address(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A Duplex standing in for the TCP socket, as `req.socket` and `res.socket`. The readable side stays silent (the
 * request body comes from `tsgi.input` through the IncomingMessage) and `write()` goes to the bridge without
 * Writable's buffering: the response's body never passes here, only what ServerResponse writes itself.
 */
export class BridgeSocket extends Duplex {
  /** The connection facts a framework reads: Express `req.ip`/`req.protocol`, Koa, Fastify `request.ip`. */
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** True over TLS: Express and Koa read `socket.encrypted` for `req.protocol`; Fastify for `request.protocol`. */
  readonly encrypted: boolean;
  bytesWritten = 0;
  readonly bytesRead = 0;
  readonly connecting = false;
  readonly pending = false;
  readonly #owner: SocketOwner;

  constructor(environ: Environ, owner: SocketOwner) {
    // allowHalfOpen: the readable side never ends, and the writable side must not end because of it.
    super({ allowHalfOpen: true });
    const remote = address(environ.REMOTE_ADDR);
    this.remoteAddress = remote;
    this.remotePort = port(environ.REMOTE_PORT);
    this.remoteFamily = remote?.includes(':') ? 'IPv6' : 'IPv4';
    this.localAddress = address(environ.SERVER_ADDR);
    this.localPort = port(environ.SERVER_PORT);
    this.encrypted = environ['tsgi.url_scheme'] === 'https';
    this.#owner = owner;
  }

  get readyState(): string {
    return this.destroyed ? 'closed' : 'open';
  }

  // Straight to the bridge: Writable's queue, string-to-Buffer conversion and callback ticks are what a real
  // socket needs before the kernel, and all of it ran for every response (issue 13).
  override write(
    chunk: unknown,
    encoding?: BufferEncoding | WriteCallback,
    callback?: WriteCallback,
  ): boolean {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (this.destroyed || !this.writable) return super.write(chunk, encoding as BufferEncoding, callback);
    if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return super.write(chunk, callback);
    return this.#owner.socketWrite(chunk, encoding, callback);
  }

  override _read(): void {
    // Nothing to read: see the class comment.
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, done: WriteCallback): void {
    // Only reached through Writable's own paths (write() goes to the bridge directly): same destination.
    this.#owner.socketWrite(chunk, encoding, done);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#owner.socketDestroyed();
    callback(error);
  }

  // What net.Socket offers and frameworks call; there is no real connection to tune.
  setTimeout(_ms: number, callback?: () => void): this {
    if (callback) this.once('timeout', callback);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.localAddress === undefined) return {};
    return {
      address: this.localAddress,
      family: this.localAddress.includes(':') ? 'IPv6' : 'IPv4',
      port: this.localPort ?? 0,
    };
  }

  destroySoon(): void {
    this.destroy();
  }
}
