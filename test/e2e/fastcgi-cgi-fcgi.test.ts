// cgi-fcgi (libfcgi-bin, the FastCGI reference library's client) and spawn-fcgi against `tsgi fastcgi`.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E_APP, startListener, TSGI_BIN, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { freePort, makeServerDir } from '../helpers/servers.js';
import { findTool, hasTool } from '../helpers/tools.js';

const MOUNT = '/app';

interface CgiFcgiResult {
  head: string;
  body: Buffer;
  code: number | null;
}

/** The CGI variables a web server would set for `target` (path and query) under MOUNT. */
function cgiEnv(target: string, body?: Uint8Array): NodeJS.ProcessEnv {
  const [path = '', query = ''] = target.split('?');
  return {
    PATH: '/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'cgi-fcgi',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    REMOTE_ADDR: '127.0.0.1',
    REQUEST_METHOD: body === undefined ? 'GET' : 'POST',
    REQUEST_URI: `${MOUNT}${target}`,
    SCRIPT_NAME: MOUNT,
    PATH_INFO: decodeURIComponent(path),
    QUERY_STRING: query,
    HTTP_HOST: 'localhost',
    HTTP_X_TSGI_TEST: 'yes',
    ...(body === undefined
      ? {}
      : { CONTENT_LENGTH: String(body.length), CONTENT_TYPE: 'application/octet-stream' }),
  };
}

function splitCgi(raw: Buffer): { head: string; body: Buffer } {
  const end = raw.indexOf('\r\n\r\n');
  return end < 0
    ? { head: raw.toString('latin1'), body: Buffer.alloc(0) }
    : { head: raw.toString('latin1', 0, end), body: raw.subarray(end + 4) };
}

/** Runs `cgi-fcgi -bind -connect ADDRESS` once, the way a CGI-only web server would relay a request. */
function cgiFcgi(
  address: string,
  target: string,
  body?: Uint8Array,
  onChunk?: (all: Buffer) => void,
): Promise<CgiFcgiResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(findTool('cgi-fcgi')!, ['-bind', '-connect', address], { env: cgiEnv(target, body) });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      onChunk?.(Buffer.concat(chunks));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ ...splitCgi(Buffer.concat(chunks)), code }));
    child.stdin.on('error', () => {});
    child.stdin.end(body);
  });
}

async function envVia(address: string, target: string): Promise<Record<string, unknown>> {
  const result = await cgiFcgi(address, target);
  expect(result.code, result.head).toBe(0);
  return JSON.parse(result.body.toString()) as Record<string, unknown>;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe.skipIf(!hasTool('cgi-fcgi', 'libfcgi-bin') /* throws under CI=true */)(
  'cgi-fcgi → tsgi fastcgi',
  () => {
    describe.each([
      ['TCP', () => ['--listen', '127.0.0.1:0']],
      ['a unix socket', () => ['--listen', `unix:${join(makeServerDir('cgi-fcgi'), 'app.sock')}`]],
    ] as const)('over %s', (_, args) => {
      let listener: ListenerProcess | undefined;
      // cgi-fcgi takes HOST:PORT or a socket path.
      const address = (): string => listener!.address.replace(/^unix:/, '');
      beforeAll(async () => {
        listener = await startListener(args());
      });
      afterAll(async () => {
        await listener?.stop('SIGKILL');
        if (listener?.address.startsWith('unix:'))
          rmSync(dirname(address()), { recursive: true, force: true });
      });

      it('passes a GET with its query string and headers', async () => {
        expect(await envVia(address(), '/env?a=1&b=two%20words')).toMatchObject({
          REQUEST_METHOD: 'GET',
          QUERY_STRING: 'a=1&b=two%20words',
          HTTP_X_TSGI_TEST: 'yes',
          SERVER_SOFTWARE: 'cgi-fcgi',
        });
      });

      it('keeps SCRIPT_NAME and PATH_INFO as sent', async () => {
        const env = await envVia(address(), '/deep/a%20b/env');
        expect([env.SCRIPT_NAME, env.PATH_INFO]).toEqual([MOUNT, '/deep/a b/env']);
      });

      it('echoes a 5 MiB POST body byte for byte', async () => {
        const body = randomBytes(5 * 1024 * 1024);
        const result = await cgiFcgi(address(), '/echo', body);
        expect(result.head).toMatch(/^Status: 200 OK\r\n/);
        expect(result.body.length).toBe(body.length);
        expect(sha256(result.body)).toBe(sha256(body));
      });

      it('streams: the first chunk arrives while the application is still waiting', async () => {
        const key = `k${Math.random().toString(36).slice(2)}`;
        let sawFirst: () => void = () => {};
        const first = new Promise<void>((resolve) => (sawFirst = resolve));
        const streamed = cgiFcgi(address(), `/stream?${key}`, undefined, (all) => {
          if (splitCgi(all).body.toString() === 'first\n') sawFirst();
        });
        await first;
        expect((await cgiFcgi(address(), `/release?${key}`)).body.toString()).toBe('released');
        expect((await streamed).body.toString()).toBe('first\nreleased\n');
      });

      it('answers 200 concurrent cgi-fcgi processes', async () => {
        const answers = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            envVia(address(), `/env?i=${i}`).then((env) => env.QUERY_STRING),
          ),
        );
        expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `i=${i}`));
      });
    });

    describe.skipIf(!hasTool('spawn-fcgi', 'spawn-fcgi') /* throws under CI=true */)(
      'started by spawn-fcgi (the socket on fd 0)',
      () => {
        let port = 0;
        let spawner: ReturnType<typeof spawn> | undefined;
        let log = '';
        beforeAll(async () => {
          port = await freePort();
          spawner = spawn(
            findTool('spawn-fcgi')!,
            [
              '-n',
              '-a',
              '127.0.0.1',
              '-p',
              String(port),
              '--',
              process.execPath,
              TSGI_BIN,
              'fastcgi',
              E2E_APP,
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          spawner.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
          for (let i = 0; i < 100 && !log.includes('listening on'); i++)
            await new Promise((r) => setTimeout(r, 100));
        });
        afterAll(() => {
          spawner?.kill('SIGKILL');
        });

        it('listens on the inherited socket and serves', async () => {
          expect(log).toMatch(/tsgi fastcgi: listening on fd:0 \(inherited\)/);
          expect((await envVia(`127.0.0.1:${port}`, '/env?spawned')).QUERY_STRING).toBe('spawned');
        });

        it('exits 0 on SIGTERM, as spawn-fcgi -n leaves it to the application', async () => {
          const exited = new Promise((resolve) => spawner!.once('exit', (code) => resolve(code)));
          spawner!.kill('SIGTERM');
          expect(await exited).toBe(0);
          expect(log).toMatch(/tsgi fastcgi: stopped\n/);
        });
      },
    );
  },
);
