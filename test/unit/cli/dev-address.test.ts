// One address vocabulary (issue 11): --listen HOST:PORT|unix:PATH|fd:N on `tsgi serve`, --host/-p/--port on serve
// and `tsgi run`'s development mode, $PORT and $HOST, a default app file, did-you-mean for mistyped flags.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/servers.js';
import { TSGI_BIN } from '../../helpers/spawn-cgi.js';

const HELLO = new URL('../../fixtures/apps/hello.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tsgi-dev-address-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Starts a tsgi command and resolves with its start line (stdout for serve, stderr for run). */
function start(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  const { PORT: _port, HOST: _host, ...env } = process.env;
  child = spawn(process.execPath, [TSGI_BIN, ...args], {
    cwd: options.cwd ?? dir,
    env: { ...env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = child;
  let output = '';
  return new Promise((resolve, reject) => {
    const check = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/(http:\/\/\S+\/|unix:\S+)/.test(output)) resolve(output);
    };
    proc.stdout?.on('data', check);
    proc.stderr?.on('data', check);
    proc.once('close', () => reject(new Error(`exited early: ${output}`)));
  });
}

function getUnix(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, path: '/' }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve(body));
    });
    req.once('error', reject);
    req.end();
  });
}

describe('tsgi serve addresses', () => {
  it('takes --listen HOST:PORT', async () => {
    const port = await freePort();
    const line = await start(['serve', HELLO, '--listen', `127.0.0.1:${port}`]);
    expect(line).toContain(`http://127.0.0.1:${port}/`);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('Hello, world!');
  });

  it('takes --listen unix:PATH', async () => {
    const socket = join(dir, 'dev.sock');
    const line = await start(['serve', HELLO, '--listen', `unix:${socket}`]);
    expect(line).toContain(`unix:${socket}`);
    expect(await getUnix(socket)).toContain('Hello, world!');
  });

  it('takes -p, and $PORT and $HOST when no flag is given', async () => {
    const port = await freePort();
    expect(await start(['serve', HELLO, '-p', String(port)])).toContain(`:${port}/`);
    child?.kill('SIGKILL');
    const envPort = await freePort();
    const line = await start(['serve', HELLO], { env: { PORT: String(envPort), HOST: '127.0.0.1' } });
    expect(line).toContain(`http://127.0.0.1:${envPort}/`);
  });

  it('refuses --listen together with --port, and says which flag was meant', () => {
    const both = spawnSync(process.execPath, [TSGI_BIN, 'serve', HELLO, '--listen', '1', '--port', '2'], {
      encoding: 'utf8',
    });
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/give --listen, or --host and --port, not both/);
    const typo = spawnSync(process.execPath, [TSGI_BIN, 'serve', HELLO, '--prot', '8000'], {
      encoding: 'utf8',
    });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toBe(
      "tsgi serve: unknown option '--prot' (hint: did you mean --port? run 'tsgi serve --help' for usage)\n",
    );
  });

  it('serves app.mjs from the current directory when no APP is given', async () => {
    const project = mkdtempSync(join(dir, 'project-'));
    copyFileSync(HELLO, join(project, 'app.mjs'));
    const line = await start(['serve', '--port', '0'], { cwd: project });
    expect(line).toContain('app.mjs');
    const url = /(http:\/\/\S+\/)/.exec(line)?.[1] ?? '';
    expect(await (await fetch(url)).text()).toContain('Hello, world!');
  });

  it('names the files it looked for when there is no APP and no default file', () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const result = spawnSync(process.execPath, [TSGI_BIN, 'serve'], { cwd: empty, encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('missing APP, and none of app.ts, app.mts, app.js, app.mjs, index.ts');
  });
});

describe('tsgi run: the development mode', () => {
  it('takes --port and --host', async () => {
    const port = await freePort();
    const line = await start(['run', HELLO, '--host', '127.0.0.1', '--port', String(port)]);
    expect(line).toContain(`http://127.0.0.1:${port}/`);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('Hello, world!');
  });
});
