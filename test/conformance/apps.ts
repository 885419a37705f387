// The applications of the conformance table, one named export each, so that a spawned server can load
// `test/conformance/apps.ts#name`. Type imports only: this file must load under Node's type stripping too.
import type { Application, Body, Environ, StartResponse } from '../../src/shared/types.js';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);
const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** A deterministic body of `size` bytes (byte i is i mod 251), for large-body cases. */
export function patternBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = i % 251;
  return out;
}

function plain(start: StartResponse, status: string, body: Uint8Array, extra: [string, string][] = []): Body {
  start(status, [['Content-Type', 'text/plain'], ['Content-Length', String(body.length)], ...extra]);
  return [body];
}

/** 200 "Hello, world!\n" with a Content-Length. */
export const hello: Application = (_environ, start) => plain(start, '200 OK', bytes('Hello, world!\n'));

/** The request line as the app sees it: `METHOD SCRIPT_NAME|PATH_INFO?QUERY_STRING`. */
export const requestLine: Application = (environ, start) =>
  plain(
    start,
    '200 OK',
    latin1(`${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}|${environ.PATH_INFO}?${environ.QUERY_STRING}`),
  );

/** PATH_INFO as hex of its bytes (ISO-8859-1: one char per byte), to see that a non-UTF-8 byte survived. */
export const pathBytes: Application = (environ, start) => {
  const hex = Array.from(environ.PATH_INFO, (char) => char.charCodeAt(0).toString(16).padStart(2, '0'));
  return plain(start, '200 OK', bytes(`PATH_INFO bytes: ${hex.join('')}`));
};

/** Echoes the `X-Test` and `Proxy` request headers as the environ carries them (HTTP_X_TEST, HTTP_PROXY). */
export const headerEcho: Application = (environ, start) =>
  plain(
    start,
    '200 OK',
    latin1(`HTTP_X_TEST=${text(environ.HTTP_X_TEST)}\nHTTP_PROXY=${text(environ.HTTP_PROXY)}\n`),
  );

/** Echoes the request body with the request's Content-Type. */
export const echoBody: Application = async (environ, start) => {
  const body = await environ['tsgi.input'].read();
  start('200 OK', [
    ['Content-Type', environ.CONTENT_TYPE || 'application/octet-stream'],
    ['Content-Length', String(body.length)],
  ]);
  return [body];
};

/** Reads the whole body and reports what happened, so a truncated body is visible whatever the transport. */
export const bodyReport: Application = async (environ, start) => {
  let report: string;
  try {
    let total = 0;
    for await (const chunk of environ['tsgi.input']) total += chunk.length;
    report = `read ${total} bytes`;
  } catch (error) {
    report = `error ${(error as { code?: string }).code ?? String(error)}`;
  }
  return plain(start, '200 OK', bytes(report));
};

/** Three chunks with pauses in between and no Content-Length: the server must stream or buffer them whole. */
export const stream: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return (async function* () {
    for (const part of ['one\n', 'two\n', 'three\n']) {
      yield bytes(part);
      await sleep(20);
    }
  })();
};

/** 302 to /elsewhere with an empty body. */
export const redirect: Application = (_environ, start) => {
  start('302 Found', [
    ['Location', '/elsewhere'],
    ['Content-Length', '0'],
  ]);
  return [];
};

/** 404 naming the path. */
export const notFound: Application = (environ, start) =>
  plain(start, '404 Not Found', latin1(`Not Found: ${environ.PATH_INFO}\n`));

/** Throws before calling startResponse: the server must answer 500 with its own short page. */
export const throwsBeforeHead: Application = () => {
  throw new Error('conformance: thrown before the head');
};

/** Sends a chunk, then throws: the head is out, so the response can only be cut off. */
export const throwsAfterHead: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return (async function* () {
    yield bytes('partial');
    await sleep(5);
    throw new Error('conformance: thrown after the head');
  })();
};

/** A header value carrying CR LF and a second header line (response splitting): must be refused. */
export const headerInjection: Application = (_environ, start) => {
  start('200 OK', [
    ['Content-Type', 'text/plain'],
    ['X-Injected', 'a\r\nSet-Cookie: stolen=1'],
  ]);
  return [bytes('must not be sent')];
};

/** A status with no reason phrase (served with the standard phrase; `validate()` flags it in development). */
export const statusWithoutReason: Application = (_environ, start) => {
  start('200', [['Content-Type', 'text/plain']]);
  return [bytes('served')];
};

/** A status carrying a control character (CR LF injection through the status line). */
export const statusWithControl: Application = (_environ, start) => {
  start('200 OK\r\nSet-Cookie: stolen=1', [['Content-Type', 'text/plain']]);
  return [bytes('must not be sent')];
};

/** Yields a string instead of bytes (PEP 3333: bytes only). */
export const stringChunk: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return ['a string' as unknown as Uint8Array];
};

/** Returns something that is not iterable. */
export const nonIterable: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return 42 as unknown as Body;
};

/** Declares Content-Length 10, sends 5 bytes: the response is short, so it must be cut off. */
export const shortContentLength: Application = (_environ, start) => {
  start('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Content-Length', '10'],
  ]);
  return [bytes('hello')];
};

/** Declares Content-Length 5, sends 5 then 5 more: the excess must never reach the client. */
export const longContentLength: Application = (_environ, start) => {
  start('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Content-Length', '5'],
  ]);
  return [bytes('hello'), bytes('world')];
};

/** 200 with an empty body (no chunks at all). */
export const emptyBody: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [];
};

/** The legacy write() path: two writes, then an empty iterable. */
export const writeCalls: Application = async (_environ, start) => {
  const write = start('200 OK', [['Content-Type', 'text/plain']]);
  await write(bytes('written '));
  await write(bytes('twice'));
  return [];
};

/** A body whose close() reports itself on tsgi.errors (PEP 3333: close is called once the response is done). */
export const closeReported: Application = (environ: Environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  const errors = environ['tsgi.errors'];
  return Object.assign([bytes('body with close')], {
    close() {
      errors.write('conformance: close called\n');
    },
  });
};

/** 1 MiB of patternBytes in 64 KiB chunks. */
export const largeBody: Application = (_environ, start) => {
  const body = patternBytes(1024 * 1024);
  start('200 OK', [
    ['Content-Type', 'application/octet-stream'],
    ['Content-Length', String(body.length)],
  ]);
  return (function* () {
    for (let offset = 0; offset < body.length; offset += 65536) yield body.subarray(offset, offset + 65536);
  })();
};

/** Calls startResponse a second time with excInfo before anything was sent: the second status wins. */
export const excInfoReplaces: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  const error = new Error('conformance: replaced');
  start('503 Service Unavailable', [['Content-Type', 'text/plain']], error);
  return [bytes('replaced')];
};

/** An async application returning an async generator. */
export const asyncGenerator: Application = async (_environ, start) => {
  await sleep(1);
  start('200 OK', [['Content-Type', 'text/plain']]);
  return (async function* () {
    yield bytes('async ');
    yield bytes('body');
  })();
};

/** Any request method, echoed, with a body the server must drop for HEAD (RFC 9110 §9.3.2). */
export const methodEcho: Application = (environ, start) =>
  plain(start, '200 OK', latin1(`method ${environ.REQUEST_METHOD}\n`));
