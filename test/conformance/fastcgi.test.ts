// The conformance table through the FastCGI connection over real TCP, driven by the project's FastCGI client.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { connectFastCgi, type FastCgiClient } from '../../src/fastcgi/client.js';
import type { Application } from '../../src/shared/types.js';
import { startListener, type TestListener } from '../helpers/fcgi-records.js';
import * as apps from './apps.js';
import { CASES, type AppName, type ConformanceCase } from './cases.js';
import { caseVariables, checkResponse, requestBody, type ObservedResponse } from './expect.js';

const SCRIPT_NAME = '/app';

// One listener serves every app: the app name travels as a param, as a web server would pick a script.
const dispatch: Application = (environ, startResponse) => {
  const name = environ.TSGI_TEST_APP as AppName;
  return (apps[name] as Application)(environ, startResponse);
};

async function* chunksOf(body: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < body.length; offset += 65536) yield body.subarray(offset, offset + 65536);
}

/** Sends one case through `client` and returns what came back, in the table's terms. */
async function observe(client: FastCgiClient, testCase: ConformanceCase): Promise<ObservedResponse> {
  const vars = { ...caseVariables(testCase.request, SCRIPT_NAME), TSGI_TEST_APP: testCase.app };
  const body = requestBody(testCase.request);
  // Large bodies are streamed record by record, as nginx does with fastcgi_request_buffering off.
  const stdin = body === undefined ? undefined : body.length > 65536 ? chunksOf(body) : body;
  const response = await client.request({ params: vars, stdin }).response();
  const headers: Record<string, string> = {};
  for (const [name, value] of response.headers) {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  return {
    status: response.statusCode,
    headers,
    body: response.body,
    complete: response.appStatus === 0,
    errors: response.stderr.toString('utf8'),
  };
}

describe('conformance through the FastCGI listener (TCP, keep-conn client)', () => {
  let listener: TestListener;
  let client: FastCgiClient;

  beforeAll(async () => {
    listener = await startListener(dispatch);
    client = await connectFastCgi(`127.0.0.1:${listener.port}`);
  });

  afterAll(async () => {
    await client.close();
    await listener.close();
  });

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      checkResponse(testCase, await observe(client, testCase), SCRIPT_NAME);
    });
  }
});

describe('conformance with every case at once on one multiplexed connection', () => {
  it('answers each case as it does alone, whatever the interleaving of records', async () => {
    const listener = await startListener(dispatch);
    const client = await connectFastCgi(`127.0.0.1:${listener.port}`);
    try {
      const observed = await Promise.all(CASES.map((testCase) => observe(client, testCase)));
      CASES.forEach((testCase, i) => checkResponse(testCase, observed[i]!, SCRIPT_NAME));
    } finally {
      await client.close();
      await listener.close();
    }
  });
});
