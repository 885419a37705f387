// NODE_ENV by mode (issue 11): `tsgi serve` sets development, `tsgi fastcgi` production, each only where it is
// unset, before the app is loaded (frameworks read it when they are created). The CGI modes are in
// test/unit/cgi/start.test.ts.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../../src/fastcgi/client.js';
import { startListener, type ListenerProcess } from '../../helpers/fastcgi-process.js';
import { TSGI_BIN } from '../../helpers/spawn-cgi.js';

const fixture = (name: string): string => new URL(`../../fixtures/apps/${name}`, import.meta.url).pathname;
const EXPRESS = new URL('../../../examples/express.ts', import.meta.url).pathname;

const stops: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

/** Starts `tsgi serve APP --port 0` and answers GET /. */
async function serveGet(app: string, env: Record<string, string> = {}): Promise<string> {
  const { NODE_ENV: _drop, ...inherited } = process.env;
  const child = spawn(process.execPath, [TSGI_BIN, 'serve', app, '--port', '0'], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  stops.push(async () => {
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await expect.poll(() => out, { timeout: 15_000 }).toMatch(/http:\/\/[\d.]+:\d+\//);
  const url = /(http:\/\/[\d.]+:\d+\/)/.exec(out)?.[1] ?? '';
  return (await fetch(url)).text();
}

async function fastcgiGet(
  app: string,
  path: string,
  env: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { NODE_ENV: _drop, ...inherited } = process.env;
  const listener: ListenerProcess = await startListener(['--listen', '127.0.0.1:0'], {
    app,
    env: { ...inherited, ...env, NODE_ENV: env.NODE_ENV },
  });
  stops.push(() => listener.stop());
  const client = await connectFastCgi(listener.address);
  try {
    const response = await client
      .request({
        params: {
          REQUEST_METHOD: 'GET',
          SCRIPT_NAME: '',
          PATH_INFO: path,
          REQUEST_URI: path,
          QUERY_STRING: '',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          SERVER_PROTOCOL: 'HTTP/1.1',
        },
      })
      .response();
    return { status: response.statusCode, body: response.body.toString() };
  } finally {
    client.close();
  }
}

describe('NODE_ENV by mode', () => {
  it('tsgi serve: development, unless set', async () => {
    expect(await serveGet(fixture('node-env.ts'))).toBe('NODE_ENV=development\n');
    expect(await serveGet(fixture('node-env.ts'), { NODE_ENV: 'test' })).toBe('NODE_ENV=test\n');
  });

  it('tsgi fastcgi: production, unless set', async () => {
    expect((await fastcgiGet(fixture('node-env.ts'), '/')).body).toBe('NODE_ENV=production\n');
    expect((await fastcgiGet(fixture('node-env.ts'), '/', { NODE_ENV: 'staging' })).body).toBe(
      'NODE_ENV=staging\n',
    );
  });

  it('tsgi fastcgi: Express no longer sends its stack trace to clients', async () => {
    const reply = await fastcgiGet(EXPRESS, '/error');
    expect(reply.status).toBe(500);
    expect(reply.body).toContain('Internal Server Error');
    expect(reply.body).not.toContain('boom from express');
    expect(reply.body).not.toMatch(/at .*express/);
  });
});
