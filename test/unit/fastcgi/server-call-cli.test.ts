// `tsgi call`: the params it sends for a command line, and the curl -i style output against a real listener.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCallParams, parseCallArgs } from '../../../src/cli/call.js';
import { createFastCgiServer, type FastCgiServer } from '../../../src/fastcgi/server.js';
import type { Application } from '../../../src/shared/types.js';
import { TSGI_BIN } from '../../helpers/fastcgi-process.js';
import { freePort } from '../../helpers/servers.js';

function paramsOf(args: string[], body?: string): Record<string, string> {
  const parsed = parseCallArgs(args);
  const pairs = buildCallParams(parsed, body === undefined ? undefined : Buffer.from(body));
  return Object.fromEntries(
    pairs.map(([name, value]) => [name, Buffer.isBuffer(value) ? value.toString('latin1') : value]),
  );
}

describe('tsgi call: the request it sends', () => {
  it('splits the path and query, decodes PATH_INFO byte for byte and keeps REQUEST_URI raw', () => {
    const params = paramsOf(['127.0.0.1:9000', '/caf%E9/x%2Fy?q=a%20b']);
    expect(params).toMatchObject({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '',
      PATH_INFO: '/caf\xe9/x/y',
      QUERY_STRING: 'q=a%20b',
      REQUEST_URI: '/caf%E9/x%2Fy?q=a%20b',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTP_HOST: 'localhost',
    });
    expect(params.CONTENT_LENGTH).toBeUndefined();
  });

  it('takes SCRIPT_NAME off the front of the path only at a segment boundary', () => {
    expect(paramsOf(['a:1', '--script-name', '/app', '/app/x'])).toMatchObject({
      SCRIPT_NAME: '/app',
      PATH_INFO: '/x',
    });
    expect(paramsOf(['a:1', '--script-name', '/app/', '/app'])).toMatchObject({
      SCRIPT_NAME: '/app',
      PATH_INFO: '',
    });
    expect(paramsOf(['a:1', '--script-name', '/app', '/apple'])).toMatchObject({
      SCRIPT_NAME: '',
      PATH_INFO: '/apple',
    });
  });

  it('sends headers as HTTP_*, Content-Type as CONTENT_TYPE, and the body’s real length', () => {
    const params = paramsOf(
      [
        'a:1',
        '-X',
        'put',
        '-H',
        'X-Trace-Id: 42',
        '-H',
        'Content-Type: application/json',
        '-H',
        'Content-Length: 999',
        '-d',
        '{}',
        '/',
      ],
      '{}',
    );
    expect(params).toMatchObject({
      REQUEST_METHOD: 'PUT',
      HTTP_X_TRACE_ID: '42',
      CONTENT_TYPE: 'application/json',
      CONTENT_LENGTH: '2',
    });
    expect(params.HTTP_CONTENT_LENGTH).toBeUndefined();
    expect(paramsOf(['a:1', '-d', 'x=1', '/'], 'x=1')).toMatchObject({
      REQUEST_METHOD: 'POST',
      CONTENT_TYPE: 'application/x-www-form-urlencoded',
    });
  });

  it('refuses a header line without a name, with a hint', () => {
    expect(() => parseCallArgs(['a:1', '-H', 'no colon', '/'])).toThrow(/bad header 'no colon'/);
    expect(() => parseCallArgs(['a:1', '-H', 'Bad Name: x', '/'])).toThrow(/bad header/);
  });
});

describe('tsgi call against a listener', () => {
  let server: FastCgiServer;
  let dir = '';
  const app: Application = async (environ, startResponse) => {
    if (environ.PATH_INFO === '/fail') {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        yield new TextEncoder().encode('partial');
        throw new Error('boom');
      })();
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of environ['tsgi.input']) chunks.push(chunk);
    environ['tsgi.errors'].write('a note for the error log\n');
    startResponse('201 Created', [
      ['Content-Type', 'text/plain'],
      ['X-Method', environ.REQUEST_METHOD],
    ]);
    return [new TextEncoder().encode(`${environ.PATH_INFO}|${Buffer.concat(chunks).toString()}`)];
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-call-'));
    server = createFastCgiServer(app, { log: () => {} });
    await server.listen('127.0.0.1:0');
  });
  afterAll(async () => {
    await server.close(100);
    rmSync(dir, { recursive: true, force: true });
  });

  function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [TSGI_BIN, 'call', ...args]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('latin1')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('prints the response like curl -i and FCGI_STDERR on stderr', async () => {
    const file = join(dir, 'body.txt');
    writeFileSync(file, 'from a file');
    const result = await run([server.addresses[0]!, '-X', 'PATCH', '-d', `@${file}`, '/items/1']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(
      'HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Method: PATCH\r\n\r\n/items/1|from a file',
    );
    expect(result.stderr).toBe('a note for the error log\n');
  });

  it('exits 1 and says so when the response was cut off', async () => {
    const result = await run([server.addresses[0]!, '/fail']);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\npartial$/);
    expect(result.stderr).toMatch(/the application ended with status 1 \(response cut off\)/);
  });

  it('exits 1 with a one-line hint when nothing listens there', async () => {
    // A port the kernel just handed out and took back: closed, unlike a fixed port another test may hold.
    const port = await freePort();
    const result = await run([`127.0.0.1:${port}`, '/']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `tsgi call: cannot connect to 127.0.0.1:${port}: ECONNREFUSED (hint: is tsgi fastcgi listening there?)\n`,
    );
  });
});
