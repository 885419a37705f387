// The lightweight Request/Response globals of fromFetchHandler (issue 13): installed only when a fetch app is
// wrapped, and behaving as the platform's objects everywhere a handler or a library can tell.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { etag } from 'hono/etag';
import { secureHeaders } from 'hono/secure-headers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uninstallLightGlobals } from '../../../src/adapters/_fetch/globals.js';
import { fromFetchHandler } from '../../../src/adapters/fetch.js';
import { toApplication } from '../../../src/deploy/detect-app.js';
import type { Environ } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

// The platform classes, taken before anything in this file installs the lightweight ones.
const NativeRequest = globalThis.Request;
const NativeResponse = globalThis.Response;
const nativeFetch = globalThis.fetch;
const platform = (): boolean =>
  globalThis.Request === NativeRequest &&
  globalThis.Response === NativeResponse &&
  globalThis.fetch === nativeFetch;

/** Runs `handler` as a tsgi app for one request and returns what it returned (or threw). */
async function inHandler<T>(
  handler: (request: Request, environ: Environ) => Promise<T>,
  overrides: Parameters<typeof createTestEnviron>[0] = {},
): Promise<T> {
  let result: { value: T } | { error: unknown } | undefined;
  const app = fromFetchHandler(async (request, environ) => {
    try {
      result = { value: await handler(request, environ) };
    } catch (error) {
      result = { error };
    }
    return new Response('done');
  });
  await callApp(app, createTestEnviron({ HTTP_HOST: 'example.test', ...overrides }));
  if (result === undefined) throw new Error('the handler did not run');
  if ('error' in result) throw result.error;
  return result.value;
}

describe('lightweight globals: installed only when a fetch app is served', () => {
  afterAll(() => uninstallLightGlobals());

  it('loading tsgi, serving a tsgi app or opting out leaves the platform globals', async () => {
    await import('../../../src/index.js');
    await toApplication((_environ: Environ, startResponse: (status: string, headers: []) => void) => {
      startResponse('200 OK', []);
      return [];
    }, 'test app');
    let prototype: unknown;
    const optedOut = fromFetchHandler(
      (request) => {
        prototype = Object.getPrototypeOf(request);
        return new Response('ok');
      },
      { lightweightGlobals: false },
    );
    expect((await callApp(optedOut)).text).toBe('ok');
    expect(prototype).toBe(NativeRequest.prototype);
    expect(platform()).toBe(true);
  });

  it('a detected Hono app installs them, and is served through them', async () => {
    const hono = new Hono().get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
    const { app } = await toApplication(hono, 'test app');
    expect(platform()).toBe(false);
    const response = await callApp(app, createTestEnviron({ PATH_INFO: '/items/42' }));
    expect(response.status).toBe('200 OK');
    expect(response.headers).toEqual([
      ['content-type', 'application/json'],
      ['content-length', '11'],
    ]);
    expect(response.text).toBe('{"id":"42"}');
  });
});

describe('lightweight Request: what a handler can do with it', () => {
  let upstream: Server;
  let upstreamHost = '';
  const seen: { method?: string; url?: string; trace?: string; body?: string }[] = [];
  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, trace: req.headers['x-trace'] as string, body });
        res.end('upstream');
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamHost = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    fromFetchHandler(() => new Response(''));
  });
  afterAll(async () => {
    uninstallLightGlobals();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const post = (body: string, type = 'text/plain') => ({
    REQUEST_METHOD: 'POST',
    PATH_INFO: '/p',
    QUERY_STRING: 'a=1',
    CONTENT_TYPE: type,
    HTTP_X_TRACE: 't1',
    body,
  });

  it('is an instance of Request, the global and the platform one, and says so', async () => {
    const facts = await inHandler(async (request) => ({
      global: request instanceof Request,
      platform: request instanceof NativeRequest,
      tag: Object.prototype.toString.call(request),
      method: request.method,
      url: request.url,
      trace: request.headers.get('x-trace'),
      body: request.body,
      bodyUsed: request.bodyUsed,
      mode: request.mode,
    }));
    expect(facts).toEqual({
      global: true,
      platform: true,
      tag: '[object Request]',
      method: 'GET',
      url: 'http://example.test/',
      trace: null,
      body: null,
      bodyUsed: false,
      mode: 'cors',
    });
  });

  it('reads its body with text(), json(), arrayBuffer(), bytes(), blob() and formData()', async () => {
    expect(await inHandler((r) => r.text(), post('héllo'))).toBe('héllo');
    expect(await inHandler((r) => r.json(), post('{"n":1}', 'application/json'))).toEqual({ n: 1 });
    const buffer = await inHandler((r) => r.arrayBuffer(), post('abc'));
    expect(Buffer.from(buffer).toString()).toBe('abc');
    const blob = await inHandler((r) => r.blob(), post('abcd'));
    expect(blob.size).toBe(4);
    const form = await inHandler(
      async (r) => Object.fromEntries(await r.formData()),
      post('a=1&b=two', 'application/x-www-form-urlencoded'),
    );
    expect(form).toEqual({ a: '1', b: 'two' });
    const streamed = await inHandler(async (r) => {
      const used = [r.bodyUsed];
      const text = await new Response(r.body).text();
      used.push(r.bodyUsed);
      return { text, used };
    }, post('streamed'));
    expect(streamed).toEqual({ text: 'streamed', used: [false, true] });
  });

  it('clone() gives two readable copies', async () => {
    const texts = await inHandler(async (r) => {
      const copy = r.clone();
      return [await copy.text(), await r.text(), copy instanceof Request];
    }, post('twice'));
    expect(texts).toEqual(['twice', 'twice', true]);
  });

  it('is the input of new Request(request), with or without an init', async () => {
    const copies = await inHandler(async (r) => {
      const moved = new Request(r, { headers: { 'x-trace': 'changed' } });
      return {
        method: moved.method,
        url: moved.url,
        trace: moved.headers.get('x-trace'),
        body: await moved.text(),
        platform: moved instanceof NativeRequest,
      };
    }, post('moved'));
    expect(copies).toEqual({
      method: 'POST',
      url: 'http://example.test/p?a=1',
      trace: 'changed',
      body: 'moved',
      platform: true,
    });
    await expect(
      inHandler(async (r) => {
        await r.text();
        return new Request(r);
      }, post('used')),
    ).rejects.toThrow(TypeError);
  });

  it('is the input of fetch(request): the proxy idiom reaches the upstream whole', async () => {
    seen.length = 0;
    const answer = await inHandler(async (r) => (await fetch(r)).text(), {
      ...post('to upstream'),
      HTTP_HOST: upstreamHost,
    });
    expect(answer).toBe('upstream');
    const rebuilt = await inHandler(
      async (r) => (await fetch(new Request(`http://${upstreamHost}/other`, r))).text(),
      post('rebuilt'),
    );
    expect(rebuilt).toBe('upstream');
    expect(seen).toEqual([
      { method: 'POST', url: '/p?a=1', trace: 't1', body: 'to upstream' },
      { method: 'POST', url: '/other', trace: 't1', body: 'rebuilt' },
    ]);
  });

  it('keeps the headers edited before a platform Request is made from it', async () => {
    const trace = await inHandler(async (r) => {
      r.headers.set('x-trace', 'edited');
      return new Request(r).headers.get('x-trace');
    }, post('x'));
    expect(trace).toBe('edited');
  });

  it('gets the same 400 the platform Request gives for a method fetch refuses', async () => {
    const response = await callApp(
      fromFetchHandler(() => new Response('never')),
      createTestEnviron({ REQUEST_METHOD: 'TRACE', HTTP_HOST: 'example.test' }),
    );
    expect(response.statusCode).toBe(400);
  });
});

describe('lightweight Response: the platform behaviour, kept', () => {
  beforeAll(() => void fromFetchHandler(() => new Response('')));
  afterAll(() => uninstallLightGlobals());

  it('is an instance of Response and reads as one', async () => {
    expect(platform()).toBe(false);
    const response = new Response('hé', { status: 201, statusText: 'Made', headers: { 'x-a': '1' } });
    expect(response).toBeInstanceOf(Response);
    expect(response).toBeInstanceOf(NativeResponse);
    expect(Object.prototype.toString.call(response)).toBe('[object Response]');
    expect([response.status, response.statusText, response.ok, response.bodyUsed]).toEqual([
      201,
      'Made',
      true,
      false,
    ]);
    expect([...response.headers]).toEqual([
      ['content-type', 'text/plain;charset=UTF-8'],
      ['x-a', '1'],
    ]);
    expect([response.type, response.url, response.redirected]).toEqual(['default', '', false]);
    expect(await response.text()).toBe('hé');
    expect(response.bodyUsed).toBe(true);
    expect(await new Response('{"a":1}').json()).toEqual({ a: 1 });
    expect(new Uint8Array(await new Response(new Uint8Array([1, 2])).arrayBuffer())).toEqual(
      new Uint8Array([1, 2]),
    );
    expect((await new Response('abc').blob()).size).toBe(3);
  });

  it('clone() of a new Response(body) gives two bodies', async () => {
    const response = new Response('twice');
    const copy = response.clone();
    expect(await copy.text()).toBe('twice');
    expect(await response.text()).toBe('twice');
  });

  it('keeps a copy of a bytes body, as the platform does', async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const response = new Response(bytes);
    bytes[0] = 9;
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it('streams a ReadableStream body', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('a'));
        controller.enqueue(new TextEncoder().encode('b'));
        controller.close();
      },
    });
    const response = new Response(stream);
    expect(response.body).toBe(stream);
    expect(await response.text()).toBe('ab');
  });

  it('has the platform statics: Response.json, Response.redirect, Response.error', async () => {
    const json = Response.json({ a: 1 }, { status: 202 });
    expect(json).toBeInstanceOf(Response);
    expect([json.status, json.headers.get('content-type'), await json.text()]).toEqual([
      202,
      'application/json',
      '{"a":1}',
    ]);
    const redirect = Response.redirect('http://example.test/next', 303);
    expect([redirect.status, redirect.headers.get('location')]).toEqual([303, 'http://example.test/next']);
    expect(Response.error().type).toBe('error');
  });

  it('refuses what the platform refuses, with the same errors', () => {
    const cases: [unknown, unknown][] = [
      ['x', { status: 204 }],
      ['x', { status: 99 }],
      ['x', { statusText: 'bad\n' }],
      ['x', { headers: { 'bad name': '1' } }],
      ['x', { headers: { a: 'line\nbreak' } }],
      ['x', { headers: [['a']] }],
    ];
    for (const [body, init] of cases) {
      const expected = (() => {
        try {
          new NativeResponse(body as string, init as ResponseInit);
        } catch (error) {
          return (error as Error).constructor;
        }
        return undefined;
      })();
      expect(expected).toBeDefined();
      expect(() => new Response(body as string, init as ResponseInit)).toThrow(expected as ErrorConstructor);
    }
  });

  it('converts an init the way the platform does (a Response as init, a numeric string status)', async () => {
    const first = new Response('a', { status: 201, headers: { 'x-a': '1' } });
    const second = new Response(null, first);
    expect([second.status, second.headers.get('x-a')]).toEqual([201, '1']);
    const numeric = new Response('b', { status: '202' as unknown as number });
    expect(numeric.status).toBe(202);
  });

  it('can be subclassed', async () => {
    class Tagged extends Response {
      tag = 'mine';
    }
    const tagged = new Tagged('sub');
    expect(tagged).toBeInstanceOf(Tagged);
    expect(tagged).toBeInstanceOf(Response);
    expect(new Response('x')).not.toBeInstanceOf(Tagged);
    expect([tagged.tag, await tagged.text()]).toEqual(['mine', 'sub']);
  });
});

describe('fromFetchHandler: lightweight Responses written as they are', () => {
  beforeAll(() => void fromFetchHandler(() => new Response('')));
  afterAll(() => uninstallLightGlobals());

  it('writes headers edited after the Response was made, each Set-Cookie apart, repeated names joined', async () => {
    const app = fromFetchHandler(() => {
      const response = new Response('body', {
        headers: [
          ['x-dup', 'a'],
          ['x-dup', 'b'],
          ['set-cookie', 'a=1'],
          ['set-cookie', 'b=2'],
          ['connection', 'close'],
        ],
      });
      return response;
    });
    const response = await callApp(app);
    expect(response.headers).toEqual([
      ['content-type', 'text/plain;charset=UTF-8'],
      ['x-dup', 'a, b'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
      ['content-length', '4'],
    ]);
    const edited = await callApp(
      fromFetchHandler(() => {
        const r = new Response(new Uint8Array([104, 105]), { status: 202 });
        r.headers.set('x-late', 'yes');
        return r;
      }),
    );
    expect([edited.status, edited.headers, edited.text]).toEqual([
      '202 Accepted',
      [
        ['x-late', 'yes'],
        ['content-length', '2'],
      ],
      'hi',
    ]);
  });

  it("reads a subclass's own getters", async () => {
    class Teapot extends Response {
      override get status(): number {
        return 418;
      }
    }
    const response = await callApp(fromFetchHandler(() => new Teapot('short and stout')));
    expect([response.statusCode, response.text]).toEqual([418, 'short and stout']);
  });

  it("keeps the handler's own Content-Length and adds none to an empty-bodied 204", async () => {
    const own = await callApp(
      fromFetchHandler(() => new Response('abc', { headers: { 'Content-Length': '3' } })),
    );
    expect(own.headers.filter(([name]) => name === 'content-length')).toEqual([['content-length', '3']]);
    const empty = await callApp(fromFetchHandler(() => new Response(null, { status: 204 })));
    expect([empty.status, empty.headers]).toEqual(['204 No Content', []]);
  });

  it('serves Hono middleware that edits, clones and replaces the Response (cors, etag, secureHeaders)', async () => {
    const hono = new Hono()
      .use(cors({ origin: 'https://site.test' }))
      .use(etag())
      .use(secureHeaders())
      .use(async (c, next) => {
        await next();
        c.header('x-after', 'yes');
      })
      .get('/', (c) => c.json({ ok: true }));
    const response = await callApp(
      fromFetchHandler(hono.fetch),
      createTestEnviron({ HTTP_ORIGIN: 'https://site.test' }),
    );
    const headers = Object.fromEntries(response.headers);
    expect(response.status).toBe('200 OK');
    expect(response.text).toBe('{"ok":true}');
    expect(headers).toMatchObject({
      'access-control-allow-origin': 'https://site.test',
      'content-type': 'application/json',
      'x-after': 'yes',
      'x-content-type-options': 'nosniff',
    });
    expect(headers.etag).toMatch(/^"[0-9a-f]+"$/);
  });

  it('answers HEAD through Hono with the GET headers and no body (and no Content-Length made up)', async () => {
    const hono = new Hono().get('/', (c) => c.text('hello'));
    const response = await callApp(
      fromFetchHandler(hono.fetch),
      createTestEnviron({ REQUEST_METHOD: 'HEAD' }),
    );
    expect(response.status).toBe('200 OK');
    expect(response.headers).toEqual([['content-type', 'text/plain;charset=UTF-8']]);
    expect(response.text).toBe('');
  });
});
