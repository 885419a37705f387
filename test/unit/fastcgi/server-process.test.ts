// `tsgi fastcgi` as a process: inherited sockets (fd 0, systemd), stop signals, --workers, CLI errors.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi, type FastCgiResponse } from '../../../src/fastcgi/client.js';
import { E2E_APP, startListener, TSGI_BIN, type ListenerProcess } from '../../helpers/fastcgi-process.js';

const PARAMS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/env',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

async function call(address: string, pathInfo: string, query = ''): Promise<FastCgiResponse> {
  const client = await connectFastCgi(address, { keepConn: false });
  try {
    const request = client.request({ params: { ...PARAMS, PATH_INFO: pathInfo, QUERY_STRING: query } });
    request.ended.catch(() => {}); // response() reports the same failure
    return await request.response();
  } finally {
    client.destroy();
  }
}

async function environOf(address: string): Promise<Record<string, unknown>> {
  return JSON.parse((await call(address, '/env')).body.toString()) as Record<string, unknown>;
}

// A listening socket whose fd a child can inherit; the parent closes its copy once the child has it.
async function listeningSocket(): Promise<{ server: Server; fd: number; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  const address = server.address();
  return { server, fd, port: typeof address === 'object' && address ? address.port : 0 };
}

describe('tsgi fastcgi (process)', () => {
  const listeners: ListenerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop('SIGKILL')));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const track = (listener: ListenerProcess): ListenerProcess => {
    listeners.push(listener);
    return listener;
  };

  it('prints one start line with the address and the pool: one supervised worker when it binds its own address', async () => {
    const listener = track(await startListener(['--listen', '127.0.0.1:0']));
    expect(listener.log()).toMatch(
      /^tsgi fastcgi: listening on 127\.0\.0\.1:\d+ \(1 worker, primary pid \d+\)\n$/,
    );
    expect((await call(listener.address, '/hello')).body.toString()).toBe('Hello, world!');
    const environ = await environOf(listener.address);
    expect(environ.pid).not.toBe(listener.pid);
    expect(environ['tsgi.multiprocess']).toBe(true);
  });

  it('serves in one process with --workers 0', async () => {
    const listener = track(await startListener(['--listen', '127.0.0.1:0', '--workers', '0']));
    expect(listener.log()).toMatch(/^tsgi fastcgi: listening on 127\.0\.0\.1:\d+ \(1 process, pid \d+\)\n$/);
    expect((await environOf(listener.address)).pid).toBe(listener.pid);
  });

  it('serves a listening socket inherited as fd 0 (FCGI_LISTENSOCK_FILENO), as lighttpd and spawn-fcgi pass it', async () => {
    const { server, fd, port } = await listeningSocket();
    const listener = track(await startListener([], { stdio: [fd, 'pipe', 'pipe'] }));
    server.close();
    expect(listener.address).toBe('fd:0');
    const environ = await environOf(`127.0.0.1:${port}`);
    expect(environ.PATH_INFO).toBe('/env');
    expect(environ.pid).toBe(listener.pid);
  });

  it('serves systemd sockets (LISTEN_FDS from fd 3) when LISTEN_PID names it', async () => {
    const { server, fd, port } = await listeningSocket();
    const listener = track(
      await startListener([], {
        stdio: ['ignore', 'pipe', 'pipe', fd],
        viaShell: 'LISTEN_PID=$$ LISTEN_FDS=1',
      }),
    );
    server.close();
    expect(listener.address).toBe('fd:3');
    expect((await environOf(`127.0.0.1:${port}`)).LISTEN_FDS).toBeUndefined();
  });

  // node's 'pipe' stdio is a connected socketpair: a socket on fd 0 that is not a listening one.
  it.each([
    ['a connected socket', 'pipe'],
    ['not a socket', 'ignore'],
  ] as const)('without --listen, when fd 0 is %s, exits 2 with a one-line hint', (_, stdin) => {
    const result = spawnSync(process.execPath, [TSGI_BIN, 'fastcgi', E2E_APP], {
      encoding: 'utf8',
      stdio: [stdin, 'pipe', 'pipe'],
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /^tsgi fastcgi: nowhere to listen: .*\(hint: pass --listen 127\.0\.0\.1:9000.*\)\n$/,
    );
  });

  it('refuses a world-writable --socket-mode before listening', () => {
    const result = spawnSync(
      process.execPath,
      [TSGI_BIN, 'fastcgi', E2E_APP, '--listen', '/tmp/never.sock', '--socket-mode', '666'],
      { encoding: 'utf8' },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/lets every local user send requests/);
  });

  it('listens on every --listen address at once and names them all in the start line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-proc-'));
    dirs.push(dir);
    const path = join(dir, 'both.sock');
    const listener = track(await startListener(['--listen', '127.0.0.1:0', '--listen', `unix:${path}`]));
    const tcp = /listening on (127\.0\.0\.1:\d+), unix:(\S+) \(1 worker/.exec(listener.log());
    expect(tcp?.[2]).toBe(path);
    expect((await call(tcp![1]!, '/hello')).body.toString()).toBe('Hello, world!');
    expect((await call(`unix:${path}`, '/hello')).body.toString()).toBe('Hello, world!');
  });

  it('exits 1 with one line and leaves no socket behind when --socket-group names no group', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-proc-'));
    dirs.push(dir);
    const path = join(dir, 'nogroup.sock');
    const result = spawnSync(
      process.execPath,
      [
        TSGI_BIN,
        'fastcgi',
        E2E_APP,
        '--listen',
        `unix:${path}`,
        '--listen',
        '127.0.0.1:0',
        '--socket-group',
        'no-such-group',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^tsgi fastcgi: cannot listen: unknown group 'no-such-group' \(not in \/etc\/group\)/,
    );
    expect(existsSync(path)).toBe(false);
  });

  it('exits 1 with one line when a second address is in use, letting go of the first', async () => {
    const first = track(await startListener(['--listen', '127.0.0.1:0']));
    const result = spawnSync(
      process.execPath,
      [TSGI_BIN, 'fastcgi', E2E_APP, '--listen', '127.0.0.1:0', '--listen', first.address],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^tsgi fastcgi: address in use: .*EADDRINUSE.*\(hint: pick another --listen address\)\n$/,
    );
  });

  it('creates a unix socket with --socket-mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-proc-'));
    dirs.push(dir);
    const path = join(dir, 'app.sock');
    const listener = track(await startListener(['--listen', `unix:${path}`, '--socket-mode', '600']));
    expect(listener.address).toBe(`unix:${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await call(listener.address, '/hello')).statusCode).toBe(200);
  });

  it.each(['SIGTERM', 'SIGUSR1'] as const)(
    'on %s stops accepting, finishes the request in flight and exits 0',
    async (signal) => {
      const listener = track(await startListener(['--listen', '127.0.0.1:0']));
      const slow = call(listener.address, '/slow', '800');
      await new Promise((resolve) => setTimeout(resolve, 200));
      listener.child.kill(signal);
      await listener.waitForLog(/stopping, 1 request\(s\) in flight/);
      // Refused, or (when it raced the listening socket's close) accepted by the kernel and reset unanswered.
      await expect(call(listener.address, '/hello')).rejects.toThrow(/ECONNREFUSED|ECONNRESET|closed before/);
      expect((await slow).body.toString()).toBe('slept 800');
      expect(await listener.exited).toBe(0);
      expect(listener.log()).toMatch(/tsgi fastcgi: stopped\n$/);
    },
  );

  it('aborts what is left after --shutdown-timeout and still exits 0', async () => {
    const listener = track(await startListener(['--listen', '127.0.0.1:0', '--shutdown-timeout', '0.3']));
    const slow = call(listener.address, '/slow', '5000');
    await new Promise((resolve) => setTimeout(resolve, 200));
    listener.child.kill('SIGTERM');
    expect(await listener.exited).toBe(0);
    expect(listener.log()).toMatch(/stopped \(1 request\(s\) aborted\)/);
    await expect(slow).resolves.toMatchObject({ appStatus: 1 });
  });

  describe('--workers', () => {
    it('serves from N processes sharing one socket, each with tsgi.multiprocess', async () => {
      const listener = track(await startListener(['--listen', '127.0.0.1:0', '--workers', '2']));
      expect(listener.log()).toMatch(/listening on 127\.0\.0\.1:\d+ \(2 workers, primary pid \d+\)/);
      const pids = new Set<unknown>();
      for (let i = 0; i < 40 && pids.size < 2; i++) {
        const environ = await environOf(listener.address);
        expect(environ['tsgi.multiprocess']).toBe(true);
        pids.add(environ.pid);
      }
      expect(pids.size).toBe(2);
      expect(pids.has(listener.pid)).toBe(false);
    });

    it('shares a unix socket created 0660 by the primary between the workers', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgi-proc-'));
      dirs.push(dir);
      const path = join(dir, 'workers.sock');
      const listener = track(await startListener(['--listen', `unix:${path}`, '--workers', '2']));
      expect(statSync(path).mode & 0o777).toBe(0o660);
      const pids = new Set<unknown>();
      for (let i = 0; i < 40 && pids.size < 2; i++) pids.add((await environOf(`unix:${path}`)).pid);
      expect(pids.size).toBe(2);
      expect(listener.address).toBe(`unix:${path}`);
    });

    it('replaces a crashed worker and keeps serving', async () => {
      const listener = track(await startListener(['--listen', '127.0.0.1:0', '--workers', '1']));
      const before = (await environOf(listener.address)).pid;
      await call(listener.address, '/crash').catch(() => undefined);
      await listener.waitForLog(/worker \d+ exited \(signal SIGKILL\).*; starting a new one in \d+ ms/);
      let after: unknown;
      for (let i = 0; i < 50 && after === undefined; i++) {
        after = await environOf(listener.address).then(
          (environ) => environ.pid,
          () => new Promise((resolve) => setTimeout(() => resolve(undefined), 100)),
        );
      }
      expect(after).toEqual(expect.any(Number));
      expect(after).not.toBe(before);
    });

    it('exits 1 at once with the one line of an APP that fails to load in its workers', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgi-proc-'));
      dirs.push(dir);
      const app = join(dir, 'broken-in-workers.mjs');
      writeFileSync(
        app,
        "if (process.env.TSGI_FASTCGI_WORKER) throw new Error('no database');\nexport default () => [];\n",
      );
      const listener = track(
        await startListener(['--listen', '127.0.0.1:0', '--workers', '1'], { app, waitFor: null }),
      );
      expect(await listener.exited).toBe(1);
      expect(listener.log()).toMatch(/stopped: APP failed to load: no database/);
    });

    it('gives up with exit 1 when workers keep dying before they listen', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgi-proc-'));
      dirs.push(dir);
      const app = join(dir, 'exits-in-workers.mjs');
      writeFileSync(app, 'if (process.env.TSGI_FASTCGI_WORKER) process.exit(2);\nexport default () => [];\n');
      const listener = track(
        await startListener(['--listen', '127.0.0.1:0', '--workers', '1'], { app, waitFor: null }),
      );
      expect(await listener.exited).toBe(1);
      expect(listener.log()).toMatch(
        /stopped: 5 workers in a row exited before listening \(the last with code 2\)/,
      );
    });

    it('on SIGTERM drains every worker and exits 0', async () => {
      const listener = track(await startListener(['--listen', '127.0.0.1:0', '--workers', '2']));
      const slow = call(listener.address, '/slow', '800');
      await new Promise((resolve) => setTimeout(resolve, 200));
      listener.child.kill('SIGTERM');
      expect((await slow).body.toString()).toBe('slept 800');
      expect(await listener.exited).toBe(0);
    });
  });
});
