// Golden-bytes builders for FastCGI tests (from the conformance kit), a loopback test listener and a raw peer.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import type { Application } from '../../src/shared/types.js';
import { FastCgiConnection } from '../../src/fastcgi/connection.js';
import type { ConnectionOptions } from '../../src/fastcgi/connection-options.js';

// The golden-bytes builders live once, in the conformance kit (written from the spec, not from protocol.ts).
export {
  GET_VARS,
  beginRequest,
  pairLength,
  pairs,
  parseRecords,
  record,
  stdoutOf,
  wholeRequest,
  type ParsedRecord,
} from '../../src/fastcgi/conform/bytes.js';
import { parseRecords, type ParsedRecord } from '../../src/fastcgi/conform/bytes.js';

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
