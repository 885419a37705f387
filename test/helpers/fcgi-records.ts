// Golden-bytes builders for FastCGI tests (in the style of Go's makeRecord) and a loopback test listener.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import type { Application } from '../../src/shared/types.js';
import { FastCgiConnection, type ConnectionOptions } from '../../src/fastcgi/connection.js';

// Written out by hand, independently of src/fastcgi/protocol.ts, so the codec is checked against the spec.

/** One record: version 1, type, id, content, then `padding` zero bytes (default: align to 8). */
export function record(
  type: number,
  id: number,
  content: Uint8Array | string = '',
  padding?: number,
): Buffer {
  const body = typeof content === 'string' ? Buffer.from(content, 'latin1') : Buffer.from(content);
  const pad = padding ?? (8 - (body.length % 8)) % 8;
  const header = Buffer.from([1, type, id >> 8, id & 0xff, body.length >> 8, body.length & 0xff, pad, 0]);
  return Buffer.concat([header, body, Buffer.alloc(pad)]);
}

/** A name-value length: 1 byte up to 127, else 4 bytes with the high bit set. */
export function pairLength(length: number): Buffer {
  if (length <= 127) return Buffer.from([length]);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE((length | 0x80000000) >>> 0);
  return bytes;
}

/** Name-value pairs as bytes (latin1 strings). */
export function pairs(...list: [string, string][]): Buffer {
  return Buffer.concat(
    list.flatMap(([name, value]) => [
      pairLength(name.length),
      pairLength(value.length),
      Buffer.from(name, 'latin1'),
      Buffer.from(value, 'latin1'),
    ]),
  );
}

/** FCGI_BEGIN_REQUEST with a role (default Responder) and flags (default FCGI_KEEP_CONN). */
export function beginRequest(id: number, role = 1, flags = 1): Buffer {
  return record(1, id, Buffer.from([role >> 8, role & 0xff, flags, 0, 0, 0, 0, 0]));
}

/** The minimal variables of a GET request. */
export const GET_VARS: Record<string, string> = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

/** A whole request: BEGIN_REQUEST, one PARAMS record + its end, the body in one STDIN record + its end. */
export function wholeRequest(
  id: number,
  vars: Record<string, string> = GET_VARS,
  body = '',
  flags = 1,
): Buffer {
  const parts = [beginRequest(id, 1, flags), record(4, id, pairs(...Object.entries(vars))), record(4, id)];
  if (body.length > 0) parts.push(record(5, id, body));
  parts.push(record(5, id));
  return Buffer.concat(parts);
}

/** A record read back from the wire. */
export interface ParsedRecord {
  type: number;
  id: number;
  content: Buffer;
  padding: number;
}

/** Splits bytes into records; throws on a truncated record (the listener must never write one). */
export function parseRecords(bytes: Uint8Array): ParsedRecord[] {
  const buffer = Buffer.from(bytes);
  const out: ParsedRecord[] = [];
  let at = 0;
  while (at < buffer.length) {
    if (at + 8 > buffer.length) throw new Error(`truncated header at ${at}`);
    if (buffer[at] !== 1) throw new Error(`bad version ${buffer[at]} at ${at}`);
    const length = buffer.readUInt16BE(at + 4);
    const padding = buffer[at + 6]!;
    if (at + 8 + length + padding > buffer.length) throw new Error(`truncated record at ${at}`);
    out.push({
      type: buffer[at + 1]!,
      id: buffer.readUInt16BE(at + 2),
      content: buffer.subarray(at + 8, at + 8 + length),
      padding,
    });
    at += 8 + length + padding;
  }
  return out;
}

/** The STDOUT bytes of request `id` concatenated. */
export function stdoutOf(records: ParsedRecord[], id: number, type = 6): Buffer {
  return Buffer.concat(records.filter((r) => r.type === type && r.id === id).map((r) => r.content));
}

/** A FastCGI listener on 127.0.0.1 port 0 serving `app` with FastCgiConnection; it records log lines. */
export interface TestListener {
  port: number;
  server: Server;
  connections: Set<FastCgiConnection>;
  logs: string[];
  close(): Promise<void>;
}

/** Starts a TestListener (allowHalfOpen, as a FastCGI server should: a peer's FIN does not cut answers). */
export async function startListener(
  app: Application,
  options: ConnectionOptions = {},
): Promise<TestListener> {
  const logs: string[] = [];
  const connections = new Set<FastCgiConnection>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const connection = new FastCgiConnection(socket, app, { log: (line) => logs.push(line), ...options });
    connections.add(connection);
    connection.on('close', () => connections.delete(connection));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    server,
    connections,
    logs,
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.shutdown();
        server.close(() => resolve());
      }),
  };
}

/**
 * For a test file: `listen(app, options?)` starts a TestListener for the current test, and an `afterEach`
 * (registered here) closes it, so no test leaves a listener behind for the next one. `defaultApp` serves
 * when `listen()` is called without an app.
 */
export function listenerPerTest(
  defaultApp?: Application,
): (app?: Application, options?: ConnectionOptions) => Promise<TestListener> {
  let listener: TestListener | undefined;
  afterEach(async () => {
    await listener?.close();
    listener = undefined;
  });
  return async (app = defaultApp, options) => {
    if (app === undefined) throw new Error('listen() needs an app: this file has no default one');
    listener = await startListener(app, options);
    return listener;
  };
}

/** A raw socket to the listener that collects everything it receives. */
export interface RawPeer {
  socket: Socket;
  received(): Buffer;
  /** Resolves when the listener closed the connection. */
  closed: Promise<void>;
  /** Resolves once the received bytes satisfy `test` (or rejects after `timeoutMs`). */
  until(test: (bytes: Buffer) => boolean, timeoutMs?: number): Promise<Buffer>;
  /** Resolves when END_REQUEST for `id` has arrived. */
  untilEnd(id: number, timeoutMs?: number): Promise<ParsedRecord[]>;
}

/** Connects a RawPeer to `port`. */
export async function rawPeer(port: number): Promise<RawPeer> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const chunks: Buffer[] = [];
  const waiters = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    for (const wake of waiters) wake();
  });
  let isClosed = false;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  void closed.then(() => {
    isClosed = true;
    for (const wake of waiters) wake();
  });
  const received = (): Buffer => Buffer.concat(chunks);
  const until = (test: (bytes: Buffer) => boolean, timeoutMs = 5000): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const bytes = received();
        if (test(bytes)) {
          waiters.delete(check);
          clearTimeout(timer);
          resolve(bytes);
        } else if (isClosed) {
          waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`connection closed; received ${bytes.length} bytes`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out; received ${received().length} bytes`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  const untilEnd = async (id: number, timeoutMs?: number): Promise<ParsedRecord[]> => {
    const hasEnd = (bytes: Buffer): boolean => {
      try {
        return parseRecords(bytes).some((r) => r.type === 3 && r.id === id);
      } catch {
        return false;
      }
    };
    return parseRecords(await until(hasEnd, timeoutMs));
  };
  return { socket, received, closed, until, untilEnd };
}
