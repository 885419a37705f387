// The conformance table through the development server (serve(), toNodeHandler) over a real TCP socket.
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serve, type DevServer } from '../../src/http/server.js';
import type { Application } from '../../src/shared/types.js';
import { headerValues, parseResponse, sendRaw, type RawResponse } from '../unit/http/raw-client.js';
import * as apps from './apps.js';
import { CASES, type AppName, type ConformanceCase } from './cases.js';
import { checkResponse, requestBytes, type ObservedResponse } from './expect.js';

// Each app is mounted at /<name>, as a web server maps a script: the first path segment moves from PATH_INFO to
// SCRIPT_NAME (wsgiref shift_path_info), so the table's {{SCRIPT_NAME}} is exercised with a real mount point.
const dispatch: Application = (environ, startResponse) => {
  const slash = environ.PATH_INFO.indexOf('/', 1);
  const name = (slash === -1 ? environ.PATH_INFO.slice(1) : environ.PATH_INFO.slice(1, slash)) as AppName;
  const mounted = {
    ...environ,
    SCRIPT_NAME: `/${name}`,
    PATH_INFO: slash === -1 ? '' : environ.PATH_INFO.slice(slash),
  };
  return (apps[name] as Application)(mounted, startResponse);
};

function observe(response: RawResponse, errors: string): ObservedResponse {
  const headers: Record<string, string> = {};
  for (const [name] of response.headers)
    headers[name.toLowerCase()] = headerValues(response, name).join(', ');
  return { status: response.status, headers, body: response.body, complete: response.complete, errors };
}

// HTTP cannot carry one case of the table as the others do. A client that claims more body than it sends can
// only stop by closing its side; node:http then reports an invalid EOF before the app can answer, so nothing is
// sent back. What must hold instead: no response, one log line, and the next request is served.
const CLIENT_CLOSES_MID_BODY =
  'a CONTENT_LENGTH longer than the body makes reading fail with ERR_BODY_TRUNCATED';

describe('conformance through the development server (node:http over TCP)', () => {
  let server: DevServer;
  let errors = '';
  const log: string[] = [];

  beforeAll(async () => {
    server = await serve(dispatch, {
      host: '127.0.0.1',
      port: 0,
      errors: {
        write: (text) => void (errors += typeof text === 'string' ? text : Buffer.from(text).toString()),
      },
      log: (line) => void log.push(line),
    });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    errors = '';
    log.length = 0;
  });

  for (const testCase of CASES) {
    if (testCase.name === CLIENT_CLOSES_MID_BODY) continue;
    it(testCase.name, async () => {
      const raw = await sendRaw(server.port, requestBytes(testCase));
      const response = parseResponse(raw, testCase.request.method === 'HEAD');
      // The app's close() and error lines may land just after the last byte reached the client.
      await new Promise((resolve) => setTimeout(resolve, 20));
      checkResponse(testCase, observe(response, errors), `/${testCase.app}`);
      expect(log, 'one access log line per request').toHaveLength(1);
    });
  }

  it(`${CLIENT_CLOSES_MID_BODY} (HTTP: the client closes mid-body, gets no response, the server carries on)`, async () => {
    const testCase = CASES.find((c) => c.name === CLIENT_CLOSES_MID_BODY) as ConformanceCase;
    const raw = await new Promise<Buffer>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.end(requestBytes(testCase)));
      const parts: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => parts.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(Buffer.concat(parts)));
    });
    expect(raw.byteLength).toBe(0);
    expect(errors).toMatch(
      /^tsgi http: 400 Bad Request for a request from 127\.0\.0\.1 that is not valid HTTP\/1\.1/,
    );
    const next = parseResponse(await sendRaw(server.port, requestBytes(CASES[0] as ConformanceCase)));
    expect(next.status).toBe(200);
  });
});
