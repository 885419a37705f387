// toNodeHandler mounted on the other Node servers it promises: https, the http2 compatibility API, an Express route.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import {
  connect as connectHttp2,
  constants as http2Constants,
  createServer as createHttp2Server,
  type Http2Server,
} from 'node:http2';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toNodeHandler } from '../../../src/http/to-node.js';
import type { Application } from '../../../src/shared/types.js';
import { hasTool } from '../../helpers/tools.js';
import { headerValues, rawRequest } from './raw-client.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

// Two cookies, a streamed two-chunk body, and the environ keys each transport sets differently.
const probe: Application = (environ, startResponse) => {
  startResponse('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Set-Cookie', 'a=1'],
    ['Set-Cookie', 'b=2'],
  ]);
  const keys = [
    'tsgi.url_scheme',
    'HTTPS',
    'SERVER_PROTOCOL',
    'HTTP_HOST',
    'SCRIPT_NAME',
    'PATH_INFO',
    'REQUEST_URI',
  ];
  return [encode(keys.map((key) => `${key}=${String(environ[key] ?? '')}`).join('\n')), encode('\nend')];
};

function parseLines(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

const servers: (Server | Http2Server)[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function listenOn<T extends Server | Http2Server>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe.skipIf(!hasTool('openssl', 'openssl') /* throws under CI=true */)('toNodeHandler on https', () => {
  let dir: string;
  let tls: { key: Buffer; cert: Buffer };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tsgi-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' }); // prettier-ignore
    tls = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('sets HTTPS=on and tsgi.url_scheme https for a request over TLS', async () => {
    const port = await listenOn(createHttpsServer(tls, toNodeHandler(probe)));
    const text = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        { port, host: '127.0.0.1', path: '/s', rejectUnauthorized: false },
        async (res) => {
          let body = '';
          for await (const chunk of res) body += String(chunk);
          resolve(body);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(parseLines(text)).toMatchObject({ 'tsgi.url_scheme': 'https', HTTPS: 'on', PATH_INFO: '/s' });
  });
});

describe('toNodeHandler on the http2 compatibility API', () => {
  it('serves a request over HTTP/2 with the :authority as HTTP_HOST and both cookies', async () => {
    const port = await listenOn(createHttp2Server(toNodeHandler(probe)));
    const client = connectHttp2(`http://127.0.0.1:${port}`);
    try {
      const stream = client.request({ ':path': '/h2/x%41?q=1' });
      const headers = await new Promise<Record<string, unknown>>((resolve) => stream.on('response', resolve));
      let body = '';
      for await (const chunk of stream) body += String(chunk);
      expect(headers[':status']).toBe(200);
      expect(headers['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(parseLines(body)).toMatchObject({
        SERVER_PROTOCOL: 'HTTP/2.0',
        HTTP_HOST: `127.0.0.1:${port}`,
        PATH_INFO: '/h2/xA',
        REQUEST_URI: '/h2/x%41?q=1',
      });
      expect(body.endsWith('\nend')).toBe(true);
    } finally {
      client.close();
    }
  });

  it('resets only the stream of a response cut off after its headers', async () => {
    const port = await listenOn(
      createHttp2Server(
        toNodeHandler(
          (_environ, startResponse) => {
            startResponse('200 OK', []);
            return (function* () {
              yield encode('partial');
              throw new Error('boom');
            })();
          },
          { errors: { write: () => undefined } },
        ),
      ),
    );
    const client = connectHttp2(`http://127.0.0.1:${port}`);
    try {
      const cut = client.request({ ':path': '/' });
      cut.resume();
      const error = new Promise<NodeJS.ErrnoException>((resolve) => cut.on('error', resolve));
      const code = await new Promise<number>((resolve) => cut.on('close', () => resolve(cut.rstCode)));
      expect(code).toBe(http2Constants.NGHTTP2_INTERNAL_ERROR);
      expect((await error).code).toBe('ERR_HTTP2_STREAM_ERROR');
      // The connection itself survives: a second stream on it is answered.
      const next = client.request({ ':path': '/' });
      next.on('error', () => undefined); // the same app cuts this response off too
      const status = await new Promise((resolve) =>
        next.on('response', (headers) => resolve(headers[':status'])),
      );
      next.resume();
      expect(status).toBe(200);
    } finally {
      client.close();
    }
  });
});

describe('toNodeHandler as an Express route', () => {
  it('makes the mount path SCRIPT_NAME and keeps both cookies next to headers Express had set', async () => {
    const app = express();
    app.use('/legacy', toNodeHandler(probe));
    const port = await listenOn(createHttpServer(app));
    const response = await rawRequest(
      port,
      'GET /legacy/a%20b?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
    );
    expect(response.status).toBe(200);
    expect(headerValues(response, 'set-cookie')).toEqual(['a=1', 'b=2']);
    expect(headerValues(response, 'x-powered-by')).toEqual(['Express']);
    expect(parseLines(response.body.toString())).toMatchObject({
      SCRIPT_NAME: '/legacy',
      PATH_INFO: '/a b',
      REQUEST_URI: '/legacy/a%20b?x=1',
    });
  });

  it('gives an empty PATH_INFO for a request to the mount point itself', async () => {
    const app = express();
    app.use('/legacy', toNodeHandler(probe));
    const port = await listenOn(createHttpServer(app));
    const response = await rawRequest(
      port,
      'GET /legacy?x=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
    );
    expect(parseLines(response.body.toString())).toMatchObject({ SCRIPT_NAME: '/legacy', PATH_INFO: '' });
  });
});
