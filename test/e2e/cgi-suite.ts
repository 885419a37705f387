// The CGI end-to-end checks shared by the Apache (mod_cgid) and lighttpd (mod_cgi) suites: a real web server
// runs `tsgi cgi` per request through an executable wrapper in its cgi-bin, as www-data.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../helpers/servers.js';
import { TSGI_BIN } from '../helpers/spawn-cgi.js';
import { PAUSE_MS } from '../fixtures/apps/slow-stream.js';

const fixture = (name: string): string => new URL(`../fixtures/apps/${name}`, import.meta.url).pathname;
const APPS = new URL('../conformance/apps.ts', import.meta.url).pathname;

/** cgi-bin script name → APP argument of `tsgi cgi`. */
const SCRIPTS: Record<string, string> = {
  requestLine: `${APPS}#requestLine`,
  pathBytes: `${APPS}#pathBytes`,
  redirect: `${APPS}#redirect`,
  notFound: `${APPS}#notFound`,
  environ: fixture('echo-environ.ts'),
  upload: fixture('upload-echo.ts'),
  stream: fixture('slow-stream.ts'),
  httpoxy: fixture('httpoxy.ts'),
  throws: fixture('throws.ts'),
  endless: fixture('endless-stream.ts'),
};

/**
 * Writes one executable wrapper per script into `cgiBin` (mode 0755: the server's user runs them). It execs the
 * Node running the tests, so the Node 24 pass of the suite serves through Node 24 too.
 */
export function writeCgiScripts(cgiBin: string): void {
  mkdirSync(cgiBin, { recursive: true, mode: 0o755 });
  chmodSync(cgiBin, 0o755);
  for (const [name, app] of Object.entries(SCRIPTS)) {
    const file = join(cgiBin, name);
    writeFileSync(file, `#!/bin/sh\nexec ${process.execPath} ${TSGI_BIN} cgi ${app}\n`, { mode: 0o755 });
    chmodSync(file, 0o755);
  }
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** ms from sending the request to the first body byte, and to the end of the body. */
  firstByteMs: number;
  totalMs: number;
}

/** One HTTP/1.1 request over a fresh connection; `path` goes on the wire exactly as given (percent-escapes kept). */
export function send(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(`${base}${path}`, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: false,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let firstByteMs = -1;
      res.on('data', (chunk: Buffer) => {
        if (firstByteMs < 0) firstByteMs = performance.now() - started;
        chunks.push(chunk);
      });
      res.once('error', reject);
      res.once('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          firstByteMs,
          totalMs: performance.now() - started,
        }),
      );
    });
    req.end(options.body);
  });
}

/** Registers the CGI end-to-end tests against the server `start` brings up (its cgi-bin at /cgi-bin/). */
export function cgiEndToEnd(
  start: () => Promise<RunningServer>,
  expectations: { proxyHeaderReachesCgi: boolean },
): void {
  let server: RunningServer;
  let base: string;
  beforeAll(async () => {
    server = await start();
    base = `${server.url}/cgi-bin`;
  });
  afterAll(async () => server?.stop());

  const check = (reply: Reply, status: number): void => {
    expect(
      reply.status,
      `${reply.body.toString('latin1').slice(0, 300)}\n--- server log ---\n${server.log()}`,
    ).toBe(status);
  };

  it('serves a GET with a query string: the app sees QUERY_STRING undecoded', async () => {
    const reply = await send(base, '/requestLine?name=a%20b&x=1');
    check(reply, 200);
    expect(reply.body.toString()).toBe('GET /cgi-bin/requestLine|?name=a%20b&x=1');
  });

  it('puts the path below the script into PATH_INFO under SCRIPT_NAME', async () => {
    const reply = await send(base, '/requestLine/some/deep/path');
    check(reply, 200);
    expect(reply.body.toString()).toBe('GET /cgi-bin/requestLine|/some/deep/path?');
    const environ = (await send(base, '/environ/x', { headers: { 'X-Test': 'yes' } })).body.toString(
      'latin1',
    );
    expect(environ).toContain('GATEWAY_INTERFACE=CGI/1.1\n');
    expect(environ).toContain('SCRIPT_NAME=/cgi-bin/environ\n');
    expect(environ).toContain('PATH_INFO=/x\n');
    expect(environ).toContain('HTTP_X_TEST=yes\n');
  });

  it('echoes a 5 MiB POST body whose sha256 matches', async () => {
    const body = randomBytes(5 * 1024 * 1024);
    const reply = await send(base, '/upload', {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) },
      body,
    });
    check(reply, 200);
    expect(reply.body.length).toBe(body.length);
    const digest = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
    expect(digest(reply.body)).toBe(digest(body));
  });

  it('streams: the first chunk reaches the client before the app has finished', async () => {
    const reply = await send(base, '/stream');
    check(reply, 200);
    expect(reply.body.toString()).toBe('first\nsecond\nthird\n');
    // The app pauses PAUSE_MS twice after its first chunk; a buffering server would deliver it at the end.
    expect(reply.totalMs - reply.firstByteMs).toBeGreaterThan(PAUSE_MS * 1.5);
  });

  it('passes a redirect on with its status and Location', async () => {
    const reply = await send(base, '/redirect');
    check(reply, 302);
    expect(reply.headers.location).toMatch(/\/elsewhere$/);
  });

  it("passes the app's 404 on with its body", async () => {
    const reply = await send(base, '/notFound/missing');
    check(reply, 404);
    expect(reply.body.toString()).toBe('Not Found: /missing\n');
  });

  it('answers 500 when the app throws, with the stack in the server error log', async () => {
    const reply = await send(base, '/throws');
    check(reply, 500);
    await expect.poll(() => server.log(), { timeout: 5000 }).toContain('fixture: this app always throws');
  });

  it('stops the app (signal aborted, close called) when the client disconnects mid-stream', async () => {
    await new Promise<void>((resolve, reject) => {
      const req = request(`${base}/endless`, { agent: false });
      req.once('error', reject);
      req.once('response', (res) => {
        // The first chunk proves the app is streaming; then the client goes away.
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end();
    });
    // The web server closes the script's stdout; the runner sees EPIPE, aborts tsgi.signal, and the body's
    // close() writes its line to stderr, which the server puts in its error log.
    await expect
      .poll(() => server.log(), { timeout: 20_000, interval: 200 })
      .toMatch(/endless-stream: closed after \d+ chunks, aborted=true/);
  });

  it('keeps a Proxy: request header away from outbound-proxy settings (httpoxy)', async () => {
    const reply = await send(base, '/httpoxy', { headers: { Proxy: 'http://attacker.invalid:8080' } });
    check(reply, 200);
    const lines = reply.body.toString().split('\n');
    expect(lines).toContain('module=<unset>');
    expect(lines).toContain('child=<unset>');
    // Current Apache (2.4.25+) and lighttpd (1.4.41+) drop the header themselves; tsgi copes either way.
    expect(lines).toContain(
      expectations.proxyHeaderReachesCgi ? 'environ=http://attacker.invalid:8080' : 'environ=<unset>',
    );
  });

  it('delivers a non-UTF-8 byte decoded from %E9/%FF into PATH_INFO intact', async () => {
    const reply = await send(base, '/pathBytes/caf%E9%FF');
    check(reply, 200);
    expect(reply.body.toString()).toBe('PATH_INFO bytes: 2f636166e9ff');
  });
}
