// limitBody(): 413 before the application reads past the limit, with and without CONTENT_LENGTH.
import express from 'express';
import { Hono } from 'hono';
import { fromFetchHandler } from '../../../src/adapters/fetch.js';
import { describe, expect, it } from 'vitest';
import { fromNodeHandler } from '../../../src/adapters/node.js';
import { ContentTooLargeError, limitBody } from '../../../src/middleware/limit-body.js';
import { buildEnviron } from '../../../src/shared/environ.js';
import { createInput } from '../../../src/shared/input.js';
import type { Application, Environ, Input } from '../../../src/shared/types.js';
import { callApp, collectErrors, createTestEnviron } from '../../../src/testing/index.js';

/** An environ whose body is `total` bytes in 100-byte chunks; `contentLength` may be missing or lie. */
function environWithBody(total: number, contentLength?: string, input?: Input): Environ {
  async function* source(): AsyncGenerator<Uint8Array> {
    for (let sent = 0; sent < total; sent += 100) yield new Uint8Array(Math.min(100, total - sent)).fill(65);
  }
  const vars = {
    REQUEST_METHOD: 'POST',
    SCRIPT_NAME: '',
    PATH_INFO: '/upload',
    QUERY_STRING: '',
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    CONTENT_LENGTH: contentLength,
    CONTENT_TYPE: 'application/octet-stream',
  };
  const body =
    input ??
    createInput(source(), {
      contentLength: contentLength === undefined ? undefined : Number(contentLength),
      inputTerminated: true,
    });
  return buildEnviron(vars, body, collectErrors(), { inputTerminated: contentLength === undefined });
}

/** Reads the whole body by read(size) steps and reports how many bytes it got. */
function reader(seen: { bytes: number; called: boolean }): Application {
  return async (environ, startResponse) => {
    seen.called = true;
    for (let chunk = await environ['tsgi.input'].read(64); chunk.byteLength > 0;) {
      seen.bytes += chunk.byteLength;
      chunk = await environ['tsgi.input'].read(64);
    }
    startResponse('200 OK', []);
    return [new TextEncoder().encode(String(seen.bytes))];
  };
}

describe('limitBody', () => {
  it('answers 413 at once when CONTENT_LENGTH is over the limit, without calling the app', async () => {
    const seen = { bytes: 0, called: false };
    const response = await callApp(limitBody(1000)(reader(seen)), environWithBody(2000, '2000'));
    expect(response.status).toBe('413 Content Too Large');
    expect(seen.called).toBe(false);
    expect(response.errors).toMatch(/limitBody: 413 for POST \/upload/);
  });

  it('answers 413 when a body without CONTENT_LENGTH goes past the limit, never handing over the extra bytes', async () => {
    const seen = { bytes: 0, called: false };
    const response = await callApp(limitBody(1000)(reader(seen)), environWithBody(5000));
    expect(response.statusCode).toBe(413);
    expect(seen.bytes).toBeLessThanOrEqual(1000);
  });

  it('counts the bytes the input really yields, whatever CONTENT_LENGTH claims', async () => {
    async function* flood(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 50; i++) yield new Uint8Array(100);
    }
    // An input that ignores its CONTENT_LENGTH of 10 (a broken front end): the limit still holds.
    const lying = createInput(flood(), { inputTerminated: true });
    const seen = { bytes: 0, called: false };
    const response = await callApp(limitBody(1000)(reader(seen)), environWithBody(0, '10', lying));
    expect(response.statusCode).toBe(413);
    expect(seen.bytes).toBeLessThanOrEqual(1000);
  });

  it('stops an app iterating the input at the limit too, and lets bodies up to the limit through', async () => {
    const iterating: Application = async (environ, startResponse) => {
      let bytes = 0;
      for await (const chunk of environ['tsgi.input']) bytes += chunk.byteLength;
      startResponse('200 OK', []);
      return [new TextEncoder().encode(String(bytes))];
    };
    expect((await callApp(limitBody(1000)(iterating), environWithBody(1100))).statusCode).toBe(413);
    const exact = await callApp(limitBody(1000)(iterating), environWithBody(1000));
    expect(exact.text).toBe('1000');
    const exactRead = await callApp(
      limitBody(1000)(reader({ bytes: 0, called: false })),
      environWithBody(1000),
    );
    expect(exactRead.text).toBe('1000');
  });

  it('lets the application answer the refusal itself', async () => {
    const own: Application = async (environ, startResponse) => {
      try {
        await environ['tsgi.input'].read();
        startResponse('200 OK', []);
      } catch (error) {
        expect(error).toBeInstanceOf(ContentTooLargeError);
        startResponse('400 Bad Request', []);
      }
      return [];
    };
    expect((await callApp(limitBody(10)(own), environWithBody(100))).statusCode).toBe(400);
  });

  it('gives Express body-parser the 413 through the Node bridge (express.json())', async () => {
    const app = express();
    app.use(express.json({ limit: '10mb' }));
    app.post('/upload', (req, res) => res.json({ keys: Object.keys(req.body as object).length }));
    const big = JSON.stringify({ data: 'x'.repeat(5000) });
    const environ = environWithBody(
      0,
      undefined,
      createInput(
        (async function* () {
          yield new TextEncoder().encode(big);
        })(),
        { inputTerminated: true },
      ),
    );
    environ.CONTENT_TYPE = 'application/json';
    const response = await callApp(limitBody(1000)(fromNodeHandler(app)), environ);
    expect(response.statusCode).toBe(413);
    const small = createTestEnviron({
      REQUEST_METHOD: 'POST',
      PATH_INFO: '/upload',
      CONTENT_TYPE: 'application/json',
      body: '{"a":1}',
    });
    expect((await callApp(limitBody(1000)(fromNodeHandler(app)), small)).text).toBe('{"keys":1}');
  });

  it('answers 413 for a Hono app whose c.req.json() failed on the refused body', async () => {
    const hono = new Hono().post('/upload', async (c) => c.json(await c.req.json<unknown>()));
    const big = new TextEncoder().encode(JSON.stringify({ data: 'x'.repeat(5000) }));
    const input = createInput(
      (async function* () {
        yield big;
      })(),
      { inputTerminated: true },
    );
    const environ = environWithBody(0, undefined, input);
    environ.CONTENT_TYPE = 'application/json';
    const response = await callApp(limitBody(1000)(fromFetchHandler(hono.fetch)), environ);
    expect(response.statusCode).toBe(413);
  });
});
