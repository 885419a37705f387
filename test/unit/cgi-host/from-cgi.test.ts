// The CGI host in process: fromCgi / fromCgiBin running real shell programs (RFC 3875 §6 responses).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromCgi, fromCgiBin } from '../../../src/cgi/index.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

let dir: string;
function program(name: string, body: string, mode = 0o755): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, mode);
  return file;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsgi-cgi-host-'));
  mkdirSync(join(dir, 'sub'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('fromCgi', () => {
  it('passes the meta-variables and the body, and parses Status and the headers', async () => {
    const file = program(
      'echo.sh',
      `printf 'Status: 201 Made\\r\\nContent-Type: text/plain\\r\\nX-Gw: %s\\r\\nConnection: close\\r\\n\\r\\n' "$GATEWAY_INTERFACE"
echo "$REQUEST_METHOD $SCRIPT_NAME $PATH_INFO $QUERY_STRING $CONTENT_LENGTH $HTTP_X_A [$HTTP_PROXY] $PWD"
echo warn >&2; cat`,
    );
    const environ = createTestEnviron({
      REQUEST_METHOD: 'POST',
      SCRIPT_NAME: '/cgi',
      PATH_INFO: '/p',
      QUERY_STRING: 'q=1',
      // Environ values are bytes as latin1: UTF-8 'é' on the wire is 'Ã©' here, and 'é' again in the program.
      HTTP_X_A: Buffer.from('é').toString('latin1'),
      HTTP_PROXY: 'evil:1',
      body: 'the body',
    });
    const response = await callApp(fromCgi(file), environ);
    expect(response.status).toBe('201 Made');
    expect(response.header('x-gw')).toBe('CGI/1.1');
    expect(response.header('connection')).toBeUndefined();
    expect(response.text).toBe(`POST /cgi /p q=1 8 é [] ${dir}\nthe body`);
    // stderr is a pipe of its own: its bytes may land just after the response ends.
    const errors = environ['tsgi.errors'] as unknown as { text: string };
    for (let i = 0; i < 50 && !errors.text.includes('warn'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(errors.text).toContain('warn');
  });

  it('turns Location without Status into a 302, and accepts bare LF line ends', async () => {
    const file = program('redirect.sh', "printf 'Location: /elsewhere\\n\\n'");
    const response = await callApp(fromCgi(file));
    expect(response.status).toBe('302 Found');
    expect(response.header('location')).toBe('/elsewhere');
  });

  it.each([
    ['no blank line', "printf 'Content-Type: text/plain\\r\\n'"],
    ['no header at all', "echo 'just text'"],
    ['nothing', 'exit 0'],
    ['a bad Status', "printf 'Status: abc\\r\\n\\r\\n'"],
    ['a Status past 599', "printf 'Status: 700 Odd\\r\\n\\r\\n'"],
    ['a NUL inside a header value', "printf 'X-A: a\\000b\\r\\n\\r\\n'"],
  ])('answers 502 with one log line for a program that prints %s', async (_, body) => {
    const lines: string[] = [];
    const response = await callApp(fromCgi(program('bad.sh', body), { log: (line) => lines.push(line) }));
    expect(response.statusCode).toBe(502);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('printed no valid CGI header block');
  });

  it('kills a program that hangs past the timeout: 504, its children too', async () => {
    const marker = join(dir, 'survived');
    const file = program('hang.sh', `(sleep 2; touch ${marker}) & sleep 30`);
    const lines: string[] = [];
    const started = Date.now();
    const response = await callApp(fromCgi(file, { timeoutMs: 300, log: (line) => lines.push(line) }));
    expect(response.statusCode).toBe(504);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(lines[0]).toContain('ran past 300 ms');
    await new Promise((resolve) => setTimeout(resolve, 2300));
    expect(existsSync(marker)).toBe(false);
  });

  it('lets a program that closed its stdout finish its work (only an early end kills it)', async () => {
    const marker = join(dir, 'after-close');
    const file = program(
      'closes.sh',
      `printf 'Content-Type: text/plain\\n\\nok'; exec >&-; sleep 0.3; touch ${marker}`,
    );
    expect((await callApp(fromCgi(file))).text).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(existsSync(marker)).toBe(true);
  });

  it('kills the program when the client goes away mid-body', async () => {
    const marker = join(dir, 'finished');
    const file = program(
      'slow.sh',
      `printf 'Content-Type: text/plain\\r\\n\\r\\n'; echo first; sleep 1; echo second; touch ${marker}`,
    );
    const controller = new AbortController();
    const environ = createTestEnviron({ 'tsgi.signal': controller.signal });
    const body = (await fromCgi(file)(environ, () => async () => {})) as AsyncIterable<Uint8Array>;
    const iterator = body[Symbol.asyncIterator]();
    expect(Buffer.from((await iterator.next()).value as Uint8Array).toString()).toBe('first\n');
    controller.abort();
    await iterator.return?.();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(existsSync(marker)).toBe(false);
  });
});

describe('fromCgiBin', () => {
  it('runs only executable files under the directory', async () => {
    program('sub/ok.sh', 'printf \'Content-Type: text/plain\\n\\n\'; echo "$SCRIPT_NAME|$PATH_INFO"');
    program('sub/noexec.sh', 'echo', 0o644);
    program('sub/open.sh', 'echo', 0o777);
    const lines: string[] = [];
    const app = fromCgiBin(dir, { log: (line) => lines.push(line) });
    const split = await callApp(app, createTestEnviron({ PATH_INFO: '/sub/ok.sh/x/y' }));
    expect(split.text).toBe('/sub/ok.sh|/x/y\n');
    const nginx = createTestEnviron({
      SCRIPT_FILENAME: join(dir, 'sub/ok.sh'),
      SCRIPT_NAME: '/cgi-bin/sub/ok.sh',
      PATH_INFO: '',
    });
    expect((await callApp(app, nginx)).text).toBe('/cgi-bin/sub/ok.sh|\n');
    expect((await callApp(app, createTestEnviron({ PATH_INFO: '/sub/noexec.sh' }))).statusCode).toBe(403);
    expect((await callApp(app, createTestEnviron({ PATH_INFO: '/sub/open.sh' }))).statusCode).toBe(403);
    expect((await callApp(app, createTestEnviron({ PATH_INFO: '/sub/none.sh' }))).statusCode).toBe(404);
    expect(lines).toHaveLength(3);
  });
});
