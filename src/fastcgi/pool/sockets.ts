// The pool's listening sockets: bound once by the primary and held for its whole life, passed to every worker.
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { getSystemErrorName } from 'node:util';
import {
  applySocketFileOptions,
  checkInheritedSocket,
  checkSocketMode,
  clearStaleSocket,
  DEFAULT_SOCKET_MODE,
  formatListenAddress,
  socketIds,
  type ListenAddress,
  type SocketFileOptions,
} from '../listen.js';

/** A bound socket handle (node's TCP or Pipe wrap); only its descriptor and close are used. */
interface BoundHandle {
  readonly fd: number;
  close(callback?: () => void): void;
  getsockname?(out: { port?: number }): number;
}

// node:net's bind-without-listen (what node:cluster's primary uses for shared handles). It is the one way to
// hold a socket in a process that must never accept on it: a listening net.Server would take connections too.
const createServerHandle = (
  net as unknown as {
    _createServerHandle(
      address: string | null,
      port: number,
      addressType: number,
      fd?: number,
    ): BoundHandle | number;
  }
)._createServerHandle;

/** The sockets a pool serves on. */
export interface PoolSockets {
  /** Descriptors in this process, in address order (passed to each worker as extra stdio). */
  readonly fds: readonly number[];
  /** The addresses as the start line writes them (TCP port 0 resolved). */
  readonly names: readonly string[];
  /** Local TCP ports bound (for the listen queue, read from /proc/net/tcp). */
  readonly tcpPorts: readonly number[];
  /** Closes every socket (a unix socket's file is removed). */
  close(): void;
}

/**
 * Binds every address once, here: the sockets then outlive any worker, so a crashed or reloaded worker never
 * leaves a moment with nothing bound (connections wait in the kernel's backlog until a worker accepts).
 * Workers call listen(2) on their copy; the socket listens from the first one on.
 */
export async function bindPoolSockets(
  addresses: readonly ListenAddress[],
  options: SocketFileOptions = {},
): Promise<PoolSockets> {
  const mode = options.socketMode ?? DEFAULT_SOCKET_MODE;
  checkSocketMode(mode);
  const ids = socketIds(options);
  const handles: BoundHandle[] = [];
  const fds: number[] = [];
  const names: string[] = [];
  const tcpPorts: number[] = [];
  const close = (): void => {
    for (const handle of handles) handle.close();
  };
  try {
    for (const address of addresses) {
      if (address.kind === 'fd') {
        // Inherited (systemd): already a socket in this process; workers get a copy of the descriptor.
        checkInheritedSocket(address);
        fds.push(address.fd);
        names.push(formatListenAddress(address));
        continue;
      }
      let handle: BoundHandle | number;
      if (address.kind === 'unix') {
        await clearStaleSocket(address.path);
        // bind(2) creates the file with 0777 & ~umask: closed to others from the first instant, then chmod'ed.
        const previous = process.umask(0o777 & ~mode);
        try {
          handle = createServerHandle(address.path, -1, -1);
        } finally {
          process.umask(previous);
        }
      } else {
        handle = createServerHandle(address.host, address.port, net.isIPv6(address.host) ? 6 : 4);
      }
      if (typeof handle === 'number') throw bindError(handle, formatListenAddress(address));
      handles.push(handle);
      fds.push(handle.fd);
      if (address.kind === 'unix') {
        applySocketFileOptions(address.path, mode, ids);
        names.push(formatListenAddress(address));
      } else {
        const bound: { port?: number } = {};
        handle.getsockname?.(bound);
        // libuv defers a bind's EADDRINUSE to listen(); an unbound socket shows port 0, and a worker's listen(2)
        // would quietly bind it to a random port. Say it here, as net.Server.listen would have.
        if (!bound.port) throw bindError(-98, formatListenAddress(address));
        const port = bound.port;
        tcpPorts.push(port);
        names.push(formatListenAddress({ ...address, port }));
      }
    }
  } catch (error) {
    close();
    throw error;
  }
  return { fds, names, tcpPorts, close };
}

// A negative errno from the bind, as the error net.Server.listen would have raised (EADDRINUSE, EACCES, …).
function bindError(errno: number, address: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(errno > 0 ? -errno : errno);
  const error: NodeJS.ErrnoException = new Error(`listen ${code}: ${address}`);
  error.code = code;
  error.errno = errno;
  return error;
}

/**
 * The accept queue of the pool's TCP sockets now and its limit, summed over the ports (Linux: for a listening
 * socket /proc/net/tcp shows the queue in rx_queue and the backlog in tx_queue). Unix sockets show neither.
 */
export function listenQueue(ports: readonly number[]): { length: number; limit: number } {
  let length = 0;
  let limit = 0;
  if (ports.length === 0) return { length, limit };
  const wanted = new Set(ports.map((port) => port.toString(16).toUpperCase().padStart(4, '0')));
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const state = fields[3];
      const queues = fields[4];
      if (local === undefined || state !== '0A' || queues === undefined) continue;
      if (!wanted.has(local.slice(local.lastIndexOf(':') + 1))) continue;
      const [tx, rx] = queues.split(':');
      length += parseInt(rx ?? '0', 16);
      limit += parseInt(tx ?? '0', 16);
    }
  }
  return { length, limit };
}
