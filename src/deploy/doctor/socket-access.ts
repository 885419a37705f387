// Can the web server's user connect to a unix socket? Owner, group and mode of the socket and every directory.
import { lstatSync, readFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { Severity, type Finding } from './findings.js';

/** A local user as the kernel checks it: uid, primary gid and supplementary groups. */
export interface UserIds {
  readonly name: string;
  readonly uid: number;
  readonly gids: readonly number[];
}

/** What the check needs to know about one path (the socket or a directory above it). */
export interface PathFacts {
  readonly path: string;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly kind: 'socket' | 'directory' | 'other' | 'missing';
}

// Debian's www-data, then the names other systems give their web server user.
const WEB_SERVER_USERS = ['www-data', 'nginx', 'apache', 'http', 'lighttpd', 'wwwrun', '_www'];

/** `name` (or, without one, the first known web server user) from /etc/passwd and /etc/group. */
export function lookupUser(name?: string, passwd = '/etc/passwd', group = '/etc/group'): UserIds | undefined {
  const users = readFileSync(passwd, 'utf8')
    .split('\n')
    .map((line) => line.split(':'));
  const candidates = name !== undefined ? [name] : WEB_SERVER_USERS;
  const entry = candidates.map((wanted) => users.find((fields) => fields[0] === wanted)).find(Boolean);
  if (entry === undefined) return undefined;
  const [user = '', , uid = '', gid = ''] = entry;
  const gids = new Set([Number(gid)]);
  for (const line of readFileSync(group, 'utf8').split('\n')) {
    const [, , id, members = ''] = line.split(':');
    if (id !== undefined && members.split(',').includes(user)) gids.add(Number(id));
  }
  return { name: user, uid: Number(uid), gids: [...gids] };
}

function kindOf(stat: Stats): PathFacts['kind'] {
  if (stat.isSocket()) return 'socket';
  if (stat.isDirectory()) return 'directory';
  return 'other';
}

/** The socket and each directory above it, from lstat (a missing socket is reported, not thrown). */
export function gatherPathFacts(socketPath: string): PathFacts[] {
  const facts: PathFacts[] = [];
  let path = socketPath;
  for (;;) {
    try {
      const stat = lstatSync(path);
      facts.push({ path, uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777, kind: kindOf(stat) });
    } catch {
      facts.push({ path, uid: -1, gid: -1, mode: 0, kind: 'missing' });
    }
    const parent = dirname(path);
    if (parent === path) break;
    path = parent;
  }
  return facts;
}

/** The permission bits (r=4, w=2, x=1) `user` gets on a path, by the owner → group → other rule. */
function permission(facts: PathFacts, user: UserIds): number {
  if (user.uid === 0) return 7;
  if (facts.uid === user.uid) return (facts.mode >> 6) & 7;
  if (user.gids.includes(facts.gid)) return (facts.mode >> 3) & 7;
  return facts.mode & 7;
}

const octal = (mode: number): string => mode.toString(8).padStart(3, '0');

/**
 * Whether `user` can connect to the socket (`paths[0]`, then its directories up to /): connect(2) needs
 * search (x) on every directory and write (w) on the socket file. `names` turns ids into names for messages.
 */
export function checkSocketAccess(
  paths: readonly PathFacts[],
  user: UserIds,
  names: { user(uid: number): string; group(gid: number): string } = {
    user: String,
    group: String,
  },
): Finding[] {
  const [socket, ...directories] = paths;
  if (socket === undefined) return [];
  const owner = (facts: PathFacts): string => `${names.user(facts.uid)}:${names.group(facts.gid)}`;
  const listen = `tsgi fastcgi app.js --listen unix:${socket.path} --socket-group ${user.name}   (mode 660)`;
  if (socket.kind === 'missing' || socket.kind === 'other') {
    return [
      {
        id: 'socket-missing',
        severity: Severity.Error,
        title: socket.kind === 'missing' ? `no socket at ${socket.path}` : `${socket.path} is not a socket`,
        detail:
          'nginx logs "connect() to unix:... failed (2: No such file or directory)" and answers 502: is the listener running, with this path?',
        fix: { tsgi: listen },
      },
    ];
  }
  const findings: Finding[] = [];
  for (const directory of directories.reverse()) {
    if (directory.kind === 'missing') continue;
    if ((permission(directory, user) & 1) === 0) {
      findings.push({
        id: 'socket-directory',
        severity: Severity.Error,
        title: `${user.name} cannot enter ${directory.path} (${owner(directory)}, mode ${octal(directory.mode)}), so it cannot reach ${socket.path}`,
        detail: 'connect(2) needs search (x) permission on every directory above the socket.',
        fix: {
          shell: `chgrp ${user.name} ${directory.path} && chmod g+x ${directory.path}`,
          systemd:
            'RuntimeDirectory=tsgi + RuntimeDirectoryMode=0750 and Group= the web server group, or put the socket in /run',
        },
      });
    }
  }
  if ((permission(socket, user) & 2) === 0) {
    findings.push({
      id: 'socket-permission',
      severity: Severity.Error,
      title: `${user.name} cannot connect to ${socket.path} (${owner(socket)}, mode ${octal(socket.mode)})`,
      detail: `connect(2) on a unix socket needs write permission on the socket file; nginx logs "connect() to unix:${socket.path} failed (13: Permission denied)" and answers 502.`,
      fix: {
        tsgi: listen,
        systemd: `SocketGroup=${user.name}\nSocketMode=0660`,
        shell: `chgrp ${user.name} ${socket.path} && chmod 660 ${socket.path}   (lost when the listener restarts)`,
      },
    });
  }
  if ((socket.mode & 0o002) !== 0) {
    findings.push({
      id: 'socket-world-writable',
      severity: Severity.Warning,
      title: `${socket.path} is writable by every local user (mode ${octal(socket.mode)})`,
      detail: 'Any local account can send requests straight to the application, past the web server.',
      fix: { tsgi: listen, systemd: `SocketGroup=${user.name}\nSocketMode=0660` },
    });
  }
  if (findings.length === 0) {
    findings.push({
      id: 'socket-ok',
      severity: Severity.Ok,
      title: `${user.name} can connect to ${socket.path} (${owner(socket)}, mode ${octal(socket.mode)})`,
    });
  }
  return findings;
}

/** uid/gid → name from /etc/passwd and /etc/group (ids without a name stay numbers). */
export function idNames(
  passwd = '/etc/passwd',
  group = '/etc/group',
): { user(uid: number): string; group(gid: number): string } {
  const table = (file: string): Map<number, string> => {
    const map = new Map<number, string>();
    try {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id !== undefined) map.set(Number(id), name);
      }
    } catch {
      // no database: numbers it is
    }
    return map;
  };
  const users = table(passwd);
  const groups = table(group);
  return { user: (uid) => users.get(uid) ?? String(uid), group: (gid) => groups.get(gid) ?? String(gid) };
}
