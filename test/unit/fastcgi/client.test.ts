// The FastCGI client against the listener: multiplexing, streams both ways, management, aborts, CGI parsing.
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi, parseCgiResponse, type FastCgiClient } from '../../../src/fastcgi/client.js';
import type { ConnectionOptions } from '../../../src/fastcgi/connection-options.js';
import { ProtocolStatus, Role } from '../../../src/fastcgi/protocol.js';
import type { Application } from '../../../src/shared/types.js';
import { GET_VARS, record, startListener, type TestListener } from '../../helpers/fcgi-records.js';

let listener: TestListener | undefined;
let client: FastCgiClient | undefined;
afterEach(async () => {
  client?.destroy();
  await listener?.close();
  listener = client = undefined;
});

async function connectTo(app: Application, options?: ConnectionOptions): Promise<FastCgiClient> {
  listener = await startListener(app, options);
  client = await connectFastCgi(`127.0.0.1:${listener.port}`);
  return client;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const echo: Application = async (environ, start) => {
  const body = await environ['tsgi.input'].read();
  start('200 OK', [['Content-Type', 'application/octet-stream']]);
  return [body];
};

describe('FastCgiClient', () => {
  it('runs 50 requests at once on one connection, each getting its own answer', async () => {
    const fcgi = await connectTo(async (environ, start) => {
      await sleep(Math.random() * 20);
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(String(environ.QUERY_STRING))];
    });
    const calls = Array.from({ length: 50 }, (_, i) =>
      fcgi.request({ params: { ...GET_VARS, QUERY_STRING: `n=${i}` } }),
    );
    expect(fcgi.activeRequests).toBe(50);
    const bodies = await Promise.all(calls.map(async (call) => (await call.response()).body.toString()));
    expect(bodies).toEqual(Array.from({ length: 50 }, (_, i) => `n=${i}`));
    expect(new Set(calls.map((c) => c.requestId)).size).toBe(50);
  });

  it('streams a request body from an async iterable, record by record', async () => {
    const fcgi = await connectTo(echo);
    const parts = Array.from({ length: 40 }, (_, i) => Buffer.alloc(50_000, 65 + (i % 26)));
    const stdin = (async function* () {
      for (const part of parts) yield part;
    })();
    const response = await fcgi
      .request({ params: { ...GET_VARS, REQUEST_METHOD: 'POST' }, stdin })
      .response();
    expect(response.body.equals(Buffer.concat(parts))).toBe(true);
  });

  it('delivers STDOUT as it arrives', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const fcgi = await connectTo((_e, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        yield Buffer.from('early');
        await released;
        yield Buffer.from('late');
      })();
    });
    const call = fcgi.request({ params: GET_VARS });
    const iterator = call.stdout[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(Buffer.from(first.value as Uint8Array).toString()).toMatch(/early$/);
    expect(call.isFinished).toBe(false);
    release();
    expect(await call.ended).toEqual({ appStatus: 0, protocolStatus: ProtocolStatus.RequestComplete });
  });

  it('sends FCGI_ABORT_REQUEST when its signal aborts', async () => {
    let aborted = false;
    const fcgi = await connectTo((environ, start) => {
      environ['tsgi.signal'].addEventListener('abort', () => (aborted = true));
      start('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        while (!environ['tsgi.signal'].aborted) {
          yield Buffer.from('.');
          await sleep(5);
        }
      })();
    });
    const controller = new AbortController();
    const call = fcgi.request({ params: GET_VARS, signal: controller.signal });
    await sleep(30);
    controller.abort();
    expect((await call.ended).appStatus).toBe(1);
    expect(aborted).toBe(true);
  });

  it('asks FCGI_GET_VALUES and hears of FCGI_UNKNOWN_TYPE', async () => {
    const fcgi = await connectTo(echo, { values: { maxConns: 10 } });
    const values = await fcgi.getValues(['FCGI_MAX_CONNS', 'FCGI_NOPE']);
    expect([...values]).toEqual([['FCGI_MAX_CONNS', '10']]);
    const unknown = new Promise<number>((resolve) => fcgi.once('unknownType', resolve));
    fcgi.sendRaw(record(42, 0));
    expect(await unknown).toBe(42);
  });

  it('sends the Filter role with its DATA stream', async () => {
    const fcgi = await connectTo(async (environ, start) => {
      const data = await (environ['tsgi.fastcgi.data'] as { read(): Promise<Uint8Array> }).read();
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [data];
    });
    const response = await fcgi
      .request({ params: GET_VARS, role: Role.Filter, data: 'file bytes' })
      .response();
    expect(response.body.toString()).toBe('file bytes');
  });

  it('rejects the requests in flight when the connection closes, and refuses new ones', async () => {
    const fcgi = await connectTo(() => new Promise(() => undefined));
    const call = fcgi.request({ params: GET_VARS });
    await sleep(20);
    fcgi.destroy();
    await expect(call.ended).rejects.toThrow(/closed before FCGI_END_REQUEST/);
    expect(() => fcgi.request({ params: GET_VARS })).toThrow(/closed/);
  });

  it('lets the application close the connection when keepConn is off', async () => {
    const fcgi = await connectTo(echo);
    const response = await fcgi.request({ params: GET_VARS, keepConn: false }).response();
    expect(response.statusCode).toBe(200);
    await new Promise<void>((resolve) => fcgi.once('close', () => resolve()));
    expect(fcgi.isClosed).toBe(true);
  });
});

describe('parseCgiResponse', () => {
  it.each([
    [
      'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope',
      404,
      '404 Not Found',
      [['Content-Type', 'text/plain']],
      'nope',
    ],
    ['Content-Type: text/html\n\n<p>', 200, '200 OK', [['Content-Type', 'text/html']], '<p>'],
    ['Location: /elsewhere\r\n\r\n', 302, '302 Found', [['Location', '/elsewhere']], ''],
    [
      'Status: 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n\r\nbody',
      200,
      '200 OK',
      [
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
      '\r\nbody',
    ],
  ])('parses %j', (text, statusCode, status, headers, body) => {
    const parsed = parseCgiResponse(Buffer.from(text, 'latin1'));
    expect(parsed).toMatchObject({ statusCode, status, headers });
    expect(parsed.body.toString('latin1')).toBe(body);
  });

  // The rule fromFastCgi and the CGI host use (src/shared/cgi-head.ts): a bare code gets its phrase, a value
  // that could split a head is refused, an empty head is no head.
  it('gives a bare Status code its standard phrase', () => {
    expect(parseCgiResponse(Buffer.from('Status: 404\r\n\r\n'))).toMatchObject({
      statusCode: 404,
      status: '404 Not Found',
    });
  });

  it.each([
    ['a NUL inside a value', 'X-A: a\x00b\r\n\r\n', /bad value for header X-A/],
    ['an empty head', '\r\nbody', /empty header block/],
    ['a folded line', 'X-A: a\r\n b\r\n\r\n', /obs-fold/],
  ])('throws on %s', (_name, text, message) => {
    expect(() => parseCgiResponse(Buffer.from(text, 'latin1'))).toThrow(message);
  });

  it('throws when the head never ends', () => {
    expect(() => parseCgiResponse(Buffer.from('Status: 200 OK\r\n'))).toThrow(/no blank line/);
  });
});
