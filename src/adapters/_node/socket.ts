// The socket a bridged request and response believe they are on: peer addresses from the environ, bytes to tsgi.
import { Duplex } from 'node:stream';

/** The connection facts a framework reads from `req.socket` (Express `req.ip`/`req.protocol`, Koa, Fastify). */
export interface SocketEndpoints {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  /** True over TLS: Express and Koa read `socket.encrypted` for `req.protocol`; Fastify for `request.protocol`. */
  encrypted: boolean;
}

/** Receives one body chunk; `done` must be called once the chunk has been consumed (that is the back-pressure). */
export type BodyReceiver = (chunk: Uint8Array, done: (error?: Error | null) => void) => void;

// The end of the response head Node writes before any body byte: the empty line (RFC 9112 §2.1).
const HEAD_END = [0x0d, 0x0a, 0x0d, 0x0a] as const;

/**
 * A Duplex standing in for the TCP socket. Only its writable side is used: `ServerResponse` writes its head and
 * body here, as on a real connection. The head (status line and header block) is dropped because the response
 * reports status and headers itself through `writeHead`; only what follows the head's empty line is the body.
 * Node validates every header value against CR and LF, so the first CRLFCRLF is always the end of the head.
 * The readable side stays silent: the request body comes from `tsgi.input` through the IncomingMessage.
 */
export class BridgeSocket extends Duplex {
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  remoteFamily: string | undefined;
  localAddress: string | undefined;
  localPort: number | undefined;
  readonly encrypted: boolean;
  bytesWritten = 0;
  readonly bytesRead = 0;
  readonly connecting = false;
  readonly pending = false;
  readonly #receive: BodyReceiver;
  #headMatched = 0;

  constructor(endpoints: SocketEndpoints, receive: BodyReceiver) {
    // allowHalfOpen: the readable side never ends, and the writable side must not end because of it.
    super({ allowHalfOpen: true });
    this.remoteAddress = endpoints.remoteAddress;
    this.remotePort = endpoints.remotePort;
    this.remoteFamily = endpoints.remoteAddress?.includes(':') ? 'IPv6' : 'IPv4';
    this.localAddress = endpoints.localAddress;
    this.localPort = endpoints.localPort;
    this.encrypted = endpoints.encrypted;
    this.#receive = receive;
  }

  get readyState(): string {
    return this.destroyed ? 'closed' : 'open';
  }

  override _read(): void {
    // Nothing to read: see the class comment.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.bytesWritten += chunk.byteLength;
    let start = 0;
    if (this.#headMatched < HEAD_END.length) {
      while (start < chunk.byteLength && this.#headMatched < HEAD_END.length) {
        const byte = chunk[start++];
        if (byte === HEAD_END[this.#headMatched]) this.#headMatched += 1;
        else this.#headMatched = byte === 0x0d ? 1 : 0;
      }
    }
    if (start >= chunk.byteLength) {
      done();
      return;
    }
    this.#receive(start === 0 ? chunk : chunk.subarray(start), done);
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
