// Zero configuration (issue 13): a module exporting an Express, Koa, Fastify or Hono app, an object with
// fetch(request) or a tsgi app as it is, served by `tsgi serve`, `tsgi cgi` and `tsgi fastcgi` behind nginx;
// the start line says what was detected; an export of no known shape is refused with one line.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/deploy/build-app.js';
import { startListener, TSGI_BIN, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { freePort, startNginx, type RunningServer } from '../helpers/servers.js';
import { spawnCgi } from '../helpers/spawn-cgi.js';
import { hasTool } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/apps/bare/${name}.mjs`, import.meta.url));

/** Each export shape, its fixture, and what the start line says about it ('' for a tsgi app: nothing added). */
const SHAPES = [
  ['express', 'Express app, served through fromNodeHandler'],
  ['koa', 'Koa app, served through fromNodeHandler'],
  ['fastify', 'Fastify instance, served through fromFastify'],
  ['hono', 'Hono app, served through fromFetchHandler'],
  ['fetch-object', 'object with fetch(request), served through fromFetchHandler'],
  ['tsgi', ''],
] as const;

const frameworkOf = (name: string): string => (name === 'fetch-object' ? 'fetch' : name);

beforeAll(() => {
  // bin/tsgi.js runs dist/.
  spawnSync(process.execPath, ['scripts/build.mjs', '--js-only'], { cwd: ROOT, stdio: 'inherit' });
});

describe('tsgi serve (development server)', () => {
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((child) => child.kill('SIGKILL')));

  async function serve(app: string): Promise<{ line: string; url: string }> {
    const child = spawn(process.execPath, [TSGI_BIN, 'serve', app, '--port', '0'], { cwd: ROOT });
    children.push(child);
    let out = '';
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return new Promise((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /^tsgi serve: .* on (http:\/\/\S+) .*\n/m.exec(out);
        if (match) resolve({ line: match[0], url: match[1]! });
      });
      child.once('exit', () => reject(new Error(`tsgi serve exited: ${out}`)));
    });
  }

  it.each(SHAPES)('serves a bare %s export and says what it detected', async (name, detected) => {
    const { line, url } = await serve(fixture(name));
    if (detected === '') expect(line).toMatch(/\(validator on; Ctrl-C to stop\)/);
    else expect(line).toContain(`(${detected}; validator on; Ctrl-C to stop)`);
    const response = await fetch(`${url}items/42?q=two%20words`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ framework: frameworkOf(name), id: '42', q: 'two words' });
  });
});

const CGI_VARS = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/app',
  PATH_INFO: '/items/42',
  QUERY_STRING: 'q=two%20words',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '127.0.0.1',
};

describe('tsgi cgi (spawned as a web server does)', () => {
  it.each(SHAPES)('serves a bare %s export', async (name) => {
    const result = await spawnCgi(fixture(name), CGI_VARS);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(200);
    expect(JSON.parse(Buffer.from(result.body).toString())).toEqual({
      framework: frameworkOf(name),
      id: '42',
      q: 'two words',
    });
  });

  it('answers a refused export with a 500 and one line naming what was found', async () => {
    const result = await spawnCgi(fixture('node-listener'), {
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '/cgi-bin/app',
      SERVER_NAME: 'localhost',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
    });
    expect(result.status).toBe(500);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('is a node:http listener (req, res)');
    expect(result.stderr).toContain('fromNodeHandler(listener)');
  });
});

describe('tsgi build (a built file run as CGI)', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-bare-build-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([['express'], ['hono'], ['koa']])(
    'serves a bare %s export from the bundle',
    async (name) => {
      const { outFile } = await buildApp({ app: fixture(name), outFile: join(dir, `${name}.cgi`) });
      const result = spawnSync(outFile, [], {
        env: { ...CGI_VARS, PATH: process.env.PATH ?? '/usr/bin:/bin', TSGI_CACHE_DIR: 'off' },
        encoding: 'latin1',
        timeout: 30_000,
      });
      expect(result.stderr).toBe('');
      const [head, body] = result.stdout.split('\r\n\r\n');
      expect(head).toMatch(/^Status: 200 OK/);
      expect(JSON.parse(body!)).toEqual({ framework: name, id: '42', q: 'two words' });
    },
    60_000,
  );
});

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('tsgi fastcgi behind nginx', () => {
  const listeners = new Map<string, ListenerProcess>();
  let nginx: RunningServer | undefined;
  let base = '';

  beforeAll(async () => {
    for (const [name] of SHAPES) {
      listeners.set(name, await startListener(['--listen', '127.0.0.1:0'], { app: fixture(name) }));
    }
    const port = await freePort();
    // One location per shape, each mounted at /NAME: SCRIPT_NAME is the mount, PATH_INFO the rest.
    const locations = [...listeners]
      .map(
        ([name, listener]) => `
        location /${name}/ {
            fastcgi_split_path_info ^(/${name})(/.*)$;
            include /etc/nginx/fastcgi_params;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_pass ${listener.address};
        }`,
      )
      .join('\n');
    nginx = await startNginx({ port, server: locations });
    base = `http://127.0.0.1:${port}`;
  }, 60_000);
  afterAll(async () => {
    await nginx?.stop();
    await Promise.all([...listeners.values()].map((listener) => listener.stop('SIGKILL')));
  });

  it.each(SHAPES)('serves a bare %s export, mounted', async (name, detected) => {
    const log = listeners.get(name)!.log();
    // tsgi binds its own address here, so a primary supervises one worker (issue 10).
    if (detected === '') expect(log).toMatch(/\(1 worker, primary pid \d+\)\n/);
    else
      expect(log).toMatch(
        new RegExp(`\\(1 worker, primary pid \\d+\\); ${detected.replace(/[()]/g, '\\$&')}\\n`),
      );
    const response = await fetch(`${base}/${name}/items/42?q=two%20words`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ framework: frameworkOf(name), id: '42', q: 'two words' });
  });
});

describe('an export tsgi cannot serve', () => {
  function tsgi(args: string[]): { code: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [TSGI_BIN, ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: result.status, stderr: result.stderr };
  }

  it.each([
    ['serve', ['serve']],
    ['fastcgi', ['fastcgi', '--listen', '127.0.0.1:0']],
    ['run', ['run', '--fastcgi', '--listen', '127.0.0.1:0']],
  ])('tsgi %s: one line naming what was found and the fix for each shape, exit 2', (_name, command) => {
    const [verb, ...flags] = command;
    const { code, stderr } = tsgi([verb!, fixture('not-an-app'), ...flags]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/export 'default' is an object \(keys: routes, port\), which tsgi cannot serve/);
    expect(stderr).toMatch(/a tsgi app .*Express\/Connect app.*Koa app.*Fastify instance.*fetch\(request\)/);
  });

  it('names the wrapper a bare (req, res) listener needs', () => {
    const { code, stderr } = tsgi(['serve', fixture('node-listener')]);
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(
      "is a node:http listener (req, res), not a tsgi application (hint: export default fromNodeHandler(listener) from 'tsgi/adapters/node')",
    );
  });
});
