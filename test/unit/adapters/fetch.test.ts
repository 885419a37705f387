// fromFetchHandler and toFetchHandler: fetch handlers on tsgi, and tsgi apps as fetch handlers.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { fromFetchHandler } from '../../../src/adapters/fetch.js';
import { toFetchHandler } from '../../../src/fetch/index.js';
import { buildEnviron } from '../../../src/shared/environ.js';
import { createInput } from '../../../src/shared/input.js';
import { runApplication } from '../../../src/shared/respond.js';
import type { Application, Environ, StartResponse } from '../../../src/shared/types.js';
import { LazyCancellation } from '../../../src/shared/cancellation.js';
import { callApp, collectErrors, createTestEnviron } from '../../../src/testing/index.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('fromFetchHandler', () => {
  it('gives the handler method, absolute URL, headers, body and tsgi.signal', async () => {
    let seen: Record<string, unknown> = {};
    const environ = createTestEnviron({
      REQUEST_METHOD: 'POST',
      PATH_INFO: '/echo',
      QUERY_STRING: 'a=1',
      REQUEST_URI: '/echo?a=1',
      HTTP_HOST: 'example.test:8080',
      HTTP_X_TRACE_ID: 'abc',
      CONTENT_TYPE: 'application/json',
      body: '{"n":1}',
    });
    const app = fromFetchHandler(async (request, env) => {
      seen = {
        method: request.method,
        url: request.url,
        trace: request.headers.get('x-trace-id'),
        type: request.headers.get('content-type'),
        json: await request.json(),
        sameEnviron: env === environ,
        signal: request.signal === env['tsgi.signal'] && !request.signal.aborted,
      };
      return new Response('ok');
    });
    const response = await callApp(app, environ);
    expect(response.text).toBe('ok');
    expect(seen).toEqual({
      method: 'POST',
      url: 'http://example.test:8080/echo?a=1',
      trace: 'abc',
      type: 'application/json',
      json: { n: 1 },
      sameEnviron: true,
      signal: true,
    });
  });

  it('hands the handler the URL below SCRIPT_NAME, as Hono app.mount() does', async () => {
    const hono = new Hono().get('/hello/:name', (c) => c.text(`hello ${c.req.param('name')}`));
    const response = await callApp(
      fromFetchHandler(hono.fetch),
      createTestEnviron({
        SCRIPT_NAME: '/cgi-bin/hono.cgi',
        PATH_INFO: '/hello/ada',
        REQUEST_URI: '/cgi-bin/hono.cgi/hello/ada',
      }),
    );
    expect(response.text).toBe('hello ada');
  });

  it('keeps two Set-Cookie headers apart, fills the reason phrase and drops hop-by-hop headers', async () => {
    const app = fromFetchHandler(() => {
      const headers = new Headers({ 'content-type': 'text/plain', connection: 'close' });
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Path=/');
      return new Response('x', { status: 201, headers });
    });
    const response = await callApp(app);
    expect(response.status).toBe('201 Created');
    expect(response.headers).toEqual([
      ['content-type', 'text/plain'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', 'b=2; Path=/'],
      ['content-length', '1'],
    ]);
  });

  it('reads the response stream only as fast as the front end writes, and cancels it when stopped', async () => {
    let produced = 0;
    let cancelled = false;
    const app = fromFetchHandler(
      () =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                produced += 1;
                controller.enqueue(encode(`chunk ${produced}\n`));
              },
              cancel() {
                cancelled = true;
              },
            },
            { highWaterMark: 0 },
          ),
        ),
    );
    const controller = new AbortController();
    let writes = 0;
    const outcome = await runApplication(app, createTestEnviron({}, { signal: controller.signal }), {
      sendHead() {},
      async write() {
        writes += 1;
        await tick(2);
        if (writes === 3) controller.abort();
      },
      end() {},
    });
    expect(outcome.ok).toBe(false);
    expect(writes).toBe(3);
    expect(produced).toBeLessThanOrEqual(writes + 1);
    expect(cancelled).toBe(true);
  });

  it('streams the request body from tsgi.input without reading ahead of the handler', async () => {
    let pulled = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 100; i++) {
        pulled += 1;
        yield new Uint8Array(1024).fill(i);
      }
    }
    const vars = {
      REQUEST_METHOD: 'PUT',
      SCRIPT_NAME: '',
      PATH_INFO: '/',
      QUERY_STRING: '',
      SERVER_NAME: 'localhost',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
      CONTENT_LENGTH: String(100 * 1024),
    };
    const environ = buildEnviron(vars, createInput(source(), { contentLength: 100 * 1024 }), collectErrors());
    let pulledAfterFirst = -1;
    const app = fromFetchHandler(async (request) => {
      const reader = request.body!.getReader();
      let total = (await reader.read()).value!.byteLength;
      await tick(20);
      pulledAfterFirst = pulled;
      for (let step = await reader.read(); !step.done; step = await reader.read())
        total += step.value.byteLength;
      return new Response(String(total));
    });
    const response = await callApp(app, environ);
    expect(response.text).toBe(String(100 * 1024));
    expect(pulledAfterFirst).toBeLessThanOrEqual(3);
  });

  it('answers 400 with one log line when the environ cannot make a Request', async () => {
    const response = await callApp(
      fromFetchHandler(() => new Response('never')),
      createTestEnviron({ HTTP_HOST: 'bad host name' }),
    );
    expect(response.statusCode).toBe(400);
    expect(response.errors.split('\n').filter(Boolean)).toHaveLength(1);
  });
});

/** A tsgi app that reports its environ as JSON lines. */
const echoApp: Application = async (environ, startResponse) => {
  const body = await environ['tsgi.input'].read();
  const report = {
    REQUEST_METHOD: environ.REQUEST_METHOD,
    SCRIPT_NAME: environ.SCRIPT_NAME,
    PATH_INFO: environ.PATH_INFO,
    QUERY_STRING: environ.QUERY_STRING,
    SERVER_NAME: environ.SERVER_NAME,
    SERVER_PORT: environ.SERVER_PORT,
    HTTP_X_ONE: environ.HTTP_X_ONE,
    CONTENT_TYPE: environ.CONTENT_TYPE,
    scheme: environ['tsgi.url_scheme'],
    body: Buffer.from(body).toString('utf8'),
  };
  startResponse('200 OK', [
    ['Content-Type', 'application/json'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
  return [encode(JSON.stringify(report))];
};

describe('toFetchHandler', () => {
  it('builds the environ a CGI server would and returns status, headers (two Set-Cookie) and body', async () => {
    const handler = toFetchHandler(echoApp, { scriptName: '/app/' });
    const response = await handler(
      new Request('https://example.test/app/caf%C3%A9?x=1', {
        method: 'POST',
        headers: { 'x-one': '1', 'content-type': 'text/plain', x_forged: 'no' },
        body: 'payload',
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toEqual({
      REQUEST_METHOD: 'POST',
      SCRIPT_NAME: '/app',
      PATH_INFO: '/caf\u00c3\u00a9',
      QUERY_STRING: 'x=1',
      SERVER_NAME: 'example.test',
      SERVER_PORT: '443',
      HTTP_X_ONE: '1',
      CONTENT_TYPE: 'text/plain',
      scheme: 'https',
      body: 'payload',
    });
  });

  it('resolves at the head and streams the body while the app is still producing it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        yield encode('first\n');
        await gate;
        yield encode('second\n');
      })();
    };
    const response = await toFetchHandler(app)(new Request('http://localhost/'));
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first\n');
    release();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('second\n');
    expect((await reader.read()).done).toBe(true);
  });

  it('aborts tsgi.signal when the client cancels the body, and stops the app', async () => {
    let aborted: Promise<void> | undefined;
    let yielded = 0;
    const app: Application = (environ: Environ, startResponse) => {
      aborted = new Promise((resolve) => environ['tsgi.signal'].addEventListener('abort', () => resolve()));
      startResponse('200 OK', []);
      return (async function* () {
        while (true) {
          yielded += 1;
          yield encode('tick\n');
          await tick(1);
        }
      })();
    };
    const response = await toFetchHandler(app)(new Request('http://localhost/'));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await aborted;
    const after = yielded;
    await tick(30);
    expect(yielded).toBeLessThanOrEqual(after + 1);
  });

  it('answers 400 for a request with a bad Content-Length, and a null body for HEAD', async () => {
    const bad = await toFetchHandler(echoApp, { errors: collectErrors() })(
      new Request('http://localhost/', { method: 'POST', headers: { 'content-length': '1e3' }, body: 'x' }),
    );
    expect(bad.status).toBe(400);
    const head = await toFetchHandler(echoApp)(new Request('http://localhost/', { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
  });

  it("takes the client's address from Deno's info.remoteAddr or @hono/node-server's env.incoming", async () => {
    const remote: Application = (environ, startResponse) => {
      startResponse('200 OK', []);
      return [encode(`${String(environ.REMOTE_ADDR)}:${String(environ.REMOTE_PORT)}`)];
    };
    const handler = toFetchHandler(remote);
    const deno = await handler(new Request('http://localhost/'), {
      remoteAddr: { hostname: '192.0.2.1', port: 5 },
    });
    expect(await deno.text()).toBe('192.0.2.1:5');
    const node = await handler(new Request('http://localhost/'), {
      incoming: { socket: { remoteAddress: '::ffff:10.0.0.1', remotePort: 7 } },
    });
    expect(await node.text()).toBe('10.0.0.1:7');
    expect(await (await handler(new Request('http://localhost/'))).text()).toBe('undefined:undefined');
  });
});

describe('fromFetchHandler: cost per request (issue 13)', () => {
  it('creates tsgi.signal only when the handler reads request.signal, and then it is tsgi.signal', async () => {
    let reads = 0;
    // As a front end does: the driver watches a LazyCancellation, tsgi.signal is made only when read.
    const cancellation = new LazyCancellation();
    const lazy = (): AbortSignal => (reads++, cancellation.signal());
    const quiet = await callApp(
      fromFetchHandler(() => new Response('ok')),
      createTestEnviron({ HTTP_HOST: 'example.test' }, { signal: lazy }),
      { cancellation },
    );
    expect(quiet.text).toBe('ok');
    expect(reads).toBe(0);
    let same = false;
    await callApp(
      fromFetchHandler((request) => {
        same = request.signal === cancellation.signal();
        return new Response('ok');
      }),
      createTestEnviron({ HTTP_HOST: 'example.test' }, { signal: lazy }),
      { cancellation },
    );
    expect(same).toBe(true);
  });

  it('hands a synchronous answer back without a promise, and reads the headers only when asked', () => {
    const startResponse: StartResponse = () => () => Promise.resolve();
    const environ = createTestEnviron({ HTTP_HOST: 'example.test', HTTP_X_ONE: '1' });
    let headerReads = 0;
    const counted = new Proxy(environ, {
      ownKeys(target) {
        headerReads += 1;
        return Reflect.ownKeys(target);
      },
    });
    const body = fromFetchHandler((request) => new Response(request.url))(counted, startResponse);
    expect(Array.isArray(body)).toBe(true);
    expect(headerReads).toBe(0);
    expect(() =>
      fromFetchHandler(() => {
        throw new Error('sync');
      })(environ, startResponse),
    ).toThrow('sync');
  });
});
