// tsgi build: the single file runs with no node_modules, keeps its code cache safe, and fails clearly.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BuildError, buildApp } from '../../../src/deploy/build-app.js';
import { escapePayload } from '../../../src/deploy/loader.js';
import { main } from '../../../src/cli/main.js';

const HELLO = new URL('../../fixtures/apps/hello.ts', import.meta.url).pathname;
const CGI_VARS = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/hello',
  PATH_INFO: '/x',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsgi-build-unit-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a built file the way a web server runs a CGI program: its path, a clean environment, no arguments. */
function runCgi(file: string, env: Record<string, string>, args: string[] = []) {
  return spawnSync(process.execPath, [file, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    encoding: 'latin1',
  });
}

describe('tsgi build', () => {
  it('writes one executable file that answers a CGI request from a directory with no node_modules', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const result = await buildApp({ app: HELLO, outFile: join(empty, 'hello.cgi') });
    expect(readdirSync(empty)).toEqual(['hello.cgi']);
    expect(statSync(result.outFile).mode & 0o777).toBe(0o755);
    expect(readFileSync(result.outFile, 'latin1').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const run = runCgi(result.outFile, { ...CGI_VARS, TSGI_CACHE_DIR: join(dir, 'cache-a') });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(
      'Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n',
    );
  });

  it('writes a V8 code cache on the first request and loads it on the next', async () => {
    const { outFile, buildId } = await buildApp({ app: HELLO, outFile: join(dir, 'cached.cgi') });
    const cache = join(dir, 'cache-b');
    const env = { ...CGI_VARS, TSGI_CACHE_DIR: cache };
    expect(runCgi(outFile, env).status).toBe(0);
    const files = readdirSync(cache);
    expect(files).toEqual([`${buildId}-${process.version}-${process.arch}.v8`]);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    expect(runCgi(outFile, env, ['--explain-mode']).stdout).toContain(
      `code cache: hit ${join(cache, files[0]!)}`,
    );
  });

  it('does not use a cache directory that other users can write (their file would run as this user)', async () => {
    const { outFile } = await buildApp({ app: HELLO, outFile: join(dir, 'unsafe.cgi') });
    const shared = join(dir, 'shared-cache');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    const env = { ...CGI_VARS, TSGI_CACHE_DIR: shared };
    expect(runCgi(outFile, env).stdout).toContain('Hello, world!');
    expect(readdirSync(shared)).toEqual([]);
    expect(runCgi(outFile, env, ['--explain-mode']).stdout).toContain(
      `code cache: unsafe directory ${shared}`,
    );
  });

  it('turns the cache off with TSGI_CACHE_DIR=off and with --no-code-cache', async () => {
    const { outFile } = await buildApp({ app: HELLO, outFile: join(dir, 'nocache.cgi'), codeCache: false });
    expect(runCgi(outFile, CGI_VARS, ['--explain-mode']).stdout).toContain(
      'code cache: off (built with --no-code-cache)',
    );
    const cached = await buildApp({ app: HELLO, outFile: join(dir, 'off.cgi') });
    const run = runCgi(cached.outFile, { ...CGI_VARS, TSGI_CACHE_DIR: 'off' }, ['--explain-mode']);
    expect(run.stdout).toContain('code cache: off (TSGI_CACHE_DIR)');
  });

  it('removes HTTP_PROXY from process.env before the app module runs, and keeps it in the environ (httpoxy)', async () => {
    const app = join(dir, 'proxy.mjs');
    writeFileSync(
      app,
      `const atLoad = String(process.env.HTTP_PROXY);
export default (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [new TextEncoder().encode(atLoad + ' ' + environ.HTTP_PROXY)];
};
`,
    );
    const { outFile } = await buildApp({ app, outFile: join(dir, 'proxy.cgi') });
    const run = runCgi(outFile, { ...CGI_VARS, HTTP_PROXY: 'http://evil:3128', TSGI_CACHE_DIR: 'off' });
    expect(run.stdout.endsWith('\r\n\r\nundefined http://evil:3128')).toBe(true);
  });

  it("gives the app its own file's import.meta.url, __filename and __dirname: the built file's", async () => {
    const app = join(dir, 'where.mjs');
    writeFileSync(
      app,
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const where = [import.meta.url, import.meta.filename, import.meta.dirname, require.resolve('node:fs')].join(' ');
export default (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [new TextEncoder().encode(where)];
};
`,
    );
    const moved = join(dir, 'moved');
    mkdirSync(moved);
    const { outFile } = await buildApp({ app, outFile: join(moved, 'where.cgi') });
    const run = runCgi(outFile, { ...CGI_VARS, TSGI_CACHE_DIR: 'off' });
    expect(run.stdout.split('\r\n\r\n')[1]).toBe(`file://${outFile} ${outFile} ${moved} node:fs`);
  });

  it('answers 500 with one log line when the app module throws while loading', async () => {
    const app = join(dir, 'broken.mjs');
    writeFileSync(app, "throw new Error('no database');\nexport default () => [];\n");
    const { outFile } = await buildApp({ app, outFile: join(dir, 'broken.cgi') });
    const run = runCgi(outFile, { ...CGI_VARS, TSGI_CACHE_DIR: 'off' });
    expect(run.stdout).toMatch(/^Status: 500 Internal Server Error\r\n/);
    expect(run.stderr).toContain('the application failed to load: Error: no database');
    expect(run.status).toBe(1);
  });

  it('leaves the FastCGI listener out of a --cgi build and refuses to serve FastCGI from it', async () => {
    const auto = await buildApp({ app: HELLO, outFile: join(dir, 'auto.cgi') });
    const cgi = await buildApp({ app: HELLO, outFile: join(dir, 'only.cgi'), mode: 'cgi' });
    expect(cgi.bytes).toBeLessThan(auto.bytes);
    const run = runCgi(cgi.outFile, { TSGI_CACHE_DIR: 'off' }, ['--fastcgi', '--listen', '127.0.0.1:0']);
    // --listen cannot override the mode the file was built for: it is a CGI-only file.
    expect(run.stderr).toContain('built with --cgi; it cannot serve FastCGI');
    expect(run.status).toBe(2);
    expect(readFileSync(cgi.outFile, 'latin1')).not.toContain('FCGI_WEB_SERVER_ADDRS');
  });

  it('prints its usage, with the reasons, when started by hand with no request', async () => {
    const { outFile } = await buildApp({ app: HELLO, outFile: join(dir, 'usage.cgi') });
    const run = runCgi(outFile, { TSGI_CACHE_DIR: 'off' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('usage: usage.cgi');
    expect(run.stderr).toContain('mode: usage');
  });

  it('refuses an app with top-level await, saying how to fix it', async () => {
    const app = join(dir, 'tla.mjs');
    writeFileSync(app, 'await Promise.resolve();\nexport default () => [];\n');
    const error = await buildApp({ app, outFile: join(dir, 'tla.cgi') }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).hint).toMatch(/move the await/);
    expect(existsSync(join(dir, 'tla.cgi'))).toBe(false);
  });

  it('runs a payload that is not pure ASCII (a legal comment with a non-ASCII name) and one full of "*/"', async () => {
    const app = join(dir, 'utf8.mjs');
    writeFileSync(
      app,
      `/*! (c) Zoë Ærø, MIT */
const stars = /a*/.test('aaa') + '*/' + String.raw\`*/\`;
export default (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain; charset=utf-8']]);
  return [new TextEncoder().encode('héllo ' + stars)];
};
`,
    );
    const { outFile } = await buildApp({ app, outFile: join(dir, 'utf8.cgi') });
    expect(readFileSync(outFile, 'utf8')).toContain('Zoë Ærø');
    const run = spawnSync(process.execPath, [outFile], {
      env: { PATH: process.env.PATH, ...CGI_VARS, TSGI_CACHE_DIR: 'off' },
      encoding: 'utf8',
    });
    expect(run.stdout.split('\r\n\r\n')[1]).toBe('héllo true*/*/');
  });

  it('names the package it cannot find and says to install it', async () => {
    const app = join(dir, 'missing-dep.mjs');
    writeFileSync(app, "import x from 'tsgi-no-such-package';\nexport default x;\n");
    const error = await buildApp({ app, outFile: join(dir, 'missing.cgi') }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(BuildError);
    expect((error as BuildError).message).toMatch(
      /Could not resolve "tsgi-no-such-package" \(.*missing-dep\.mjs:1\)/,
    );
    expect((error as BuildError).hint).toMatch(/npm install/);
  });

  it('is a tsgi subcommand with one-line errors', async () => {
    const code = await main(['build', HELLO]);
    expect(code).toBe(2);
  });
});

describe('escapePayload', () => {
  it('removes every comment terminator and the loader can restore the original text', () => {
    const payload = 'a=/x*/.test(s);/* c */b="*/"';
    const { text, escape } = escapePayload(payload);
    expect(text).not.toContain('*/');
    expect(escape).toBeDefined();
    expect(text.replaceAll(`*${escape}/`, '*/')).toBe(payload);
  });

  it('picks a control character the payload does not already contain', () => {
    const payload = `\u0001\u0002 x*/y`;
    const { escape } = escapePayload(payload);
    expect(escape).toBe('\u0003');
  });

  it('leaves a payload without terminators as it is', () => {
    expect(escapePayload('let a = 1;')).toEqual({ text: 'let a = 1;' });
  });
});

describe('a built file serving FastCGI', () => {
  it('says in one line why it cannot listen, and exits 1', async () => {
    const { outFile } = await buildApp({ app: HELLO, outFile: join(dir, 'badlisten.fcgi') });
    const run = runCgi(outFile, { TSGI_CACHE_DIR: 'off' }, ['--listen', 'nowhere']);
    expect(run.stderr).toBe(
      "badlisten.fcgi: cannot serve FastCGI: bad listen address 'nowhere' (want HOST:PORT, [IPV6]:PORT, unix:/PATH, /PATH or fd:N; an IPv6 host goes in brackets)\n",
    );
    expect(run.status).toBe(1);
  });
});
