// accessLog(): lines in Common, Combined and JSON format, parsed back.
import { describe, expect, it } from 'vitest';
import { accessLog } from '../../../src/middleware/access-log.js';
import type { Application } from '../../../src/shared/types.js';
import { callApp, collectErrors, createTestEnviron } from '../../../src/testing/index.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Apache's combined format: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i".
const COMBINED =
  /^(\S+) (\S+) (\S+) \[(\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?$/;

/** Streams three chunks through the body and one through write(), slowly. */
const streamingApp: Application = (_environ, startResponse) => {
  const write = startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return (async function* () {
    await write(encode('w'));
    for (const part of ['abc', 'defg', 'hi']) {
      await tick(10);
      yield encode(part);
    }
  })();
};

function lines(stream: { text: string }): string[] {
  return stream.text.split('\n').filter((line) => line !== '');
}

describe('accessLog', () => {
  it('writes a Common Log Format line with the real byte count to tsgi.errors by default', async () => {
    const environ = createTestEnviron({
      PATH_INFO: '/path',
      QUERY_STRING: 'q=1',
      REQUEST_URI: '/path?q=1',
      REMOTE_ADDR: '203.0.113.9',
      REMOTE_USER: 'ada',
    });
    await callApp(accessLog()(streamingApp), environ);
    const [line, ...rest] = lines(environ['tsgi.errors'] as unknown as { text: string });
    expect(rest).toEqual([]);
    const match = COMBINED.exec(line!);
    expect(match).not.toBeNull();
    const [, host, ident, user, , request, status, bytes, referer] = match!;
    expect({ host, ident, user, request, status, bytes, referer }).toEqual({
      host: '203.0.113.9',
      ident: '-',
      user: 'ada',
      request: 'GET /path?q=1 HTTP/1.1',
      status: '200',
      bytes: '10',
      referer: undefined,
    });
  });

  it('adds referer and user agent in combined format, escaping what the client sent', async () => {
    const stream = collectErrors();
    await callApp(
      accessLog({ format: 'combined', stream })(streamingApp),
      createTestEnviron({
        HTTP_REFERER: 'http://a.test/"x"',
        HTTP_USER_AGENT: 'bot\n127.0.0.1 - - [forged]',
        REQUEST_URI: '/a"b',
      }),
    );
    const all = lines(stream);
    expect(all).toHaveLength(1);
    const match = COMBINED.exec(all[0]!)!;
    expect(match[5]).toBe('GET /a\\"b HTTP/1.1');
    expect(match[8]).toBe('http://a.test/\\"x\\"');
    expect(match[9]).toBe('bot\\x0a127.0.0.1 - - [forged]');
  });

  it('writes JSON lines with bytes, duration and whether the body ran to its end', async () => {
    const stream = collectErrors();
    await callApp(accessLog({ format: 'json', stream })(streamingApp));
    const entry = JSON.parse(lines(stream)[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ method: 'GET', uri: '/', status: 200, bytes: 10, complete: true });
    expect(entry.duration_ms as number).toBeGreaterThanOrEqual(25);
    expect(Number.isNaN(Date.parse(entry.time as string))).toBe(false);
  });

  it('logs 0 bytes ("-") for HEAD and the 500 the driver sends for an app that throws', async () => {
    const stream = collectErrors();
    await callApp(accessLog({ stream })(streamingApp), createTestEnviron({ REQUEST_METHOD: 'HEAD' }));
    const failing: Application = () => {
      throw new Error('boom');
    };
    const response = await callApp(accessLog({ stream })(failing));
    expect(response.statusCode).toBe(500);
    const [headLine, errorLine] = lines(stream).map((line) => COMBINED.exec(line)!);
    expect([headLine![6], headLine![7]]).toEqual(['200', '-']);
    expect(errorLine![6]).toBe('500');
  });

  it('marks a body stopped by the server as incomplete', async () => {
    const stream = collectErrors();
    const controller = new AbortController();
    const endless: Application = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return (async function* () {
        while (true) {
          yield encode('x');
          await tick(1);
        }
      })();
    };
    setTimeout(() => controller.abort(), 20);
    await callApp(
      accessLog({ format: 'json', stream })(endless),
      createTestEnviron({}, { signal: controller.signal }),
    );
    const entry = JSON.parse(lines(stream)[0]!) as Record<string, unknown>;
    expect(entry.complete).toBe(false);
    expect(entry.bytes as number).toBeGreaterThan(0);
  });

  it('refuses an unknown format', () => {
    expect(() => accessLog({ format: 'apache' as 'common' })).toThrow(/unknown format/);
  });
});
