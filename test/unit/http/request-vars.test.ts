// The environ toNodeHandler builds from a real node:http request: what a CGI server would set, byte for byte.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../../../src/http/to-node.js';
import { percentDecodeLatin1 } from '../../../src/http/request-vars.js';
import type { Application } from '../../../src/shared/types.js';
import { rawRequest } from './raw-client.js';

// Answers with every string-valued environ key as JSON (UTF-8, so latin1 characters survive as themselves).
const echoEnviron: Application = (environ, startResponse) => {
  const vars: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(environ)) {
    if (typeof value === 'string' || typeof value === 'boolean') vars[key] = value;
  }
  startResponse('200 OK', [['Content-Type', 'application/json']]);
  return [new TextEncoder().encode(JSON.stringify(vars))];
};

let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer(toNodeHandler(echoEnviron));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function environFor(request: string): Promise<Record<string, string | boolean>> {
  const response = await rawRequest(port, request);
  expect(response.status, response.raw.toString('latin1')).toBe(200);
  return JSON.parse(response.body.toString('utf8')) as Record<string, string | boolean>;
}

describe('percentDecodeLatin1', () => {
  it('turns each %XX into the one character with that byte value', () => {
    expect(percentDecodeLatin1('/a%20b/%FF%2f')).toBe('/a b/\u00ff/');
  });
  it('keeps a % that does not start a two-digit hex escape', () => {
    expect(percentDecodeLatin1('/100%/%zz/%4')).toBe('/100%/%zz/%4');
  });
  it('does not decode twice (%2541 is %41, not A)', () => {
    expect(percentDecodeLatin1('/%2541')).toBe('/%41');
  });
});

describe('toNodeHandler environ', () => {
  it('sets the request line variables as a CGI server would', async () => {
    const env = await environFor(
      'GET /p/a%20th?x=1&y=%20 HTTP/1.1\r\nHost: example.test:8080\r\nConnection: close\r\n\r\n',
    );
    expect(env).toMatchObject({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '',
      PATH_INFO: '/p/a th',
      QUERY_STRING: 'x=1&y=%20',
      REQUEST_URI: '/p/a%20th?x=1&y=%20',
      SERVER_NAME: 'example.test',
      SERVER_PORT: String(port),
      SERVER_PROTOCOL: 'HTTP/1.1',
      REMOTE_ADDR: '127.0.0.1',
      HTTP_HOST: 'example.test:8080',
      'tsgi.url_scheme': 'http',
      'tsgi.input_terminated': true,
      'tsgi.multithread': true,
      'tsgi.multiprocess': false,
      'tsgi.run_once': false,
    });
    expect(Number(env.REMOTE_PORT)).toBeGreaterThan(0);
  });

  it('keeps a non-UTF-8 byte in PATH_INFO as exactly one character (%FF → U+00FF)', async () => {
    const env = await environFor('GET /caf%E9/%FF HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(env.PATH_INFO).toBe('/caf\u00e9/\u00ff');
    expect(env.REQUEST_URI).toBe('/caf%E9/%FF');
  });

  it('gives header bytes as ISO-8859-1 characters, one per byte', async () => {
    const request = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: h\r\nX-Name: '),
      Buffer.from('café', 'utf8'),
      Buffer.from('\r\nConnection: close\r\n\r\n'),
    ]);
    const response = await rawRequest(port, request);
    const env = JSON.parse(response.body.toString('utf8')) as Record<string, string>;
    expect(env.HTTP_X_NAME).toBe(Buffer.from('café', 'utf8').toString('latin1'));
  });

  it('joins repeated headers with ", " and repeated Cookie headers with "; "', async () => {
    const env = await environFor(
      'GET / HTTP/1.1\r\nHost: h\r\nAccept: a/b\r\nCookie: a=1\r\nAccept: c/d\r\nCookie: b=2\r\nConnection: close\r\n\r\n',
    );
    expect(env.HTTP_ACCEPT).toBe('a/b, c/d');
    expect(env.HTTP_COOKIE).toBe('a=1; b=2');
  });

  it('sets CONTENT_TYPE and CONTENT_LENGTH without HTTP_ twins', async () => {
    const env = await environFor(
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc',
    );
    expect(env.CONTENT_TYPE).toBe('text/plain');
    expect(env.CONTENT_LENGTH).toBe('3');
    expect(env).not.toHaveProperty('HTTP_CONTENT_TYPE');
    expect(env).not.toHaveProperty('HTTP_CONTENT_LENGTH');
  });

  it('leaves out a header whose name has an underscore, so X_User cannot pose as X-User', async () => {
    const env = await environFor('GET / HTTP/1.1\r\nHost: h\r\nX_User: mallory\r\nConnection: close\r\n\r\n');
    expect(env).not.toHaveProperty('HTTP_X_USER');
  });

  it('keeps a Proxy: header as HTTP_PROXY in the environ only (httpoxy: process.env is untouched)', async () => {
    const before = process.env.HTTP_PROXY;
    const env = await environFor(
      'GET / HTTP/1.1\r\nHost: h\r\nProxy: http://evil:1\r\nConnection: close\r\n\r\n',
    );
    expect(env.HTTP_PROXY).toBe('http://evil:1');
    expect(process.env.HTTP_PROXY).toBe(before);
  });

  it('takes SERVER_NAME from the socket when an HTTP/1.0 request has no Host', async () => {
    const env = await environFor('GET /x HTTP/1.0\r\n\r\n');
    expect(env.SERVER_NAME).toBe('127.0.0.1');
    expect(env.SERVER_PROTOCOL).toBe('HTTP/1.0');
    expect(env).not.toHaveProperty('HTTP_HOST');
  });

  it('keeps the brackets of an IPv6 Host as SERVER_NAME', async () => {
    const env = await environFor('GET / HTTP/1.1\r\nHost: [::1]:9\r\nConnection: close\r\n\r\n');
    expect(env.SERVER_NAME).toBe('[::1]');
  });

  it('takes the path of an absolute-form request target (a request sent to a proxy)', async () => {
    const env = await environFor(
      'GET http://example.test/a%41?q HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n',
    );
    expect(env.PATH_INFO).toBe('/aA');
    expect(env.QUERY_STRING).toBe('q');
    expect(env.REQUEST_URI).toBe('/a%41?q');
  });

  it('sets QUERY_STRING to "" when there is no query', async () => {
    const env = await environFor('GET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(env.QUERY_STRING).toBe('');
  });
});
