// Where a FastCGI listener listens: parsing addresses, binding TCP / unix / inherited sockets, socket files.
import { chmodSync, chownSync, fstatSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { connect, isIPv6, type Server } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { probeStdin, StdinKind } from '../shared/stdin-probe.js';

/**
 * FCGI_LISTENSOCK_FILENO (FastCGI 1.0 §2.2): a web server that starts the application itself (lighttpd
 * `bin-path`, spawn-fcgi, mod_fcgid) hands it the listening socket as file descriptor 0.
 */
export const FCGI_LISTENSOCK_FILENO = 0;

/** The first descriptor systemd passes with socket activation (sd_listen_fds(3): SD_LISTEN_FDS_START). */
export const SD_LISTEN_FDS_START = 3;

/** Unix socket mode when none is given: the owner and its group (the web server's) may connect, nobody else. */
export const DEFAULT_SOCKET_MODE = 0o660;

/** One place to listen. */
export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }
  | { readonly kind: 'fd'; readonly fd: number; readonly origin: 'inherited' | 'systemd' };

/** Options for unix socket files. */
export interface SocketFileOptions {
  /** File mode of a unix socket (default 0o660); a mode that lets others write is refused. */
  socketMode?: number;
  /** Owner of the socket file: a user name or uid (needs root to change). */
  socketOwner?: string | number;
  /** Group of the socket file: a group name or gid (e.g. the web server's group, `www-data`). */
  socketGroup?: string | number;
}

/**
 * Parses a listen address: `host:port`, `[v6]:port`, a bare port (127.0.0.1), `unix:/path`, a path (anything
 * with a `/`) or `fd:N` (an inherited listening socket). Throws an Error whose message is one line.
 */
export function parseListenAddress(text: string): ListenAddress {
  const value = text.trim();
  if (value.startsWith('unix:')) return unixAddress(value.slice('unix:'.length), text);
  if (value.startsWith('fd:')) {
    const fd = Number(value.slice(3));
    if (!Number.isInteger(fd) || fd < 0) throw new Error(`bad listen address '${text}': fd:N needs a number`);
    return { kind: 'fd', fd, origin: fd >= SD_LISTEN_FDS_START ? 'systemd' : 'inherited' };
  }
  if (/^\d+$/.test(value)) return { kind: 'tcp', host: '127.0.0.1', port: parsePort(value, text) };
  const bracketed = /^\[([0-9a-fA-F:.%a-zA-Z]+)\]:(\d+)$/.exec(value);
  if (bracketed) {
    const host = bracketed[1] ?? '';
    if (!isIPv6(host)) throw new Error(`bad listen address '${text}': ${host} is not an IPv6 address`);
    return { kind: 'tcp', host, port: parsePort(bracketed[2] ?? '', text) };
  }
  if (value.includes('/')) return unixAddress(value, text);
  const colon = value.lastIndexOf(':');
  if (colon > 0 && !value.slice(0, colon).includes(':')) {
    return { kind: 'tcp', host: value.slice(0, colon), port: parsePort(value.slice(colon + 1), text) };
  }
  throw new Error(
    `bad listen address '${text}' (want HOST:PORT, [IPV6]:PORT, unix:/PATH, /PATH or fd:N; an IPv6 host goes in brackets)`,
  );
}

function unixAddress(path: string, text: string): ListenAddress {
  if (path === '') throw new Error(`bad listen address '${text}': empty socket path`);
  return { kind: 'unix', path: resolvePath(path) };
}

function parsePort(digits: string, text: string): number {
  const port = Number(digits);
  if (!/^\d+$/.test(digits) || port > 65535) throw new Error(`bad listen address '${text}': bad port`);
  return port;
}

/** The address written the way `parseListenAddress` reads it (used in log lines). */
export function formatListenAddress(address: ListenAddress): string {
  switch (address.kind) {
    case 'tcp':
      return isIPv6(address.host) ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
    case 'unix':
      return `unix:${address.path}`;
    case 'fd':
      return address.origin === 'systemd' ? `fd:${address.fd} (systemd)` : `fd:${address.fd} (inherited)`;
  }
}

/** True when file descriptor `fd` is a socket (fd 0 of a process lighttpd or spawn-fcgi started). */
export function isSocketDescriptor(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/**
 * The sockets systemd passed (sd_listen_fds(3)): LISTEN_PID must be this process, LISTEN_FDS how many, from
 * fd 3. The variables are removed from `env` so that child processes do not take them for their own.
 */
export function systemdAddresses(env: NodeJS.ProcessEnv = process.env, pid = process.pid): ListenAddress[] {
  const count = Number(env.LISTEN_FDS);
  if (env.LISTEN_PID !== String(pid) || !Number.isInteger(count) || count <= 0) return [];
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  return Array.from({ length: count }, (_, i) => ({
    kind: 'fd' as const,
    fd: SD_LISTEN_FDS_START + i,
    origin: 'systemd' as const,
  }));
}

/**
 * The addresses to use when none was given: systemd's sockets, else fd 0 when it is a socket (the web server
 * started us), else an empty list (the caller says how to pass an address).
 */
export function defaultAddresses(env: NodeJS.ProcessEnv = process.env): ListenAddress[] {
  const systemd = systemdAddresses(env);
  if (systemd.length > 0) return systemd;
  // Only a listening socket is FCGI_LISTENSOCK_FILENO: a connected one is a CGI server's socketpair stdin
  // (mod_cgid, node's 'pipe' stdio). A socket whose state /proc does not show is tried (listen says EINVAL).
  const stdin = probeStdin(FCGI_LISTENSOCK_FILENO).kind;
  if (stdin === StdinKind.ListeningSocket || stdin === StdinKind.Socket) {
    return [{ kind: 'fd', fd: FCGI_LISTENSOCK_FILENO, origin: 'inherited' }];
  }
  return [];
}

/**
 * Makes room for a unix socket at `path`: a stale socket file (nothing accepts on it) is removed; a live
 * one, or a file that is not a socket, is an error — never delete what another process is using.
 */
export async function clearStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    // ECONNREFUSED: no listener, the file is left over from a process that died (stale).
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code !== 'ECONNREFUSED'));
  });
  if (live) throw new Error(`${path} is in use: another process is listening on it`);
  unlinkSync(path);
}

/** Refuses a socket mode that lets anyone write (connect) — the web server's group is what to open it to. */
export function checkSocketMode(mode: number): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw new Error(`bad socket mode ${String(mode)} (want an octal mode such as 660)`);
  }
  if ((mode & 0o002) !== 0) {
    throw new Error(
      `socket mode ${mode.toString(8)} is world-writable: any local user could send requests (use 660 and --socket-group)`,
    );
  }
}

/** Parses an octal mode given on the command line (`660`, `0660`, `0o660`). */
export function parseSocketMode(text: string): number {
  const digits = text.replace(/^0o/i, '');
  if (!/^[0-7]{3,4}$/.test(digits)) throw new Error(`bad socket mode '${text}' (want octal, e.g. 660)`);
  return parseInt(digits, 8);
}

/**
 * Binds `server` to `address` and resolves once it listens. A unix socket is created under a umask that
 * leaves it closed to others from the first instant (no window with a looser mode), then chmod/chown'ed.
 * `shared` is for cluster workers: the primary has already cleared the path and binds with its own umask.
 */
export async function listenOn(
  server: Server,
  address: ListenAddress,
  options: SocketFileOptions & { backlog?: number; shared?: boolean } = {},
): Promise<void> {
  const backlog = options.backlog ?? 511;
  if (address.kind === 'unix') {
    const mode = options.socketMode ?? DEFAULT_SOCKET_MODE;
    checkSocketMode(mode);
    // Names are resolved before anything is created: an unknown user or group leaves no socket behind.
    const ids = socketIds(options);
    if (options.shared === true) {
      await listenWith(server, () => server.listen({ path: address.path, backlog }));
    } else {
      await clearStaleSocket(address.path);
      // bind(2) creates the file with 0777 & ~umask; node binds synchronously inside listen().
      const previous = process.umask(0o777 & ~mode);
      try {
        await listenWith(server, () => server.listen({ path: address.path, backlog }));
      } finally {
        process.umask(previous);
      }
    }
    try {
      applySocketFileOptions(address.path, mode, ids);
    } catch (error) {
      // Not serving a socket with the wrong owner or mode: close it (which also removes the file).
      await new Promise((resolve) => server.close(resolve));
      throw error;
    }
    return;
  }
  if (address.kind === 'tcp') {
    await listenWith(server, () => server.listen({ host: address.host, port: address.port, backlog }));
    return;
  }
  checkInheritedSocket(address);
  await listenWith(server, () => server.listen({ fd: address.fd, backlog }));
}

/**
 * Throws an ENOTSOCK error naming the descriptor when `address` is no socket: node answers listen() on one
 * with a bare EINVAL (a systemd unit whose LISTEN_FDS counts a file, a launcher that closed fd 0).
 */
export function checkInheritedSocket(address: ListenAddress & { kind: 'fd' }): void {
  const probe = probeStdin(address.fd);
  if (isSocketKind(probe.kind)) return;
  const error: NodeJS.ErrnoException = new Error(
    `${formatListenAddress(address)} is not a socket: ${probe.detail}`,
  );
  error.code = 'ENOTSOCK';
  throw error;
}

/** The numeric owner and group a socket file should get (-1: leave as it is). */
export interface SocketIds {
  uid: number;
  gid: number;
}

/** Resolves `socketOwner`/`socketGroup` to ids; throws a one-line error for a name the system does not know. */
export function socketIds(options: SocketFileOptions): SocketIds {
  return {
    uid: options.socketOwner === undefined ? -1 : lookupId(options.socketOwner, '/etc/passwd', 'user'),
    gid: options.socketGroup === undefined ? -1 : lookupId(options.socketGroup, '/etc/group', 'group'),
  };
}

/** chmod + chown of a socket file (also run by each cluster worker: cluster binds in the primary). */
export function applySocketFileOptions(path: string, mode: number, ids: SocketIds): void {
  chmodSync(path, mode);
  if (ids.uid !== -1 || ids.gid !== -1) chownSync(path, ids.uid, ids.gid);
}

/**
 * A user or group name (or number) as a numeric id, from /etc/passwd or /etc/group: Node has no getpwnam,
 * and the socket's owner is set once at start, so reading the local database is enough.
 */
export function lookupId(nameOrId: string | number, database: string, what: 'user' | 'group'): number {
  if (typeof nameOrId === 'number' || /^\d+$/.test(nameOrId)) return Number(nameOrId);
  const entry = readFileSync(database, 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === nameOrId);
  const id = entry?.[2];
  if (id === undefined) throw new Error(`unknown ${what} '${nameOrId}' (not in ${database})`);
  return Number(id);
}

function isSocketKind(kind: StdinKind): boolean {
  return (
    kind === StdinKind.ListeningSocket || kind === StdinKind.ConnectedSocket || kind === StdinKind.Socket
  );
}

function listenWith(server: Server, start: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    start();
  });
}
