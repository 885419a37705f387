// serve(): the development server's listener, access log, keep-alive, bad requests, validator and graceful close.
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { serve, type DevServer, type ServeOptions } from '../../../src/http/server.js';
import type { Application } from '../../../src/shared/types.js';
import { parseResponse, rawRequest, sendRaw } from './raw-client.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

// Common Log Format plus the duration; parsed back field by field.
const ACCESS_LINE =
  /^(\S+) - - \[(\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000)\] "(\S+) (\S+) (HTTP\/\d\.\d)" (\d{3}|-) (\d+) (\d+\.\d)ms( incomplete)?$/;

const hello: Application = (environ, startResponse) => {
  const body = encode(`hello ${environ.PATH_INFO}\n`);
  startResponse('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Content-Length', String(body.length)],
  ]);
  return [body];
};

let running: DevServer | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(app: Application, options: ServeOptions = {}) {
  const log: string[] = [];
  const errors: string[] = [];
  running = await serve(app, {
    port: 0,
    log: (line) => void log.push(line),
    errors: { write: (text) => void errors.push(String(text)) },
    ...options,
  });
  return { server: running, log, errors };
}

function get(
  port: number,
  path: string,
  agent?: Agent,
): Promise<IncomingMessage & { text: string; localPort?: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ port, host: '127.0.0.1', path, agent: agent ?? false }, async (res) => {
      // The agent takes the socket back once the body is read: note which connection carried the response.
      const localPort = res.socket.localPort;
      let text = '';
      for await (const chunk of res) text += String(chunk);
      resolve(Object.assign(res, { text, localPort }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serve', () => {
  it('listens on 127.0.0.1 and a free port when asked for port 0, and says where', async () => {
    const { server } = await start(hello);
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect((await get(server.port, '/x')).text).toBe('hello /x\n');
  });

  it('brackets an IPv6 host in its URL', async () => {
    const { server } = await start(hello, { host: '::1' });
    expect(server.host).toBe('::1');
    expect(server.url).toBe(`http://[::1]:${server.port}/`);
    expect(await (await fetch(`${server.url}six`)).text()).toBe('hello /six\n');
  });

  it('writes one Common Log Format line per request, with status, bytes and duration', async () => {
    const { server, log } = await start(hello);
    await get(server.port, '/path?q=1');
    expect(log).toHaveLength(1);
    const fields = ACCESS_LINE.exec(log[0] as string);
    expect(fields, log[0]).not.toBeNull();
    const [, remote, , method, uri, protocol, status, bytes] = fields as RegExpExecArray;
    expect({ remote, method, uri, protocol, status, bytes }).toEqual({
      remote: '127.0.0.1',
      method: 'GET',
      uri: '/path?q=1',
      protocol: 'HTTP/1.1',
      status: '200',
      bytes: String('hello /path\n'.length),
    });
  });

  it('logs 0 body bytes for a HEAD request, whose body the server leaves out', async () => {
    const { server, log } = await start(hello);
    await rawRequest(server.port, 'HEAD /h HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n', true);
    expect(log[0]).toMatch(/"HEAD \/h HTTP\/1\.1" 200 0 /);
  });

  it('marks a response that was cut off as incomplete in the access log', async () => {
    const { server, log } = await start((_environ, startResponse) => {
      startResponse('200 OK', []);
      return (function* () {
        yield encode('some');
        throw new Error('after the head');
      })();
    });
    await rawRequest(server.port, 'GET /cut HTTP/1.1\r\nHost: h\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(log[0]).toMatch(/"GET \/cut HTTP\/1\.1" 200 4 \d+\.\dms incomplete$/);
  });

  it('writes nothing when the log is turned off', async () => {
    const lines: string[] = [];
    const { server } = await start(hello, {
      log: false,
      errors: { write: (t) => void lines.push(String(t)) },
    });
    await get(server.port, '/');
    expect(lines).toEqual([]);
  });

  it('serves several requests over one keep-alive connection', async () => {
    const { server, log } = await start(hello);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(server.port, '/1', agent);
      const second = await get(server.port, '/2', agent);
      expect([first.text, second.text]).toEqual(['hello /1\n', 'hello /2\n']);
      expect(first.localPort).toBe(second.localPort);
      expect(log).toHaveLength(2);
    } finally {
      agent.destroy();
    }
  });

  it('answers bytes that are not HTTP with a 400 and one log line, and keeps serving', async () => {
    const { server, errors } = await start(hello);
    const response = parseResponse(await sendRaw(server.port, 'NOT HTTP AT ALL\r\n\r\n'));
    expect(response.status).toBe(400);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(
      /^tsgi http: 400 Bad Request for a request from 127\.0\.0\.1 that is not valid/,
    );
    expect((await get(server.port, '/after')).text).toBe('hello /after\n');
  });

  it('refuses a request with both Content-Length and Transfer-Encoding (request smuggling) before the app', async () => {
    let called = false;
    const { server } = await start((environ, startResponse) => {
      called = true;
      return hello(environ, startResponse);
    });
    const response = await rawRequest(
      server.port,
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    expect(response.status).toBe(400);
    expect(called).toBe(false);
  });

  it('answers an oversized request head with a 431', async () => {
    const { server } = await start(hello);
    const response = await rawRequest(
      server.port,
      `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(response.status).toBe(431);
  });

  it('runs the app under the validator when asked, which reports SPEC breaches on tsgi.errors', async () => {
    const bareStatus: Application = (_environ, startResponse) => {
      startResponse('200', [['Content-Type', 'text/plain']]);
      return [encode('ok')];
    };
    const plain = await start(bareStatus);
    await get(plain.server.port, '/');
    expect(plain.errors.join('')).not.toContain('status.reason');
    await plain.server.close();

    const checked = await start(bareStatus, { validate: true });
    await get(checked.server.port, '/');
    expect(checked.errors.join('')).toContain('status.reason');
  });

  it('lets a request in flight finish on close(), and refuses new connections meanwhile', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { server } = await start(async (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      await released;
      return [encode('finished')];
    });
    const pending = get(server.port, '/slow');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = server.close();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1');
      socket.on('connect', () => resolve('connected'));
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    release();
    expect((await pending).text).toBe('finished');
    await closed;
    running = undefined;
  });

  it('cuts a response that never ends once the close grace period is over', async () => {
    const { server } = await start(
      (_environ, startResponse) => {
        startResponse('200 OK', []);
        return (async function* () {
          while (true) {
            yield encode('tick\n');
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
        })();
      },
      { closeGraceMs: 100 },
    );
    const response = await new Promise<IncomingMessage>((resolve) =>
      httpRequest({ port: server.port, host: '127.0.0.1', agent: false }, resolve).end(),
    );
    response.resume();
    const ended = new Promise((resolve) => response.on('close', resolve));
    const started = Date.now();
    await server.close();
    await ended;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(response.complete).toBe(false);
    running = undefined;
  });

  it('logs a server error after listening instead of crashing, and keeps serving', async () => {
    const { server, errors } = await start(hello);
    // What node:http emits when accept() fails, e.g. out of file descriptors.
    server.server.emit('error', Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' }));
    expect(errors).toEqual(['tsgi http: server error: accept EMFILE\n']);
    expect((await get(server.port, '/still')).text).toBe('hello /still\n');
  });

  it('rejects with EADDRINUSE when the port is taken', async () => {
    const { server } = await start(hello);
    await expect(serve(hello, { port: server.port, log: false })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});
