// Listen addresses, unix socket files (mode, stale files) and FCGI_WEB_SERVER_ADDRS, without a FastCGI peer.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  clearStaleSocket,
  formatListenAddress,
  listenOn,
  parseListenAddress,
  parseSocketMode,
  systemdAddresses,
} from '../../../src/fastcgi/listen.js';
import { parseWebServerAddrs } from '../../../src/fastcgi/web-server-addrs.js';

describe('parseListenAddress', () => {
  it.each([
    ['127.0.0.1:9000', { kind: 'tcp', host: '127.0.0.1', port: 9000 }],
    ['localhost:9000', { kind: 'tcp', host: 'localhost', port: 9000 }],
    ['9000', { kind: 'tcp', host: '127.0.0.1', port: 9000 }],
    ['[::1]:9000', { kind: 'tcp', host: '::1', port: 9000 }],
    ['[::]:0', { kind: 'tcp', host: '::', port: 0 }],
    ['unix:/run/tsgi.sock', { kind: 'unix', path: '/run/tsgi.sock' }],
    ['/run/tsgi.sock', { kind: 'unix', path: '/run/tsgi.sock' }],
    ['fd:0', { kind: 'fd', fd: 0, origin: 'inherited' }],
    ['fd:3', { kind: 'fd', fd: 3, origin: 'systemd' }],
  ])('reads %s', (text, expected) => {
    expect(parseListenAddress(text)).toEqual(expected);
  });

  it('resolves a relative socket path against the working directory', () => {
    expect(parseListenAddress('./x.sock')).toEqual({ kind: 'unix', path: join(process.cwd(), 'x.sock') });
  });

  it.each(['::1:9000', '127.0.0.1:99999', 'host:', 'unix:', 'fd:x', 'nonsense', '[nothost]:80'])(
    'refuses %s with a one-line message',
    (text) => {
      expect(() => parseListenAddress(text)).toThrow(/bad listen address/);
    },
  );

  it('writes an address back the way it reads it', () => {
    for (const text of ['127.0.0.1:9000', '[::1]:9000', 'unix:/run/tsgi.sock']) {
      expect(formatListenAddress(parseListenAddress(text))).toBe(text);
    }
  });
});

describe('systemdAddresses', () => {
  it('takes LISTEN_FDS sockets from fd 3 only when LISTEN_PID is this process, and clears the variables', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '42', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' };
    expect(systemdAddresses(env, 42)).toEqual([
      { kind: 'fd', fd: 3, origin: 'systemd' },
      { kind: 'fd', fd: 4, origin: 'systemd' },
    ]);
    expect(env).toEqual({});
  });

  it('ignores sockets meant for another process', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_PID: '41', LISTEN_FDS: '1' };
    expect(systemdAddresses(env, 42)).toEqual([]);
    expect(env.LISTEN_FDS).toBe('1');
  });
});

describe('parseSocketMode', () => {
  it('reads octal modes with or without a prefix', () => {
    expect(parseSocketMode('660')).toBe(0o660);
    expect(parseSocketMode('0600')).toBe(0o600);
    expect(parseSocketMode('0o640')).toBe(0o640);
    expect(() => parseSocketMode('rw')).toThrow(/bad socket mode/);
  });
});

describe('unix sockets', () => {
  const servers: Server[] = [];
  let dir = '';
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const fresh = (): string => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-listen-'));
    return dir;
  };
  const listening = async (path: string, mode?: number): Promise<Server> => {
    const server = createServer((socket) => socket.destroy());
    servers.push(server);
    await listenOn(server, { kind: 'unix', path }, mode === undefined ? {} : { socketMode: mode });
    return server;
  };

  it('creates the socket with mode 0660 by default: never world-writable', async () => {
    const path = join(fresh(), 'a.sock');
    await listening(path);
    const mode = statSync(path).mode & 0o777;
    expect(mode).toBe(0o660);
    expect(mode & 0o002).toBe(0);
  });

  it('applies a given mode', async () => {
    const path = join(fresh(), 'b.sock');
    await listening(path, 0o600);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses a world-writable mode before creating anything', async () => {
    const path = join(fresh(), 'c.sock');
    await expect(listening(path, 0o666)).rejects.toThrow(/world-writable/);
    expect(() => statSync(path)).toThrow();
  });

  it('replaces a stale socket file that nothing listens on', async () => {
    const path = join(fresh(), 'd.sock');
    // A process killed while listening leaves its socket file behind (nothing unlinks it).
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    await expect(clearStaleSocket(path)).resolves.toBeUndefined();
    await listening(path);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('refuses a socket another process is listening on', async () => {
    const path = join(fresh(), 'e.sock');
    await listening(path);
    await expect(clearStaleSocket(path)).rejects.toThrow(/in use/);
    await expect(listening(path)).rejects.toThrow(/in use/);
  });

  it('refuses to replace a file that is not a socket', async () => {
    const path = join(fresh(), 'f.sock');
    writeFileSync(path, 'precious');
    await expect(listening(path)).rejects.toThrow(/not a socket/);
    expect(statSync(path).isFile()).toBe(true);
  });
});

describe('parseWebServerAddrs', () => {
  it('allows anyone when unset or empty (FastCGI 1.0 §3.2)', () => {
    expect(parseWebServerAddrs(undefined)).toBeUndefined();
    expect(parseWebServerAddrs(' ')).toBeUndefined();
  });

  it('matches IPv4, IPv6 and v4-mapped peers against the list', () => {
    const filter = parseWebServerAddrs('127.0.0.1, ::1,10.1.0.0/16')!;
    expect(filter.allows('127.0.0.1')).toBe(true);
    expect(filter.allows('::ffff:127.0.0.1')).toBe(true);
    expect(filter.allows('::1')).toBe(true);
    expect(filter.allows('10.1.200.3')).toBe(true);
    expect(filter.allows('::ffff:10.1.2.3')).toBe(true);
    expect(filter.allows('127.0.0.2')).toBe(false);
    expect(filter.allows('::2')).toBe(false);
    expect(filter.allows('10.2.0.1')).toBe(false);
    expect(filter.allows(undefined)).toBe(false);
  });

  it('refuses an entry that is not an address instead of silently dropping it', () => {
    expect(() => parseWebServerAddrs('127.0.0.1,webserver')).toThrow(/'webserver' is not an IP address/);
    expect(() => parseWebServerAddrs('10.0.0.0/33')).toThrow(/bad prefix/);
  });
});
