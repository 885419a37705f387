// The framework interop suite: the same requests against Express, Koa, Fastify and Hono on any tsgi front end.
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

/** The four example apps, by name; each is `examples/<name>.ts`. */
export const FRAMEWORKS = ['express', 'koa', 'fastify', 'hono'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export function examplePath(framework: Framework): string {
  return fileURLToPath(new URL(`../../examples/${framework}.ts`, import.meta.url));
}

/** What a client sends. `path` may carry a query. */
export interface InteropRequest {
  method: string;
  path: string;
  headers?: Readonly<Record<string, string>>;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** The body's length when it is streamed (sent as Content-Length). */
  length?: number;
}

/** A response whose head has arrived; the body is read as it comes. */
export interface InteropResponse {
  status: number;
  /** Lower-case names, in order, repeated names kept apart. */
  headers: [string, string][];
  chunks: AsyncIterable<Uint8Array>;
  /** The client goes away (closes the connection, aborts the request, closes the pipe). */
  disconnect(): void;
}

/** One front end serving one app. */
export interface Transport {
  request(request: InteropRequest): Promise<InteropResponse>;
  /** Everything the app wrote to tsgi.errors so far. */
  errors(): string;
  close(): Promise<void>;
}

export type TransportFactory = (framework: Framework) => Promise<Transport>;

/**
 * The CGI variables (RFC 3875 §4.1) a web server would set for `request` with the app mounted at `scriptName`:
 * the CGI runner gets them in its environment, the FastCGI listener as FCGI_PARAMS.
 */
export function requestVariables(request: InteropRequest, scriptName: string): Record<string, string> {
  const question = request.path.indexOf('?');
  const path = question === -1 ? request.path : request.path.slice(0, question);
  const vars: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: scriptName,
    PATH_INFO: decodeURIComponent(path),
    QUERY_STRING: question === -1 ? '' : request.path.slice(question + 1),
    REQUEST_URI: scriptName + request.path,
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'interop-test',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '40000',
    HTTP_HOST: 'localhost',
  };
  const length = request.body instanceof Uint8Array ? request.body.byteLength : request.length;
  if (length !== undefined) vars.CONTENT_LENGTH = String(length);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const key = name.toUpperCase().replaceAll('-', '_');
    vars[key === 'CONTENT_TYPE' ? key : `HTTP_${key}`] = value;
  }
  return vars;
}

export const header = (response: InteropResponse, name: string): string | undefined =>
  response.headers.find(([key]) => key === name)?.[1];

export async function readAll(response: InteropResponse): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of response.chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// The framework's own 500 page, told apart from the response driver's "Internal Server Error\n". Express shows
// the stack only outside production, and the CGI runner sets NODE_ENV=production (issue 11).
const ERROR_PAGES: Readonly<Record<Framework, RegExp>> = {
  express: /<title>Error<\/title>[\s\S]*<pre>(Error: boom from express|Internal Server Error)/,
  koa: /^Internal Server Error$/,
  fastify: /"message":"boom from fastify"/,
  hono: /^Internal Server Error$/,
};

const UPLOAD_BYTES = 5 * 1024 * 1024;

/**
 * Registers the suite for every framework on the front end `name`: routing with params, a JSON POST, a 5 MiB
 * streamed upload, a streamed response, two cookies, a redirect, a thrown error, HEAD, and a client that goes
 * away in the middle of a response. `options.afterEach` adds a check after every test (e.g. no validator line).
 */
export function addInteropTests(
  name: string,
  open: TransportFactory,
  options: { afterEach?: (transport: Transport) => void } = {},
): void {
  for (const framework of FRAMEWORKS) {
    describe(`${framework} on ${name}`, () => {
      let transport: Transport;
      beforeAll(async () => {
        transport = await open(framework);
      });
      afterAll(async () => {
        await transport?.close();
      });
      afterEach(() => options.afterEach?.(transport));

      it('routes a request with a path parameter', async () => {
        const response = await transport.request({ method: 'GET', path: '/hello/ada' });
        expect(response.status).toBe(200);
        expect((await readAll(response)).toString()).toBe('hello ada');
      });

      it('parses a JSON POST body', async () => {
        const body = Buffer.from(JSON.stringify({ n: 1, text: 'café' }));
        const response = await transport.request({
          method: 'POST',
          path: '/json',
          headers: { 'content-type': 'application/json' },
          body,
        });
        expect(response.status).toBe(200);
        expect(JSON.parse((await readAll(response)).toString())).toEqual({
          received: { n: 1, text: 'café' },
        });
      });

      it('reads a 5 MiB upload as a stream: the checksum matches and little is buffered at a time', async () => {
        const data = randomBytes(UPLOAD_BYTES);
        async function* chunks(): AsyncGenerator<Uint8Array> {
          for (let at = 0; at < data.length; at += 256 * 1024) yield data.subarray(at, at + 256 * 1024);
        }
        const response = await transport.request({
          method: 'POST',
          path: '/upload',
          headers: { 'content-type': 'application/octet-stream' },
          body: chunks(),
          length: data.length,
        });
        expect(response.status).toBe(200);
        const result = JSON.parse((await readAll(response)).toString()) as Record<string, unknown>;
        expect(result.bytes).toBe(UPLOAD_BYTES);
        expect(result.sha256).toBe(createHash('sha256').update(data).digest('hex'));
        // The handler's stream never held more than a few chunks (the Node bridge reads as the handler does).
        if (result.maxBuffered !== null) expect(result.maxBuffered as number).toBeLessThan(1024 * 1024);
      });

      it('streams a response: the first chunk arrives before the handler has finished', async () => {
        // The handler waits 300 ms between the two lines; buffered, both arrive together (a gap of ~0 ms) on
        // every try. Streamed, the gap is ~300 ms, less only when a loaded machine delays the first chunk's
        // delivery, which does not repeat: so up to three tries, and the test fails only if none shows a gap.
        const gaps: number[] = [];
        for (let attempt = 0; attempt < 3 && !gaps.some((gap) => gap >= 150); attempt++) {
          const started = Date.now();
          const response = await transport.request({ method: 'GET', path: '/stream' });
          const arrivals: [string, number][] = [];
          for await (const chunk of response.chunks)
            arrivals.push([Buffer.from(chunk).toString(), Date.now() - started]);
          expect(arrivals.map(([text]) => text).join('')).toBe('first\nsecond\n');
          const firstAt = arrivals.find(([text]) => text.includes('first'))![1];
          gaps.push(arrivals.at(-1)![1] - firstAt);
        }
        expect(
          gaps.some((gap) => gap >= 150),
          `gaps between the chunks: ${gaps.join(', ')} ms`,
        ).toBe(true);
      });

      it('sends two Set-Cookie headers as two headers', async () => {
        const response = await transport.request({ method: 'GET', path: '/cookies' });
        await readAll(response);
        const cookies = response.headers.filter(([name]) => name === 'set-cookie').map(([, value]) => value);
        expect(cookies).toHaveLength(2);
        expect(cookies[0]).toMatch(/^a=1/);
        expect(cookies[1]).toMatch(/^b=2/);
      });

      it('redirects', async () => {
        const response = await transport.request({ method: 'GET', path: '/redirect' });
        await readAll(response);
        expect(response.status).toBe(302);
        expect(header(response, 'location')).toBe('/hello/world');
      });

      it('answers a thrown error with the framework’s own 500 page', async () => {
        const response = await transport.request({ method: 'GET', path: '/error' });
        expect(response.status).toBe(500);
        expect((await readAll(response)).toString()).toMatch(ERROR_PAGES[framework]);
      });

      it('answers HEAD with the GET head and no body', async () => {
        const get = await transport.request({ method: 'GET', path: '/hello/ada' });
        await readAll(get);
        const head = await transport.request({ method: 'HEAD', path: '/hello/ada' });
        expect(head.status).toBe(200);
        expect((await readAll(head)).byteLength).toBe(0);
        expect(header(head, 'content-type')).toBe(header(get, 'content-type'));
        if (header(head, 'content-length') !== undefined) expect(header(head, 'content-length')).toBe('9');
      });

      it('lets the handler see a client that goes away, and keeps serving', async () => {
        const response = await transport.request({ method: 'GET', path: '/forever' });
        const iterator = response.chunks[Symbol.asyncIterator]();
        const first = await iterator.next();
        expect(Buffer.from(first.value as Uint8Array).toString()).toMatch(/^chunk 1/);
        response.disconnect();
        await waitFor(
          () => /\/forever closed after \d+ chunks/.test(transport.errors()),
          'the close log line',
        );
        // Node frameworks: the response is destroyed; Hono: the request signal aborted.
        expect(transport.errors()).toMatch(
          /\/forever closed after \d+ chunks \((destroyed: true|signal aborted: true)\)/,
        );
        const next = await transport.request({ method: 'GET', path: '/hello/again' });
        expect((await readAll(next)).toString()).toBe('hello again');
      });
    });
  }
}
