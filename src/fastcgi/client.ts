// A small FastCGI client (the web server's side): keep-conn, multiplexed requests, streams both ways.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ByteChannel, FastCgiCall } from './client-call.js';
import { parseListenAddress } from './listen.js';
import {
  FCGI_HEADER_LEN,
  FCGI_NULL_REQUEST_ID,
  FIXED_RECORD_SIZE,
  Flags,
  RecordParser,
  RecordType,
  Role,
  decodeEndRequest,
  decodePairs,
  encodeHeader,
  encodePairs,
  encodeRecord,
  encodeStream,
  streamSize,
  writeBeginRequest,
  writeStream,
  type PairPart,
} from './protocol.js';
import { drainedOrClosed } from '../shared/drained.js';

export { FastCgiCall, parseCgiResponse, type CgiResponse, type FastCgiResponse } from './client-call.js';

/** Where to connect: `host:port`, `[v6]:port`, a bare port, `unix:/path` or a path; or net options. */
export type FastCgiAddress = string | { host?: string; port: number } | { path: string };

/** Request bodies: bytes, a (latin1-free) string sent as UTF-8, or chunks produced over time. */
export type StreamSource = Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** One request. */
export interface FastCgiRequestOptions {
  /** FCGI_PARAMS: CGI variables (latin1 strings or raw bytes); `undefined` values are left out. */
  params: Readonly<Record<string, string | undefined>> | Iterable<readonly [PairPart, PairPart]>;
  /** FCGI_STDIN (default: empty). Streamed record by record, waiting for the socket to drain. */
  stdin?: StreamSource;
  /** FCGI_DATA, for the Filter role. */
  data?: StreamSource;
  /** Default Responder. */
  role?: Role;
  /** FCGI_KEEP_CONN (default: the client's `keepConn`). Without it the application closes the connection. */
  keepConn?: boolean;
  /** Aborting sends FCGI_ABORT_REQUEST. */
  signal?: AbortSignal;
}

/** Client options. */
export interface FastCgiClientOptions {
  /** Send FCGI_KEEP_CONN so several requests share the connection (default true). */
  keepConn?: boolean;
  /** Unread STDOUT/STDERR bytes per request before the socket is paused (default 1 MiB). */
  highWaterMark?: number;
}

/** Events: `'unknownType'` with the type an FCGI_UNKNOWN_TYPE record names, `'close'`. */
export interface FastCgiClientEvents {
  unknownType: [type: number];
  close: [];
}

const RECORD_CONTENT = 65528;

function toBytes(source: Uint8Array | string): Uint8Array {
  return typeof source === 'string' ? Buffer.from(source, 'utf8') : source;
}

function isStatic(source: StreamSource): source is Uint8Array | string {
  return typeof source === 'string' || source instanceof Uint8Array;
}

/**
 * A FastCGI client over one connection. Requests get the lowest free id, so several can be in flight at once
 * (multiplexing, when the application allows it). For tests, benchmarks and `tsgi call`.
 */
export class FastCgiClient extends EventEmitter<FastCgiClientEvents> {
  /** The connection. */
  readonly socket: Duplex;
  private readonly keepConn: boolean;
  private readonly highWaterMark: number;
  private readonly calls = new Map<number, FastCgiCall>();
  private readonly valueWaiters: ((values: Map<string, string>) => void)[] = [];
  private readonly parser: RecordParser;
  private pausers = 0;
  private closed = false;
  private closeError: Error | undefined;

  constructor(socket: Duplex, options: FastCgiClientOptions = {}) {
    super();
    this.socket = socket;
    this.keepConn = options.keepConn ?? true;
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.parser = new RecordParser(this.onRecord);
    (socket as Partial<Socket>).setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (error) {
        this.closeError = error as Error;
        socket.destroy();
      }
    });
    socket.on('error', (error) => (this.closeError ??= error));
    socket.on('close', () => this.onClose());
  }

  /** True once the connection is closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests in flight. */
  get activeRequests(): number {
    return this.calls.size;
  }

  /** Starts a request: BEGIN_REQUEST, PARAMS and (when given as bytes) STDIN go out in one write. */
  request(options: FastCgiRequestOptions): FastCgiCall {
    if (this.closed) throw new Error('tsgi fastcgi client: the connection is closed');
    const id = this.nextId();
    const pause = (): void => this.pause();
    const resume = (): void => this.resume();
    const call = new FastCgiCall(
      id,
      new ByteChannel(this.highWaterMark, pause, resume),
      new ByteChannel(this.highWaterMark, pause, resume),
      () => this.write(encodeRecord(RecordType.AbortRequest, id)),
    );
    this.calls.set(id, call);
    const keepConn = options.keepConn ?? this.keepConn;
    const params = encodePairs(pairsOf(options.params));
    const stdin = options.stdin === undefined ? new Uint8Array(0) : options.stdin;
    const head = isStatic(stdin) ? toBytes(stdin) : undefined;
    const size =
      FIXED_RECORD_SIZE +
      streamSize(params.length, RECORD_CONTENT) +
      FCGI_HEADER_LEN +
      (head === undefined ? 0 : streamSize(head.length, RECORD_CONTENT) + FCGI_HEADER_LEN);
    const out = Buffer.allocUnsafe(size);
    let at = writeBeginRequest(out, 0, id, options.role ?? Role.Responder, keepConn ? Flags.KeepConn : 0);
    at = writeStream(out, at, RecordType.Params, id, [params], params.length, RECORD_CONTENT);
    at = encodeHeader(out, at, RecordType.Params, id, 0, 0);
    if (head !== undefined) {
      at = writeStream(out, at, RecordType.Stdin, id, [head], head.length, RECORD_CONTENT);
      encodeHeader(out, at, RecordType.Stdin, id, 0, 0);
    }
    this.write(out);
    const streams: Promise<void>[] = [];
    if (head === undefined) streams.push(this.sendStream(RecordType.Stdin, id, stdin, call));
    if (options.data !== undefined) streams.push(this.sendStream(RecordType.Data, id, options.data, call));
    for (const stream of streams) stream.catch((error: Error) => this.socket.destroy(error));
    if (options.signal !== undefined) {
      const onAbort = (): void => call.abort();
      if (options.signal.aborted) onAbort();
      else options.signal.addEventListener('abort', onAbort, { once: true });
      void call.ended.then(
        () => options.signal?.removeEventListener('abort', onAbort),
        () => options.signal?.removeEventListener('abort', onAbort),
      );
    }
    return call;
  }

  /** Sends FCGI_GET_VALUES for `names` and resolves with the answered names (§4.1). */
  getValues(names: readonly string[]): Promise<Map<string, string>> {
    if (this.closed) return Promise.reject(new Error('tsgi fastcgi client: the connection is closed'));
    const promise = new Promise<Map<string, string>>((resolve) => this.valueWaiters.push(resolve));
    this.write(
      encodeRecord(
        RecordType.GetValues,
        FCGI_NULL_REQUEST_ID,
        encodePairs(names.map((n) => [n, ''] as const)),
      ),
    );
    return promise;
  }

  /** Writes raw bytes (tests: hand-made records, garbage). */
  sendRaw(bytes: Uint8Array): void {
    this.write(bytes);
  }

  /** Ends the connection and resolves once it is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.socket.end();
    return closed;
  }

  /** Closes the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  private nextId(): number {
    for (let id = 1; id <= 0xffff; id++) if (!this.calls.has(id)) return id;
    throw new Error('tsgi fastcgi client: 65535 requests in flight on one connection');
  }

  private write(bytes: Uint8Array): boolean {
    if (this.closed || this.socket.writableEnded) return false;
    return this.socket.write(bytes);
  }

  // A streamed body: one record per chunk (split at 65528 bytes), waiting for drain, then the empty record.
  private async sendStream(type: number, id: number, source: StreamSource, call: FastCgiCall): Promise<void> {
    const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = isStatic(source)
      ? [toBytes(source)]
      : source;
    for await (const chunk of chunks) {
      if (call.isFinished || this.closed) return;
      if (chunk.length === 0) continue;
      if (!this.write(encodeStream(type, id, chunk, RECORD_CONTENT, false))) await this.drained();
    }
    if (!call.isFinished) this.write(encodeRecord(type, id));
  }

  private drained(): Promise<void> {
    return drainedOrClosed(this.socket);
  }

  private pause(): void {
    if (this.pausers++ === 0) this.socket.pause();
  }

  private resume(): void {
    if (--this.pausers === 0 && !this.closed) this.socket.resume();
  }

  private readonly onRecord = (type: number, id: number, content: Uint8Array): void => {
    switch (type) {
      case RecordType.Stdout:
        return this.calls.get(id)?.stdout.push(content);
      case RecordType.Stderr:
        return this.calls.get(id)?.stderr.push(content);
      case RecordType.EndRequest: {
        const call = this.calls.get(id);
        if (call === undefined) return;
        this.calls.delete(id);
        return call.finish(decodeEndRequest(content));
      }
      case RecordType.GetValuesResult: {
        const values = new Map<string, string>();
        decodePairs(content, (name, value) => values.set(name, value));
        return this.valueWaiters.shift()?.(values);
      }
      case RecordType.UnknownType:
        this.emit('unknownType', content[0] ?? 0);
        return;
      default:
        return;
    }
  };

  private onClose(): void {
    this.closed = true;
    const error = new Error('tsgi fastcgi client: the connection closed before FCGI_END_REQUEST', {
      cause: this.closeError,
    });
    for (const call of this.calls.values()) call.fail(error);
    this.calls.clear();
    this.emit('close');
  }
}

function pairsOf(
  params: Readonly<Record<string, string | undefined>> | Iterable<readonly [PairPart, PairPart]>,
): Iterable<readonly [PairPart, PairPart]> {
  if (Symbol.iterator in params) return params as Iterable<readonly [PairPart, PairPart]>;
  const pairs: [string, string][] = [];
  for (const [name, value] of Object.entries(params)) if (value !== undefined) pairs.push([name, value]);
  return pairs;
}

/** Opens a connection to a FastCGI application. */
export function connectFastCgi(
  address: FastCgiAddress,
  options?: FastCgiClientOptions,
): Promise<FastCgiClient> {
  let target: { host?: string; port: number } | { path: string };
  if (typeof address === 'string') {
    const parsed = parseListenAddress(address);
    if (parsed.kind === 'fd') throw new Error(`tsgi fastcgi client: cannot connect to ${address}`);
    target = parsed.kind === 'tcp' ? { host: parsed.host, port: parsed.port } : { path: parsed.path };
  } else target = address;
  return new Promise((resolve, reject) => {
    const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(new FastCgiClient(socket, options));
    });
  });
}
