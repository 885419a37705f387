// The listener around the connection: TCP/IPv6/unix, who may connect, listener-wide limits, graceful stop.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi, type FastCgiClient } from '../../../src/fastcgi/client.js';
import { createFastCgiServer, type FastCgiServer } from '../../../src/fastcgi/server.js';
import { ProtocolStatus } from '../../../src/fastcgi/protocol.js';
import type { Application, Environ } from '../../../src/shared/types.js';
import { isRoot } from '../../helpers/tools.js';

const encoder = new TextEncoder();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const PARAMS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/',
  QUERY_STRING: 'q=1',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

// Answers `hello <QUERY_STRING>`; `wait` in the query holds the response until `release()` is called.
function makeApp(): { app: Application; release(): void; seen: Environ[] } {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const seen: Environ[] = [];
  const app: Application = async (environ, startResponse) => {
    seen.push(environ);
    if (environ.QUERY_STRING.includes('wait')) {
      await Promise.race([
        gate,
        new Promise((resolve) => environ['tsgi.signal'].addEventListener('abort', resolve)),
      ]);
    }
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return [encoder.encode(`hello ${environ.QUERY_STRING}`)];
  };
  return { app, release: () => release(), seen };
}

describe('FastCgiServer', () => {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(
    app: Application,
    address: string,
    options: Parameters<typeof createFastCgiServer>[1] = {},
  ): Promise<{ server: FastCgiServer; address: string; logs: string[] }> {
    const logs: string[] = [];
    const server = createFastCgiServer(app, { log: (line) => logs.push(line), ...options });
    await server.listen(address);
    cleanups.push(() => server.close(100));
    return { server, address: server.addresses[0]!, logs };
  }

  async function client(address: string): Promise<FastCgiClient> {
    const c = await connectFastCgi(address);
    cleanups.push(() => c.destroy());
    return c;
  }

  it('serves over TCP on a port the kernel picks and reports the real port', async () => {
    const { address } = await start(makeApp().app, '127.0.0.1:0');
    expect(address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    const response = await (await client(address)).request({ params: PARAMS }).response();
    expect(response.statusCode).toBe(200);
    expect(response.body.toString()).toBe('hello q=1');
  });

  it('serves over IPv6 loopback', async () => {
    const { address } = await start(makeApp().app, '[::1]:0');
    expect(address).toMatch(/^\[::1\]:\d+$/);
    const response = await (await client(address)).request({ params: PARAMS }).response();
    expect(response.body.toString()).toBe('hello q=1');
  });

  it('serves over a unix socket created 0660, never world-writable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-server-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { address } = await start(makeApp().app, `unix:${join(dir, 'app.sock')}`);
    const mode = statSync(join(dir, 'app.sock')).mode & 0o777;
    expect(mode).toBe(0o660);
    const response = await (await client(address)).request({ params: PARAMS }).response();
    expect(response.body.toString()).toBe('hello q=1');
  });

  it('keeps one connection serving request after request (FCGI_KEEP_CONN)', async () => {
    const { address, server } = await start(makeApp().app, '127.0.0.1:0');
    const c = await client(address);
    for (let i = 0; i < 3; i++) {
      const response = await c.request({ params: { ...PARAMS, QUERY_STRING: `n=${i}` } }).response();
      expect(response.body.toString()).toBe(`hello n=${i}`);
    }
    expect(server.connectionCount).toBe(1);
  });

  describe('FCGI_WEB_SERVER_ADDRS', () => {
    it('refuses a TCP peer not in the list with one log line, and keeps serving listed peers', async () => {
      const refused = await start(makeApp().app, '127.0.0.1:0', { webServerAddrs: '10.9.8.7' });
      const c = await client(refused.address);
      await expect(c.request({ params: PARAMS }).response()).rejects.toThrow(/closed/);
      expect(refused.logs).toEqual([
        expect.stringMatching(
          /refused a connection from 127\.0\.0\.1: not in FCGI_WEB_SERVER_ADDRS=10\.9\.8\.7/,
        ),
      ]);

      const allowed = await start(makeApp().app, '127.0.0.1:0', { webServerAddrs: '10.9.8.7, 127.0.0.1' });
      const response = await (await client(allowed.address)).request({ params: PARAMS }).response();
      expect(response.body.toString()).toBe('hello q=1');
      expect(allowed.logs).toEqual([]);
    });

    it('takes the list from the FCGI_WEB_SERVER_ADDRS environment variable', async () => {
      process.env.FCGI_WEB_SERVER_ADDRS = '::1';
      try {
        const v4 = await start(makeApp().app, '127.0.0.1:0');
        await expect((await client(v4.address)).request({ params: PARAMS }).response()).rejects.toThrow();
        const v6 = await start(makeApp().app, '[::1]:0');
        expect((await (await client(v6.address)).request({ params: PARAMS }).response()).statusCode).toBe(
          200,
        );
      } finally {
        delete process.env.FCGI_WEB_SERVER_ADDRS;
      }
    });

    it('does not apply to unix sockets, which have no peer address (the socket mode guards them)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgi-server-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const { address } = await start(makeApp().app, join(dir, 's.sock'), { webServerAddrs: '10.9.8.7' });
      const response = await (await client(address)).request({ params: PARAMS }).response();
      expect(response.statusCode).toBe(200);
    });
  });

  it('closes connections past maxConnections with a log line; the open ones keep serving', async () => {
    const { address, logs } = await start(makeApp().app, '127.0.0.1:0', { maxConnections: 2 });
    const first = await client(address);
    const second = await client(address);
    await first.request({ params: PARAMS }).response();
    await second.request({ params: PARAMS }).response();
    const third = await client(address);
    await expect(third.request({ params: PARAMS }).response()).rejects.toThrow(/closed/);
    expect(logs).toEqual([expect.stringMatching(/2 already open \(--max-connections\)/)]);
    expect((await first.request({ params: PARAMS }).response()).statusCode).toBe(200);
  });

  it('answers FCGI_OVERLOADED past maxRequests in flight over all connections, then serves again', async () => {
    const { app, release } = makeApp();
    const { address } = await start(app, '127.0.0.1:0', { maxRequests: 1 });
    const a = await client(address);
    const b = await client(address);
    const held = a.request({ params: { ...PARAMS, QUERY_STRING: 'wait' } });
    await sleep(50);
    const refused = await b.request({ params: PARAMS }).ended;
    expect(refused.protocolStatus).toBe(ProtocolStatus.Overloaded);
    release();
    expect((await held.response()).body.toString()).toBe('hello wait');
    expect((await b.request({ params: PARAMS }).response()).body.toString()).toBe('hello q=1');
  });

  it('answers FCGI_GET_VALUES with the listener-wide limits', async () => {
    const { address } = await start(makeApp().app, '127.0.0.1:0', { maxConnections: 7, maxRequests: 9 });
    const values = await (
      await client(address)
    ).getValues(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']);
    expect(Object.fromEntries(values)).toEqual({
      FCGI_MAX_CONNS: '7',
      FCGI_MAX_REQS: '9',
      FCGI_MPXS_CONNS: '1',
    });
  });

  it('survives a peer that closes mid-request and serves the next connection', async () => {
    const { app, seen } = makeApp();
    const { address, server } = await start(app, '127.0.0.1:0');
    const dying = await client(address);
    dying.request({ params: { ...PARAMS, QUERY_STRING: 'wait' } }).ended.catch(() => {});
    await sleep(50);
    dying.destroy();
    await sleep(50);
    expect(seen[0]?.['tsgi.signal'].aborted).toBe(true);
    expect(server.connectionCount).toBe(0);
    const response = await (await client(address)).request({ params: PARAMS }).response();
    expect(response.body.toString()).toBe('hello q=1');
  });

  it('passes its limits to every connection: params over maxParamsBytes close that connection only', async () => {
    const { address, logs } = await start(makeApp().app, '127.0.0.1:0', { limits: { maxParamsBytes: 512 } });
    const big = await client(address);
    await expect(
      big.request({ params: { ...PARAMS, HTTP_X_BIG: 'x'.repeat(1000) } }).response(),
    ).rejects.toThrow(/closed/);
    expect(logs).toEqual([expect.stringMatching(/over the 512-byte limit \(maxParamsBytes\)/)]);
    expect((await (await client(address)).request({ params: PARAMS }).response()).statusCode).toBe(200);
  });

  it('closes a kept-alive connection left idle past idleTimeoutMs', async () => {
    const { address, server } = await start(makeApp().app, '127.0.0.1:0', { limits: { idleTimeoutMs: 100 } });
    const c = await client(address);
    await c.request({ params: PARAMS }).response();
    expect(server.connectionCount).toBe(1);
    await new Promise<void>((resolve) => c.once('close', () => resolve()));
    // The listener's side closes once the client's FIN comes back.
    for (let i = 0; i < 50 && server.connectionCount > 0; i++) await sleep(10);
    expect(server.connectionCount).toBe(0);
  });

  it.skipIf(!isRoot('chowning a socket needs') /* throws under CI=true */)(
    'gives the unix socket the owner and group asked for (root only)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tsgi-server-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const path = join(dir, 'owned.sock');
      await start(makeApp().app, `unix:${path}`, { socketOwner: 'www-data', socketGroup: 'www-data' });
      const ids = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((line) => line.startsWith('www-data:'))!
        .split(':');
      const stat = statSync(path);
      expect([stat.uid, stat.gid]).toEqual([Number(ids[2]), Number(ids[3])]);
      expect(stat.mode & 0o777).toBe(0o660);
    },
  );

  describe('close()', () => {
    it('stops accepting, lets the request in flight finish, then closes its connection', async () => {
      const { app, release } = makeApp();
      const { address, server } = await start(app, '127.0.0.1:0');
      const c = await client(address);
      const inFlight = c.request({ params: { ...PARAMS, QUERY_STRING: 'wait' } });
      await sleep(50);
      const stopped = server.close(5000);
      await sleep(20);
      const refused = await new Promise<string>((resolve) => {
        const socket: Socket = connect(Number(address.split(':')[1]), '127.0.0.1');
        socket.once('connect', () => resolve('connected'));
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
      release();
      expect((await inFlight.response()).body.toString()).toBe('hello wait');
      expect(await stopped).toEqual({ drained: true, aborted: 0 });
      expect(c.isClosed).toBe(true);
    });

    it('closes idle kept-alive connections at once', async () => {
      const { address, server } = await start(makeApp().app, '127.0.0.1:0');
      const c = await client(address);
      await c.request({ params: PARAMS }).response();
      expect(await server.close(5000)).toEqual({ drained: true, aborted: 0 });
      expect(server.connectionCount).toBe(0);
    });

    it('aborts what is still running after the timeout, with the request signal fired', async () => {
      const { app, seen } = makeApp();
      const { address, server, logs } = await start(app, '127.0.0.1:0');
      const c = await client(address);
      const call = c.request({ params: { ...PARAMS, QUERY_STRING: 'wait' } });
      call.ended.catch(() => {});
      await sleep(50);
      expect(await server.close(100)).toEqual({ drained: false, aborted: 1 });
      expect(seen[0]?.['tsgi.signal'].aborted).toBe(true);
      expect(logs.at(-1)).toMatch(/1 request\(s\) still running after 100 ms; aborting them/);
    });
  });
});
