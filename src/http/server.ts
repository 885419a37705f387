// The development server: a tsgi application on node:http, like wsgiref's simple_server, with an access log.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { toNodeHandler } from './to-node.js';
import { validate as validateApp } from '../middleware/index.js';
import type { Application, ErrorStream } from '../shared/types.js';
import { formatAccessLine } from './access-log.js';
import { plainAddress } from '../shared/peer-address.js';
import { isClientGoneError } from '../shared/client-gone.js';
import { STDERR } from '../shared/default-log.js';

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Interface to listen on (default `127.0.0.1`: a development server is not for the network). */
  host?: string;
  /** TCP port (default 8000, as wsgiref; 0 asks the kernel for a free one). */
  port?: number;
  /** Listen on a unix socket path or an inherited listening socket instead of `host` and `port`. */
  listen?: { path: string } | { fd: number };
  /** Wrap the application in `validate()` so that every breach of SPEC.md is reported (default false). */
  validate?: boolean;
  /** Where access log lines go (default: stderr); `false` turns the log off. */
  log?: ((line: string) => void) | false;
  /** `tsgi.errors` for the application and the server's own error lines (default: stderr). */
  errors?: ErrorStream;
  /** How long `close()` waits for requests in flight before it cuts their connections (default 5000 ms). */
  closeGraceMs?: number;
}

/** A running development server. */
export interface DevServer {
  /** The underlying node:http server. */
  readonly server: Server;
  /** The address actually bound (the port is the kernel's choice when 0 was asked for). */
  readonly host: string;
  readonly port: number;
  /** `http://host:port/`, ready to open. */
  readonly url: string;
  /**
   * Stops accepting connections, lets requests in flight finish (up to `closeGraceMs`), then cuts what is left;
   * resolves when every connection is closed.
   */
  close(): Promise<void>;
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_PORT = 8000;
const DEFAULT_CLOSE_GRACE_MS = 5000;

/** What node:http itself would answer to bytes it cannot parse; we answer the same but log one line too. */
function clientErrorStatus(code: string | undefined): string {
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/**
 * Serves `app` on node:http: streaming in both directions, keep-alive, HEAD, one access log line per request
 * on stderr, and a 400 (with a log line) for a request that cannot become an environ. The request handling is
 * `toNodeHandler`; this adds the listener, the log and a graceful close.
 *
 * @example
 * const server = await serve(app, { port: 8000, validate: true });
 * console.log(`listening on ${server.url}`);
 */
export function serve(app: Application, options: ServeOptions = {}): Promise<DevServer> {
  const errors = options.errors ?? STDERR;
  const log = options.log === false ? undefined : (options.log ?? ((line) => errors.write(line + '\n')));
  let closing = false;

  const handler = toNodeHandler(options.validate === true ? validateApp(app) : app, {
    errors,
    onResponse(report) {
      log?.(formatAccessLine(report));
      // A keep-alive connection that goes idle while the server is closing is closed at once.
      if (closing) setImmediate(() => server.closeIdleConnections());
    },
  });
  // Responses in progress per connection: a parse error on a connection whose response is under way must not
  // write a 400 into the middle of it (node:http's own clientError default makes the same check).
  const responding = new WeakMap<Socket, number>();
  const server = createServer((req, res) => {
    const socket = req.socket;
    responding.set(socket, (responding.get(socket) ?? 0) + 1);
    res.once('close', () => responding.set(socket, (responding.get(socket) ?? 1) - 1));
    handler(req, res);
  });

  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // A client that went away (reset the connection) is not an error worth a line (wsgiref ignores it too).
    if (isClientGoneError(error)) {
      socket.destroy();
      return;
    }
    const status = clientErrorStatus(error.code);
    const from = plainAddress(socket.remoteAddress) ?? '?';
    errors.write(
      `tsgi http: ${status} for a request from ${from} that is not valid HTTP/1.1: ${error.message}\n`,
    );
    if (!socket.writable || (responding.get(socket) ?? 0) > 0) {
      socket.destroy();
      return;
    }
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.once('finish', () => socket.destroy());
  });

  const close = (): Promise<void> =>
    new Promise((resolve) => {
      closing = true;
      const grace = setTimeout(
        () => server.closeAllConnections(),
        options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS,
      );
      grace.unref();
      server.close(() => {
        clearTimeout(grace);
        resolve();
      });
      server.closeIdleConnections();
    });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const listening = (): void => {
      server.off('error', reject);
      // After listen, an 'error' (EMFILE when out of file descriptors, …) is one line, not a crash.
      server.on('error', (error) => errors.write(`tsgi http: server error: ${error.message}\n`));
      const bound = server.address();
      if (typeof bound === 'string' || bound === null) {
        const path = bound ?? 'inherited socket';
        resolve({ server, host: `unix:${path}`, port: 0, url: `unix:${path}`, close });
        return;
      }
      const address = bound as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        server,
        host: address.address,
        port: address.port,
        url: `http://${host}:${address.port}/`,
        close,
      });
    };
    if (options.listen !== undefined) server.listen(options.listen, listening);
    else server.listen(options.port ?? DEFAULT_PORT, options.host ?? DEFAULT_HOST, listening);
  });
}
