// fromFastCgi against tsgi's own FastCGI connection and hand-made broken responders: the variables and body
// that go out, the answer that comes back, the pool, the 502/503 refusals, abort and back-pressure.
import { createHash } from 'node:crypto';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type Server as HttpServer,
} from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRecords, record } from '../../../src/fastcgi/conform/bytes.js';
import { fromFastCgi, type FastCgiApplication } from '../../../src/fastcgi/index.js';
import { toNodeHandler } from '../../../src/http/to-node.js';
import type { Application } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';
import { listenerPerTest } from '../../helpers/fcgi-records.js';
import { freePort } from '../../helpers/servers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// The responder: echoes its variables, hashes a body, streams, or blocks, by PATH_INFO.
let produced = 0;
let aborted = 0;
const responder: Application = async (environ, start) => {
  const path = environ.PATH_INFO;
  if (path === '/hash') {
    const hash = createHash('sha256');
    let length = 0;
    for await (const chunk of environ['tsgi.input']) {
      hash.update(chunk);
      length += chunk.length;
    }
    start('200 OK', [['Content-Type', 'text/plain']]);
    return [Buffer.from(`${length} ${hash.digest('hex')}`)];
  }
  if (path === '/endless') {
    environ['tsgi.signal'].addEventListener('abort', () => aborted++);
    start('200 OK', [['Content-Type', 'application/octet-stream']]);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    return (async function* () {
      while (!environ['tsgi.signal'].aborted) {
        produced += chunk.length;
        yield chunk;
      }
    })();
  }
  environ['tsgi.errors'].write('a line on stderr\n');
  start('201 Created', [
    ['Content-Type', 'text/plain'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
  const names = Object.keys(environ)
    .filter((key) => /^[A-Z]/.test(key))
    .sort();
  return [Buffer.from(names.map((key) => `${key}=${String(environ[key])}`).join('\n'))];
};

const listen = listenerPerTest(responder);
const apps: FastCgiApplication[] = [];
const servers: (Server | HttpServer)[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const server of servers.splice(0)) {
    (server as HttpServer).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  }
  produced = 0;
  aborted = 0;
});

function gateway(...args: Parameters<typeof fromFastCgi>): FastCgiApplication {
  const app = fromFastCgi(...args);
  apps.push(app);
  return app;
}

const lines = (text: string): Record<string, string> =>
  Object.fromEntries(
    text.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

/** A fake responder speaking raw records: `answer(socket, requestId, requestIndex)` per request. */
async function fakeResponder(answer: (socket: Socket, id: number, index: number) => void): Promise<number> {
  let index = 0;
  const server = createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let records;
      try {
        records = parseRecords(pending);
      } catch {
        return;
      }
      pending = Buffer.alloc(0);
      for (const r of records) if (r.type === 5 && r.content.length === 0) answer(socket, r.id, index++);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const end = (id: number, protocolStatus = 0): Buffer =>
  record(3, id, Buffer.from([0, 0, 0, 0, protocolStatus, 0, 0, 0]));

describe('fromFastCgi: what goes out and what comes back', () => {
  it('sends the environ CGI variables plus params, returns status, headers and body, stderr to tsgi.errors', async () => {
    const { port } = await listen();
    const app = gateway(`127.0.0.1:${port}`, {
      params: (environ) => ({ SCRIPT_FILENAME: `/srv${environ.PATH_INFO}`, SERVER_SOFTWARE: undefined }),
    });
    const response = await callApp(
      app,
      createTestEnviron({
        PATH_INFO: '/page.php',
        QUERY_STRING: 'a=1&b=%20',
        HTTP_X_TRACE: 'abc',
        HTTP_PROXY: 'http://attacker.example:3128',
        HTTPS: undefined,
      }),
    );
    expect(response.status).toBe('201 Created');
    expect(response.headers.filter(([name]) => name === 'Set-Cookie')).toEqual([
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
    const vars = lines(response.text);
    expect(vars).toMatchObject({
      REQUEST_METHOD: 'GET',
      PATH_INFO: '/page.php',
      QUERY_STRING: 'a=1&b=%20',
      HTTP_X_TRACE: 'abc',
      HTTP_HOST: 'localhost',
      SCRIPT_FILENAME: '/srv/page.php',
      REQUEST_URI: '/page.php?a=1&b=%20',
      GATEWAY_INTERFACE: 'CGI/1.1',
    });
    expect(vars.SERVER_SOFTWARE).toBeUndefined();
    expect(vars.HTTP_PROXY).toBeUndefined(); // httpoxy
    expect(response.errors).toBe('a line on stderr\n');
  });

  it('streams a 3 MiB request body out as FCGI_STDIN, byte for byte', async () => {
    const { port } = await listen();
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    const response = await callApp(
      gateway(`127.0.0.1:${port}`),
      createTestEnviron({ REQUEST_METHOD: 'POST', PATH_INFO: '/hash', body }),
    );
    expect(response.text).toBe(`${body.length} ${createHash('sha256').update(body).digest('hex')}`);
  });
});

describe('fromFastCgi: a body of unknown length', () => {
  const chunked = (body: Buffer) =>
    createTestEnviron(
      { REQUEST_METHOD: 'POST', PATH_INFO: '/hash', body, CONTENT_LENGTH: undefined },
      { inputTerminated: true },
    );

  it('is read whole and sent with its CONTENT_LENGTH (PHP reads CONTENT_LENGTH bytes)', async () => {
    const { port } = await listen();
    const body = Buffer.from('a chunked upload');
    const environ = chunked(body);
    expect(environ.CONTENT_LENGTH).toBeUndefined();
    const response = await callApp(gateway(`127.0.0.1:${port}`), environ);
    expect(response.text).toBe(`${body.length} ${createHash('sha256').update(body).digest('hex')}`);
  });

  it('is refused with 413 and one log line over maxBufferedBodyBytes', async () => {
    const { port } = await listen();
    const response = await callApp(
      gateway(`127.0.0.1:${port}`, { maxBufferedBodyBytes: 8 }),
      chunked(Buffer.from('nine bytes')),
    );
    expect(response.status).toBe('413 Content Too Large');
    expect(response.errors).toMatch(/over 8 bytes \(maxBufferedBodyBytes\)\n$/);
  });
});

describe('fromFastCgi: the connection pool', () => {
  it('serves sequential requests over one keep-conn connection', async () => {
    const listener = await listen();
    let connections = 0;
    listener.server.on('connection', () => connections++);
    const app = gateway(`127.0.0.1:${listener.port}`);
    for (let i = 0; i < 20; i++) expect((await callApp(app)).statusCode).toBe(201);
    expect(connections).toBe(1);
  });

  it('closes a connection idle for idleTimeoutMs', async () => {
    const listener = await listen();
    const app = gateway(`127.0.0.1:${listener.port}`, { idleTimeoutMs: 50 });
    await callApp(app);
    expect(listener.connections.size).toBe(1);
    await sleep(300);
    expect(listener.connections.size).toBe(0);
    expect((await callApp(app)).statusCode).toBe(201);
  });

  it('opens at most maxConnections, queueing the rest, and answers them all', async () => {
    const listener = await listen();
    let connections = 0;
    listener.server.on('connection', () => connections++);
    const app = gateway(`127.0.0.1:${listener.port}`, { maxConnections: 2 });
    const responses = await Promise.all(Array.from({ length: 12 }, () => callApp(app)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(12).fill(201));
    expect(connections).toBe(2);
  });

  it('a request waiting for a free connection gives up when its client leaves', async () => {
    const port = await fakeResponder(() => undefined); // never answers: the one connection stays busy
    const app = gateway(`127.0.0.1:${port}`, { maxConnections: 1, abortGraceMs: 10 });
    const first = new AbortController();
    const busy = callApp(app, createTestEnviron({ 'tsgi.signal': first.signal }));
    try {
      await sleep(50);
      const second = new AbortController();
      const waiting = callApp(app, createTestEnviron({ 'tsgi.signal': second.signal }));
      await sleep(50);
      const leftAt = Date.now();
      second.abort();
      const response = await waiting;
      // It stopped waiting at once (the connection it waited for is still busy), with nothing to log.
      expect(Date.now() - leftAt).toBeLessThan(1000);
      expect(response.errors).toBe('');
      expect(app.connections()).toEqual({ open: 1, idle: 0 });
    } finally {
      first.abort();
      await busy;
    }
    // The busy request's responder ignored the abort: its connection is closed after abortGraceMs.
    for (let i = 0; i < 40 && app.connections().open > 0; i++) await sleep(25);
    expect(app.connections()).toEqual({ open: 0, idle: 0 });
  });

  it('sends a bodiless request again on a fresh connection when a reused one was closed under it', async () => {
    const port = await fakeResponder((socket, id, index) => {
      if (index === 1) return void socket.destroy(); // a worker recycled between two requests
      socket.write(
        Buffer.concat([record(6, id, `Status: 200 OK\r\n\r\nanswer ${index}`), record(6, id), end(id)]),
      );
    });
    const app = gateway(`127.0.0.1:${port}`);
    expect((await callApp(app)).text).toBe('answer 0');
    const second = await callApp(app);
    expect(second.text).toBe('answer 2');
    expect(second.errors).toBe('');
  });
});

describe('fromFastCgi: refusals, one log line each', () => {
  it('answers 502 when nothing listens', async () => {
    const port = await freePort();
    const response = await callApp(gateway(`127.0.0.1:${port}`));
    expect(response.status).toBe('502 Bad Gateway');
    expect(response.errors).toBe(`tsgi fromFastCgi: 127.0.0.1:${port} cannot be reached: ECONNREFUSED\n`);
  });

  it.each([
    ['no blank line after the head', 'Content-Type: text/plain\r\n', /ended inside its header block/],
    ['a header line with no colon', 'Content-Type text/plain\r\n\r\nx', /sent a bad header block/],
    ['a header value with a control character', 'X-A: a\x01b\r\n\r\nx', /sent an invalid header "X-A"/],
    // The shared rule (src/shared/cgi-head.ts): obs-fold and a Status outside 100–599 are refused here too.
    ['a folded header line', 'X-A: one\r\n two\r\n\r\nx', /sent a bad header block: folded header line/],
    ['a Status past 599', 'Status: 700 Odd\r\n\r\nx', /sent a bad header block: bad Status/],
    ['nothing at all', '', /sent no response/],
  ])('answers 502 to a responder that sends %s', async (_name, stdout, message) => {
    const port = await fakeResponder((socket, id) =>
      socket.write(Buffer.concat([...(stdout ? [record(6, id, stdout)] : []), record(6, id), end(id)])),
    );
    const response = await callApp(gateway(`127.0.0.1:${port}`));
    expect(response.status).toBe('502 Bad Gateway');
    expect(response.errors.split('\n')).toEqual([expect.stringMatching(message), '']);
  });

  it('answers 503 to FCGI_OVERLOADED and 502 to FCGI_CANT_MPX_CONN', async () => {
    const port = await fakeResponder((socket, id, index) => socket.write(end(id, index === 0 ? 2 : 1)));
    const app = gateway(`127.0.0.1:${port}`);
    const overloaded = await callApp(app);
    expect(overloaded.status).toBe('503 Service Unavailable');
    expect(overloaded.errors).toMatch(/refused the request \(protocolStatus 2\)/);
    expect((await callApp(app)).status).toBe('502 Bad Gateway');
  });

  it('drops a Content-Length that is not a byte count and frames the body itself', async () => {
    const head = 'Content-Type: text/plain\r\nContent-Length: 2, 2\r\n\r\nok';
    const port = await fakeResponder((socket, id) =>
      socket.write(Buffer.concat([record(6, id, head), record(6, id), end(id)])),
    );
    const response = await callApp(gateway(`127.0.0.1:${port}`));
    expect(response.status).toBe('200 OK');
    expect(response.headers).toEqual([['Content-Type', 'text/plain']]);
    expect(response.text).toBe('ok');
  });

  it('passes a Location-only answer on as 302 and drops hop-by-hop fields', async () => {
    const head = 'Location: http://example.com/\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n';
    const port = await fakeResponder((socket, id) =>
      socket.write(Buffer.concat([record(6, id, head), record(6, id), end(id)])),
    );
    const response = await callApp(gateway(`127.0.0.1:${port}`));
    expect(response.status).toBe('302 Found');
    expect(response.headers).toEqual([['Location', 'http://example.com/']]);
  });
});

describe('fromFastCgi behind node:http: abort and back-pressure', () => {
  async function frontOf(app: Application): Promise<number> {
    const server = createHttpServer(toNodeHandler(app));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  }

  it('a client that leaves mid-body becomes FCGI_ABORT_REQUEST, and the pool serves on', async () => {
    const listener = await listen();
    let connections = 0;
    listener.server.on('connection', () => connections++);
    // A long grace: this test is about the connection being kept, not about how fast a busy machine drains it.
    const app = gateway(`127.0.0.1:${listener.port}`, { abortGraceMs: 10_000 });
    const port = await frontOf(app);
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest({ port, path: '/endless' }, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', () => undefined);
      request.once('error', reject);
      request.end();
    });
    for (let i = 0; i < 100 && aborted === 0; i++) await sleep(50);
    expect(aborted).toBe(1);
    // The aborted request ends with END_REQUEST (§5.4) once the responder stops, so its connection goes back
    // to the pool instead of being dropped.
    for (let i = 0; i < 100 && app.connections().idle === 0; i++) await sleep(50);
    expect(app.connections()).toEqual({ open: 1, idle: 1 });
    expect((await callApp(app)).statusCode).toBe(201);
    expect(connections).toBe(1);
  });

  it('a client gone before the head: the connection to a responder that ignores the abort is closed', async () => {
    let closedAt = 0;
    let abortSeen = false;
    const port = await fakeResponder((socket) => {
      // Like PHP-FPM running a script: reads no more records, answers nothing yet.
      socket.on('data', (chunk: Buffer) => (abortSeen ||= chunk.includes(Buffer.from([1, 2]))));
      socket.once('close', () => (closedAt = Date.now()));
    });
    const app = gateway(`127.0.0.1:${port}`, { abortGraceMs: 100 });
    const front = await frontOf(app);
    const request = httpRequest({ port: front, path: '/' });
    request.on('error', () => undefined);
    request.end();
    await sleep(200);
    const leftAt = Date.now();
    request.destroy();
    for (let i = 0; i < 40 && closedAt === 0; i++) await sleep(50);
    expect(abortSeen).toBe(true);
    expect(closedAt - leftAt).toBeGreaterThanOrEqual(90);
    expect(closedAt - leftAt).toBeLessThan(1500);
    expect(app.connections().open).toBe(0);
  });

  it('a client that stops reading stops the responder (bounded bytes in flight)', async () => {
    const listener = await listen();
    const port = await frontOf(gateway(`127.0.0.1:${listener.port}`));
    const request = httpRequest({ port, path: '/endless' }, (response) => response.pause());
    request.end();
    await sleep(1000);
    const afterOneSecond = produced;
    await sleep(500);
    // Unbounded, the responder would produce gigabytes a second; it waits on full buffers instead.
    expect(afterOneSecond).toBeLessThan(64 * 1024 * 1024);
    expect(produced - afterOneSecond).toBeLessThanOrEqual(2 * 64 * 1024);
    request.destroy();
  });
});
