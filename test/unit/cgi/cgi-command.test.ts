// `tsgi cgi` as a web server runs it: a real process per request (httpoxy, bad requests, stdin, EPIPE, exit).
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCgi, TSGI_BIN } from '../../helpers/spawn-cgi.js';

const fixture = (name: string): string => new URL(`../../fixtures/apps/${name}`, import.meta.url).pathname;
const APPS = new URL('../../conformance/apps.ts', import.meta.url).pathname;
const scratch = mkdtempSync(join(tmpdir(), 'tsgi-cgi-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const GET = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/app',
  PATH_INFO: '',
  QUERY_STRING: '',
  SERVER_NAME: '127.0.0.1',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('latin1');

describe('tsgi cgi: httpoxy', () => {
  it('hides HTTP_PROXY from the module body and child processes, keeps it in the environ and keeps http_proxy', async () => {
    const result = await spawnCgi(
      fixture('httpoxy.ts'),
      { ...GET, HTTP_PROXY: 'http://attacker.invalid:8080' },
      { env: { http_proxy: 'http://admin-proxy.invalid:3128' } },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(text(result.body)).toBe(
      'module=<unset>\nchild=<unset>\nenviron=http://attacker.invalid:8080\nlower=http://admin-proxy.invalid:3128\n',
    );
  });
});

describe('tsgi cgi: requests it cannot serve', () => {
  it('answers 400 with one stderr line when REQUEST_METHOD is missing', async () => {
    const { REQUEST_METHOD: _omitted, ...vars } = GET;
    const result = await spawnCgi(fixture('hello.ts'), vars);
    expect(result.status).toBe(400);
    // The reason goes to the web server's error log, never to the client (the same page on every front end).
    expect(text(result.body)).toBe('Bad Request\n');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/bad request in .*REQUEST_METHOD/);
  });

  it('answers 400 without running the app when CONTENT_LENGTH is not a number', async () => {
    const result = await spawnCgi(`${APPS}#bodyReport`, {
      ...GET,
      REQUEST_METHOD: 'POST',
      CONTENT_LENGTH: '1e3',
    });
    expect(result.status).toBe(400);
    expect(text(result.body)).toBe('Bad Request\n');
    expect(result.stderr).toContain('CONTENT_LENGTH');
    expect(text(result.body)).not.toContain('read');
  });

  it('answers 500 and logs the stack when the app throws', async () => {
    const result = await spawnCgi(fixture('throws.ts'), GET);
    expect(result.status).toBe(500);
    expect(result.stderr).toContain('fixture: this app always throws');
    expect(result.exitCode).toBe(0);
  });
});

describe('tsgi cgi: loading APP under a web server', () => {
  it('answers 500 and logs one line when the APP module throws while it is imported', async () => {
    const result = await spawnCgi(fixture('throws-on-import.ts'), GET);
    expect(result.status).toBe(500);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('fixture: this module fails at import');
  });

  it('answers 500 and logs one line when the APP file is missing', async () => {
    const result = await spawnCgi('/nonexistent/app.ts', GET);
    expect(result.status).toBe(500);
    expect(result.stderr).toContain("cannot find APP '/nonexistent/app.ts'");
  });

  it("loads a .ts app that imports './lib.js' for lib.ts (falls back from type stripping to esbuild)", async () => {
    const result = await spawnCgi(fixture('with-lib/app.ts'), GET);
    expect(result.stderr).toBe('');
    expect(text(result.body)).toBe('hello from lib.ts\n');
  });
});

describe('tsgi cgi: the request body', () => {
  it('never reads stdin past CONTENT_LENGTH', async () => {
    // stdin is a file: its offset is shared with the child, so what the child did not read is still there.
    const file = join(scratch, 'stdin.bin');
    writeFileSync(file, 'BODY-0123456789NEXT-REQUEST-BYTES');
    const fd = openSync(file, 'r');
    try {
      const result = await spawnCgi(
        `${APPS}#echoBody`,
        { ...GET, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '15' },
        { stdinFd: fd },
      );
      expect(text(result.body)).toBe('BODY-0123456789');
      const rest = Buffer.alloc(64);
      const length = readSync(fd, rest, 0, 64, null);
      expect(rest.toString('latin1', 0, length)).toBe('NEXT-REQUEST-BYTES');
    } finally {
      closeSync(fd);
    }
  });

  it('takes the unread body off stdin before responding, and not one byte more', async () => {
    // An app that answers without reading: the runner still drains CONTENT_LENGTH bytes (Apache writes the
    // whole body before it reads output), leaving what follows untouched.
    const file = join(scratch, 'unread.bin');
    writeFileSync(file, 'UNREADNEXT');
    const fd = openSync(file, 'r');
    try {
      const result = await spawnCgi(
        fixture('hello.ts'),
        { ...GET, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '6' },
        { stdinFd: fd },
      );
      expect(result.status).toBe(200);
      const rest = Buffer.alloc(16);
      expect(rest.toString('latin1', 0, readSync(fd, rest, 0, 16, null))).toBe('NEXT');
    } finally {
      closeSync(fd);
    }
  });
});

describe('tsgi cgi: ending the process', () => {
  it('exits 0 once the response is flushed even when the app keeps a timer alive', async () => {
    const started = Date.now();
    const result = await spawnCgi(fixture('keeps-alive.ts'), GET, { timeoutMs: 10_000 });
    expect(result.signal).toBeNull();
    expect(result.exitCode).toBe(0);
    expect(text(result.body)).toBe('done\n');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stops the app quietly and exits non-zero when the web server closes stdout (EPIPE)', async () => {
    const child = spawn(process.execPath, [TSGI_BIN, 'cgi', fixture('endless-stream.ts')], {
      env: { PATH: process.env.PATH ?? '', ...GET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Read the head and a little body, then go away as a web server does when its client disconnects.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    expect(signal).toBeNull();
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/endless-stream: closed after \d+ chunks, aborted=true/);
    expect(stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
  });
});

describe('tsgi cgi: cancelled by the web server', () => {
  it('treats SIGTERM as a cancelled request: tsgi.signal aborts, close() runs, the exit status is non-zero', async () => {
    const child = spawn(process.execPath, [TSGI_BIN, 'cgi', fixture('endless-stream.ts')], {
      env: { PATH: process.env.PATH ?? '', ...GET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', () => undefined);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    expect(signal).toBeNull();
    expect(code).toBe(1);
    expect(stderr).toMatch(/endless-stream: closed after \d+ chunks, aborted=true/);
  });
});

describe('tsgi cgi: the command line', () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [TSGI_BIN, 'cgi', ...args], {
        env: { PATH: process.env.PATH ?? '' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('prints usage with an example for --help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('usage: tsgi cgi APP');
    expect(stdout).toContain('exec /usr/bin/node');
  });

  it('fails with one line and a hint when APP is missing', async () => {
    const { code, stderr } = await run([]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('missing APP');
  });

  it('fails with one line naming the path when the APP file does not exist', async () => {
    const { code, stderr } = await run(['/nonexistent/app.ts']);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain("cannot find APP '/nonexistent/app.ts'");
  });

  it('fails with one line listing the exports when the default export is not an application', async () => {
    const { code, stderr } = await run([APPS]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/exports nothing as 'default'.*pick one with .*apps\.ts#/);
  });
});
