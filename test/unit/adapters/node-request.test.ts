// fromNodeHandler, request side: what the handler's IncomingMessage shows of the environ, and client aborts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fromNodeHandler, getEnviron } from '../../../src/adapters/node.js';
import { buildEnviron } from '../../../src/shared/environ.js';
import { createInput } from '../../../src/shared/input.js';
import { runApplication } from '../../../src/shared/respond.js';
import type { Environ, Header } from '../../../src/shared/types.js';
import { callApp, collectErrors, createTestEnviron } from '../../../src/testing/index.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An environ whose body comes from `source`, chunk by chunk, as a front end would feed it. */
function streamingEnviron(source: AsyncIterable<Uint8Array>, length: number, signal?: AbortSignal): Environ {
  const vars = {
    REQUEST_METHOD: 'POST',
    SCRIPT_NAME: '',
    PATH_INFO: '/upload',
    QUERY_STRING: '',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    CONTENT_LENGTH: String(length),
    CONTENT_TYPE: 'application/octet-stream',
  };
  return buildEnviron(
    vars,
    createInput(source, { contentLength: length }),
    collectErrors(),
    signal ? { signal } : {},
  );
}

describe('fromNodeHandler: the request', () => {
  it('builds method, url, headers and socket from the environ', async () => {
    let seen: Record<string, unknown> = {};
    const app = fromNodeHandler((req: IncomingMessage, res: ServerResponse) => {
      const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
      seen = {
        method: req.method,
        url: req.url,
        httpVersion: req.httpVersion,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        remoteAddress: socket.remoteAddress,
        remotePort: socket.remotePort,
        encrypted: socket.encrypted,
        environ: getEnviron(req)?.REQUEST_METHOD,
      };
      res.end();
    });
    await callApp(
      app,
      createTestEnviron({
        REQUEST_METHOD: 'PUT',
        PATH_INFO: '/a b',
        QUERY_STRING: 'x=1',
        REQUEST_URI: '/a%20b?x=1',
        HTTP_X_FORWARDED_FOR: '10.0.0.1',
        HTTP_ACCEPT_LANGUAGE: 'en',
        CONTENT_TYPE: 'text/plain',
        REMOTE_ADDR: '192.0.2.7',
        REMOTE_PORT: '54321',
        HTTPS: 'on',
        body: 'hi',
      }),
    );
    expect(seen).toMatchObject({
      method: 'PUT',
      url: '/a%20b?x=1',
      httpVersion: '1.1',
      remoteAddress: '192.0.2.7',
      remotePort: 54321,
      encrypted: true,
      environ: 'PUT',
    });
    expect(seen.headers).toMatchObject({
      'x-forwarded-for': '10.0.0.1',
      'accept-language': 'en',
      'content-type': 'text/plain',
      'content-length': '2',
      host: 'localhost',
    });
    expect(seen.rawHeaders).toContain('X-Forwarded-For');
  });

  it('shows only ports of 0 to 65535 in plain digits on req.socket, and undefined for anything else', async () => {
    const seen: (number | undefined)[][] = [];
    const app = fromNodeHandler((req, res) => {
      seen.push([req.socket.remotePort, req.socket.localPort]);
      res.end();
    });
    await callApp(app, createTestEnviron({ REMOTE_PORT: '65535', SERVER_PORT: '8080' }));
    await callApp(app, createTestEnviron({ REMOTE_PORT: '65536', SERVER_PORT: '99999999999999999999' }));
    await callApp(app, createTestEnviron({ REMOTE_PORT: '-1', SERVER_PORT: ' 80' }));
    expect(seen).toEqual([
      [65535, 8080],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it('routes below SCRIPT_NAME: req.url relative to the mount point, originalUrl and baseUrl the full path', async () => {
    let seen: Record<string, unknown> = {};
    const app = fromNodeHandler((req, res) => {
      const mounted = req as IncomingMessage & { baseUrl?: string; originalUrl?: string };
      seen = { url: req.url, baseUrl: mounted.baseUrl, originalUrl: mounted.originalUrl };
      res.end();
    });
    await callApp(
      app,
      createTestEnviron({
        SCRIPT_NAME: '/cgi-bin/app.cgi',
        PATH_INFO: '/users/1',
        QUERY_STRING: 'q=%2F',
        REQUEST_URI: '/cgi-bin/app.cgi/users/1?q=%2F',
      }),
    );
    expect(seen).toEqual({
      url: '/users/1?q=%2F',
      baseUrl: '/cgi-bin/app.cgi',
      originalUrl: '/cgi-bin/app.cgi/users/1?q=%2F',
    });
    await callApp(app, createTestEnviron({ SCRIPT_NAME: '/app', PATH_INFO: '', REQUEST_URI: undefined }));
    expect(seen).toEqual({ url: '/', baseUrl: '/app', originalUrl: '/app' });
  });

  it('reads the body from tsgi.input only as the handler reads it (a slow handler holds the upload back)', async () => {
    const CHUNK = 64 * 1024;
    const TOTAL = 64;
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < TOTAL; i++) {
        pulled += 1;
        yield new Uint8Array(CHUNK).fill(i);
      }
    }
    let pulledWhenPaused = -1;
    let received = 0;
    const app = fromNodeHandler(async (req, res) => {
      const first = await new Promise<Buffer>((resolve) =>
        req.once('data', (chunk: Buffer) => {
          req.pause();
          resolve(chunk);
        }),
      );
      received += first.byteLength;
      await tick(50);
      pulledWhenPaused = pulled;
      for await (const chunk of req) received += (chunk as Buffer).byteLength;
      res.end(String(received));
    });
    const response = await callApp(app, streamingEnviron(source(), CHUNK * TOTAL));
    expect(response.text).toBe(String(CHUNK * TOTAL));
    // At most the readable's buffer (16 KiB → one 64 KiB chunk) plus the one being read: never the whole body.
    expect(pulledWhenPaused).toBeLessThanOrEqual(3);
  });

  it('emits aborted and close on req and close on res when tsgi.signal aborts, and drops later writes', async () => {
    const controller = new AbortController();
    const events: string[] = [];
    let writeAfterAbort: boolean | undefined;
    async function* source(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      await new Promise(() => undefined);
    }
    const app = fromNodeHandler((req, res) => {
      req.on('aborted', () => events.push('req aborted'));
      req.on('close', () => events.push('req close'));
      req.on('error', () => events.push('req error'));
      res.on('close', () => {
        events.push('res close');
        writeAfterAbort = res.write('late');
      });
      res.write('first');
    });
    const written: string[] = [];
    const outcome = runApplication(app, streamingEnviron(source(), 100, controller.signal), {
      sendHead() {},
      write(chunk) {
        written.push(text(chunk));
        controller.abort();
      },
      end() {},
    });
    const result = await outcome;
    await tick(20);
    expect(result.ok).toBe(false);
    expect(written).toEqual(['first']);
    expect(events).toEqual(expect.arrayContaining(['req aborted', 'req close', 'res close']));
    expect(writeAfterAbort).toBe(false);
  });

  it('gives a Connect-style handler no next(): Express answers an unmatched route with its own 404', async () => {
    const calls: unknown[][] = [];
    const handler = Object.assign((req: IncomingMessage, res: ServerResponse, ...rest: unknown[]) => {
      calls.push(rest);
      res.statusCode = 404;
      res.end();
    }, {});
    const response = await callApp(fromNodeHandler(handler));
    expect(response.statusCode).toBe(404);
    expect(calls).toEqual([[]]);
  });
});

describe('fromNodeHandler: headers the driver refuses', () => {
  it('ends with the driver 500 when the head is invalid for tsgi', async () => {
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('Status', '200');
        res.end('x');
      }),
    );
    expect(response.statusCode).toBe(500);
    const sent: Header[] = response.headers;
    expect(sent.some(([name]) => name === 'Status')).toBe(false);
  });
});

describe('fromNodeHandler: bodies without CONTENT_LENGTH (FastCGI, chunked uploads)', () => {
  it('shows a terminated body of a POST as chunked and reads it whole, but gives a GET no body', async () => {
    const seen: Record<string, unknown>[] = [];
    const app = fromNodeHandler(async (req, res) => {
      let bytes = 0;
      for await (const chunk of req) bytes += (chunk as Buffer).byteLength;
      seen.push({ te: req.headers['transfer-encoding'], complete: req.complete, bytes });
      res.end();
    });
    const terminated = (method: string): Environ =>
      createTestEnviron(
        { REQUEST_METHOD: method, body: method === 'POST' ? 'twelve bytes' : '', CONTENT_LENGTH: undefined },
        { inputTerminated: true },
      );
    await callApp(app, terminated('POST'));
    await callApp(app, terminated('GET'));
    expect(seen).toEqual([
      { te: 'chunked', complete: true, bytes: 12 },
      { te: undefined, complete: true, bytes: 0 },
    ]);
  });
});

describe('fromNodeHandler: response splitting', () => {
  it('never lets a header value with CR LF reach the head: node:http refuses it in the handler', async () => {
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('X-Injected', 'a\r\nSet-Cookie: evil=1');
        res.end('x');
      }),
    );
    expect(response.statusCode).toBe(500);
    expect(response.headers.some(([name]) => name.toLowerCase() === 'set-cookie')).toBe(false);
    expect(response.errors).toMatch(/Invalid character in header content/);
  });
});
