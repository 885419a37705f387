// What file descriptor 0 is (listening socket, connected socket, pipe, terminal…), read from fstat and /proc.
import { fstatSync, readFileSync } from 'node:fs';

/** The kinds of fd 0 that tell the run modes apart. */
export const StdinKind = {
  /** A socket in LISTEN state: FCGI_LISTENSOCK_FILENO (FastCGI 1.0 §2.2), a web server handed it over. */
  ListeningSocket: 'listening-socket',
  /** A connected socket (mod_cgid and inetd-style launchers give CGI programs one). */
  ConnectedSocket: 'connected-socket',
  /** A socket whose state this system does not show (no /proc). */
  Socket: 'socket',
  /** A pipe (CGI request body from Apache mod_cgi, lighttpd mod_cgi, a shell pipeline). */
  Pipe: 'pipe',
  /** A character device: a terminal (a person started the program by hand) or /dev/null. */
  Device: 'device',
  /** A regular file. */
  File: 'file',
  /** fd 0 is not open. */
  Closed: 'closed',
} as const;
/** One kind of fd 0. */
export type StdinKind = (typeof StdinKind)[keyof typeof StdinKind];

/** fd 0 as probed: its kind and a one-line detail for `--explain-mode`. */
export interface StdinProbe {
  readonly kind: StdinKind;
  readonly detail: string;
}

// Linux `__SO_ACCEPTCON` in the Flags column of /proc/net/unix: set on a socket after listen(2).
const SO_ACCEPTCON = 0x10000;
// TCP state 0x0A is TCP_LISTEN in /proc/net/tcp{,6} (include/net/tcp_states.h).
const TCP_LISTEN = 0x0a;

/**
 * Whether the socket with inode `inode` listens, from the kernel's socket tables (the only way to ask without
 * getsockopt(SO_ACCEPTCONN), which Node does not expose). `tables` maps a /proc/net file name to its text.
 * Returns undefined when the inode is in none of them.
 */
export function socketStateFromProc(
  inode: number,
  tables: Readonly<Record<string, string | undefined>>,
): { listening: boolean; family: string } | undefined {
  const wanted = String(inode);
  const unix = tables.unix;
  if (unix !== undefined) {
    for (const line of unix.split('\n').slice(1)) {
      // Num RefCount Protocol Flags Type St Inode [Path]
      const fields = line.trim().split(/\s+/);
      if (fields[6] === wanted) {
        return { listening: (parseInt(fields[3] ?? '0', 16) & SO_ACCEPTCON) !== 0, family: 'unix' };
      }
    }
  }
  for (const name of ['tcp', 'tcp6']) {
    const table = tables[name];
    if (table === undefined) continue;
    for (const line of table.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const fields = line.trim().split(/\s+/);
      if (fields[9] === wanted) {
        return { listening: parseInt(fields[3] ?? '0', 16) === TCP_LISTEN, family: name };
      }
    }
  }
  return undefined;
}

function readProcTable(name: string): string | undefined {
  try {
    return readFileSync(`/proc/self/net/${name}`, 'latin1');
  } catch {
    return undefined;
  }
}

/**
 * Probes file descriptor `fd` (default 0). One fstat(2) for the usual CGI case (a pipe); only a socket costs
 * a look at /proc/self/net, read one table at a time and only until the inode is found.
 */
export function probeStdin(fd = 0): StdinProbe {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch {
    return { kind: StdinKind.Closed, detail: `fd ${fd} is not open` };
  }
  if (stat.isFIFO()) return { kind: StdinKind.Pipe, detail: `fd ${fd} is a pipe` };
  // Not node:tty's isatty: importing node:tty loads node:net and its bindings, ~5 ms of every CGI start.
  if (stat.isCharacterDevice()) {
    return { kind: StdinKind.Device, detail: `fd ${fd} is a character device (a terminal or /dev/null)` };
  }
  if (!stat.isSocket()) return { kind: StdinKind.File, detail: `fd ${fd} is a file` };
  const tables: Record<string, string | undefined> = {};
  for (const name of ['unix', 'tcp', 'tcp6']) {
    tables[name] = readProcTable(name);
    const state = socketStateFromProc(stat.ino, tables);
    if (state !== undefined) {
      return state.listening
        ? { kind: StdinKind.ListeningSocket, detail: `fd ${fd} is a listening ${state.family} socket` }
        : { kind: StdinKind.ConnectedSocket, detail: `fd ${fd} is a connected ${state.family} socket` };
    }
  }
  return { kind: StdinKind.Socket, detail: `fd ${fd} is a socket (state unknown: no /proc/self/net entry)` };
}
