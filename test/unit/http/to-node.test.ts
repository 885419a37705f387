// toNodeHandler on a real node:http server: streaming both ways, back-pressure, HEAD, cut-offs, client aborts.
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  toNodeHandler,
  type NodeResponseReport,
  type ToNodeHandlerOptions,
} from '../../../src/http/to-node.js';
import type { Application, Environ } from '../../../src/shared/types.js';
import { headerValues, rawRequest } from './raw-client.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serves `app` through toNodeHandler on a free port; `reports` collects what onResponse saw. */
async function listen(app: Application, options: ToNodeHandlerOptions = {}) {
  const reports: NodeResponseReport[] = [];
  const errors: string[] = [];
  server = createServer(
    toNodeHandler(app, {
      errors: { write: (text) => void errors.push(String(text)) },
      onResponse: (report) => reports.push(report),
      ...options,
    }),
  );
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, reports, errors };
}

/** A promise plus its resolve function, to hold an application at a point until the test lets it go. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

function get(port: number, path: string, method = 'GET'): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path, method, agent: false }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of res) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('toNodeHandler', () => {
  it('sends the first body chunk before the application has produced the second', async () => {
    const later = gate();
    const { port } = await listen((_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        yield encode('first\n');
        await later.promise;
        yield encode('second\n');
      })();
    });
    const res = await get(port, '/');
    const chunks = res[Symbol.asyncIterator]();
    const first = await chunks.next();
    expect(String(first.value)).toBe('first\n');
    later.open();
    const rest: string[] = [];
    for (let step = await chunks.next(); !step.done; step = await chunks.next())
      rest.push(String(step.value));
    expect(rest.join('')).toBe('second\n');
  });

  it('lets the application read the start of an upload before the client has sent the rest', async () => {
    const { port } = await listen(async (environ, startResponse) => {
      const write = startResponse('200 OK', [['Content-Type', 'text/plain']]);
      const input = environ['tsgi.input'];
      const head = await input.read(5);
      await write(encode(`got ${Buffer.from(head).toString()}\n`));
      const tail = await input.read();
      return [encode(`then ${tail.byteLength} bytes\n`)];
    });
    const socket = connect(port, '127.0.0.1');
    socket.write(
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n',
    );
    let received = '';
    const sawFirst = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        if (received.includes('got hello')) resolve();
      }),
    );
    // The rest of the body is sent only after the app has answered the first five bytes.
    await sawFirst;
    socket.write('3\r\nabc\r\n0\r\n\r\n');
    await new Promise((resolve) => socket.on('close', resolve));
    expect(received).toContain('then 3 bytes');
  });

  it('echoes a 5 MiB upload with a matching checksum, reading it as a stream', async () => {
    const { port } = await listen(async (environ, startResponse) => {
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of environ['tsgi.input']) {
        hash.update(chunk);
        bytes += chunk.byteLength;
      }
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return [encode(`${bytes} ${hash.digest('hex')}`)];
    });
    const body = Buffer.alloc(5 * 1024 * 1024, 'x');
    body.write('start', 0);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', agent: false }, resolve);
      req.on('error', reject);
      req.end(body);
    });
    const expected = `${body.length} ${createHash('sha256').update(body).digest('hex')}`;
    expect((await readAll(res)).toString()).toBe(expected);
  });

  it('reads a chunked upload without Content-Length to its end (tsgi.input_terminated)', async () => {
    const { port } = await listen(async (environ, startResponse) => {
      const body = await environ['tsgi.input'].read();
      startResponse('200 OK', []);
      return [
        encode(`${environ.CONTENT_LENGTH ?? 'none'} ${environ['tsgi.input_terminated']} ${body.byteLength}`),
      ];
    });
    const response = await rawRequest(
      port,
      'PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n',
    );
    expect(response.body.toString()).toBe('none true 6');
  });

  it('stops pulling the body from the application while the client does not read (back-pressure)', async () => {
    let produced = 0;
    const chunk = new Uint8Array(64 * 1024);
    const total = 256 * 1024 * 1024;
    const { port } = await listen((_environ, startResponse) => {
      startResponse('200 OK', [['Content-Length', String(total)]]);
      return (function* () {
        while (produced < total) {
          produced += chunk.byteLength;
          yield chunk;
        }
      })();
    });
    const res = await get(port, '/');
    res.pause();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Socket buffers hold a few MiB at most; without back-pressure the app would have produced all 256 MiB.
    expect(produced).toBeLessThan(32 * 1024 * 1024);
    res.resume();
    let received = 0;
    for await (const part of res) received += (part as Buffer).byteLength;
    expect(received).toBe(total);
  });

  it('answers HEAD without a body, yet runs the application and closes its body', async () => {
    let closed = 0;
    let iterated = false;
    const { port, reports } = await listen((_environ, startResponse) => {
      startResponse('200 OK', [
        ['Content-Type', 'text/plain'],
        ['Content-Length', '5'],
      ]);
      const body = (function* () {
        iterated = true;
        yield encode('hello');
      })();
      return Object.assign(body, { close: () => void closed++ });
    });
    const response = await rawRequest(port, 'HEAD / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', true);
    expect(response.status).toBe(200);
    expect(headerValues(response, 'content-length')).toEqual(['5']);
    expect(response.body.byteLength).toBe(0);
    expect(iterated).toBe(true);
    expect(closed).toBe(1);
    expect(reports[0]?.outcome.ok).toBe(true);
  });

  it('keeps two Set-Cookie headers apart, in the order and case the application gave', async () => {
    const { port } = await listen((_environ, startResponse) => {
      startResponse('201 Made It', [
        ['Set-Cookie', 'a=1; Path=/'],
        ['X-Mixed-Case', 'v'],
        ['Set-Cookie', 'b=2'],
      ]);
      return [];
    });
    const response = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(response.statusLine).toBe('HTTP/1.1 201 Made It');
    expect(headerValues(response, 'set-cookie')).toEqual(['a=1; Path=/', 'b=2']);
    expect(response.headers.map(([name]) => name).slice(0, 3)).toEqual([
      'Set-Cookie',
      'X-Mixed-Case',
      'Set-Cookie',
    ]);
  });

  it('cuts the connection when the application fails after its headers, so the client sees an incomplete body', async () => {
    const { port, reports, errors } = await listen((_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return (function* () {
        yield encode('partial');
        throw new Error('database gone');
      })();
    });
    const response = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('partial');
    expect(response.complete).toBe(false);
    expect(reports[0]?.outcome.ok).toBe(false);
    expect(errors.join('')).toContain('database gone');
  });

  it('stops and closes the body of an app that never reads tsgi.signal when the client goes away', async () => {
    const closed = gate();
    let late: Environ | undefined;
    const { port } = await listen((environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      late = environ;
      const body = (async function* () {
        for (let i = 0; ; i++) {
          yield encode(`tick ${i}\n`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      return Object.assign(body, { close: () => closed.open() });
    });
    const res = await get(port, '/');
    await new Promise((resolve) => res.once('data', resolve));
    res.destroy();
    await closed.promise;
    // Created only now, the signal says what happened.
    expect(late?.['tsgi.signal'].aborted).toBe(true);
  });

  it('aborts tsgi.signal and closes the body when the client goes away mid-response', async () => {
    const aborted = gate<Environ>();
    const closed = gate();
    let chunksAfterAbort = 0;
    const { port } = await listen((environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      environ['tsgi.signal'].addEventListener('abort', () => aborted.open(environ));
      const body = (async function* () {
        for (let i = 0; ; i++) {
          if (environ['tsgi.signal'].aborted) chunksAfterAbort++;
          yield encode(`tick ${i}\n`);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      return Object.assign(body, { close: () => closed.open() });
    });
    const res = await get(port, '/');
    await new Promise((resolve) => res.once('data', resolve));
    res.destroy();
    const environ = await aborted.promise;
    await closed.promise;
    expect(environ['tsgi.signal'].aborted).toBe(true);
    expect(chunksAfterAbort).toBeLessThanOrEqual(1);
  });

  it('serves the next request on a keep-alive connection after an app that ignored the request body', async () => {
    const { port } = await listen((environ, startResponse) => {
      startResponse('200 OK', [['Content-Length', '2']]);
      return [encode(environ.REQUEST_METHOD === 'POST' ? 'po' : 'ge')];
    });
    const body = 'x'.repeat(100_000);
    const raw = await rawRequest(
      port,
      `POST / HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
    );
    const text = raw.raw.toString('latin1');
    expect(text.match(/HTTP\/1\.1 200 OK/g)).toHaveLength(2);
    expect(text.endsWith('ge')).toBe(true);
  });

  it('refuses with a 400 and one log line a request whose environ cannot be built, and keeps serving', async () => {
    const tsgiHandler = toNodeHandler(
      (_environ, startResponse) => {
        startResponse('200 OK', []);
        return [encode('fine')];
      },
      { errors: { write: (text) => void logged.push(String(text)) } },
    );
    const logged: string[] = [];
    // A framework in front that rewrote Content-Length into something no byte count can be (smuggling-shaped).
    server = createServer((req, res) => {
      if (req.url === '/mangled') req.headers['content-length'] = '1, 2';
      tsgiHandler(req, res);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const refused = await rawRequest(port, 'GET /mangled HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(refused.status).toBe(400);
    // The same page as every front end's refusal: the reason goes to the log, never to the client.
    expect(refused.body.toString()).toBe('Bad Request\n');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^tsgi: bad request in GET \/mangled: .*CONTENT_LENGTH/);
    const fine = await rawRequest(port, 'GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(fine.body.toString()).toBe('fine');
  });

  it('reports status, byte count and duration of each response to onResponse', async () => {
    const { port, reports } = await listen((_environ, startResponse) => {
      startResponse('404 Not Found', [['Content-Type', 'text/plain']]);
      return [encode('no such'), encode(' page')];
    });
    await rawRequest(port, 'GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(reports).toHaveLength(1);
    expect(reports[0]?.outcome).toMatchObject({ ok: true, status: 404, bytes: 12, headersSent: true });
    expect(reports[0]?.request.url).toBe('/missing');
    expect(reports[0]?.durationMs).toBeGreaterThanOrEqual(0);
  });
  it('keeps serving when the onResponse hook throws, and logs the failure', async () => {
    const { port, errors } = await listen(
      (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Length', '2']]);
        return [encode('ok')];
      },
      {
        onResponse: () => {
          throw new Error('log hook broke');
        },
      },
    );
    const first = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    const second = await rawRequest(port, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect([first.body.toString(), second.body.toString()]).toEqual(['ok', 'ok']);
    expect(errors.join('')).toContain('onResponse failed: Error: log hook broke');
  });
  it('leaves an upload in the socket while the application does not read it (bounded memory)', async () => {
    const reading = gate();
    const handler = toNodeHandler(async (environ, startResponse) => {
      await reading.promise;
      let total = 0;
      for await (const chunk of environ['tsgi.input']) total += chunk.byteLength;
      startResponse('200 OK', []);
      return [encode(String(total))];
    });
    let socketOfRequest: Socket | undefined;
    server = createServer((req, res) => {
      socketOfRequest = req.socket;
      handler(req, res);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const size = 256 * 1024 * 1024;
    const answer = new Promise<string>((resolve, reject) => {
      const req = httpRequest(
        { port, host: '127.0.0.1', method: 'PUT', agent: false, headers: { 'Content-Length': String(size) } },
        async (res) => resolve((await readAll(res)).toString()),
      );
      req.on('error', reject);
      const piece = Buffer.alloc(1024 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Socket buffers and Node's stream buffer hold a few MiB; the rest of the 256 MiB waits in the client.
    expect(socketOfRequest?.bytesRead).toBeLessThan(32 * 1024 * 1024);
    reading.open();
    expect(await answer).toBe(String(size));
  });
});
