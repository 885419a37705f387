// validate() over the conformance table, through the response driver, the development server, FastCGI and CGI:
// the environ and input every front end builds pass the server-side rules, and the validator changes nothing
// for a conforming application (it streams; it refuses only what the driver refuses too).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connectFastCgi, type FastCgiClient } from '../../../src/fastcgi/client.js';
import { serve, type DevServer } from '../../../src/http/server.js';
import { validate } from '../../../src/middleware/validate.js';
import type { Application } from '../../../src/shared/types.js';
import * as apps from '../../conformance/apps.js';
import { CASES, type AppName, type ConformanceCase } from '../../conformance/cases.js';
import {
  caseVariables,
  checkResponse,
  requestBody,
  requestBytes,
  runCaseInProcess,
  type ObservedResponse,
} from '../../conformance/expect.js';
import { startListener, type TestListener } from '../../helpers/fcgi-records.js';
import { spawnCgi } from '../../helpers/spawn-cgi.js';
import { headerValues, parseResponse, sendRaw } from '../http/raw-client.js';

// Rules a server breaks (the environ, the input, its answers to startResponse, its iteration of the body).
const SERVER_RULE =
  /tsgi validate: \[(call\.arguments|environ\.[a-z-]+|input\.(bytes|content-length|eof)|start\.(lazy-head|exc-info|write)|write\.promise|body\.(iterate-once|one-next|after-close|close-once))\]/;

/** The case without its tsgi.errors expectation: the validator words a refusal its own way. */
function withoutErrors(testCase: ConformanceCase): ConformanceCase {
  const { errors: _errors, ...expect } = testCase.expect;
  return { ...testCase, expect };
}

describe('validate over the conformance table, through the response driver', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const app = validate(apps[testCase.app] as Application);
      const { errors, ...observed } = await runCaseInProcess(app, testCase, '/app');
      expect(errors).not.toMatch(SERVER_RULE);
      checkResponse(withoutErrors(testCase), observed, '/app');
    });
  }
});

describe('validate over the conformance table, through the development server (validate: true)', () => {
  let server: DevServer;
  let errors = '';

  // Mount each app at /<name> (the first path segment moves to SCRIPT_NAME), as the HTTP conformance suite does.
  const dispatch: Application = (environ, startResponse) => {
    const slash = environ.PATH_INFO.indexOf('/', 1);
    const name = (slash === -1 ? environ.PATH_INFO.slice(1) : environ.PATH_INFO.slice(1, slash)) as AppName;
    environ.SCRIPT_NAME = `/${name}`;
    environ.PATH_INFO = slash === -1 ? '' : environ.PATH_INFO.slice(slash);
    return validate(apps[name] as Application)(environ, startResponse);
  };

  beforeAll(async () => {
    server = await serve(dispatch, {
      host: '127.0.0.1',
      port: 0,
      validate: true,
      log: false,
      errors: {
        write: (text) => void (errors += typeof text === 'string' ? text : Buffer.from(text).toString()),
      },
    });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    errors = '';
  });

  // A client that claims more body than it sends can only stop by closing: node:http answers nothing (see
  // test/conformance/http.test.ts), so the case has no response to compare.
  for (const testCase of CASES.filter((c) => c.request.contentLength === undefined || requestFits(c))) {
    it(testCase.name, async () => {
      const response = parseResponse(
        await sendRaw(server.port, requestBytes(testCase)),
        testCase.request.method === 'HEAD',
      );
      await new Promise((resolve) => setTimeout(resolve, 20)); // close() and log lines may land just after
      expect(errors).not.toMatch(SERVER_RULE);
      const headers: Record<string, string> = {};
      for (const [name] of response.headers)
        headers[name.toLowerCase()] = headerValues(response, name).join(', ');
      const observed: ObservedResponse = {
        status: response.status,
        headers,
        body: response.body,
        complete: response.complete,
      };
      checkResponse(withoutErrors(testCase), observed, `/${testCase.app}`);
    });
  }
});

describe('validate over the conformance table, through the FastCGI listener (TCP)', () => {
  let listener: TestListener;
  let client: FastCgiClient;

  beforeAll(async () => {
    listener = await startListener((environ, startResponse) =>
      validate(apps[environ.TSGI_TEST_APP as AppName] as Application)(environ, startResponse),
    );
    client = await connectFastCgi(`127.0.0.1:${listener.port}`);
  });
  afterAll(async () => {
    await client.close();
    await listener.close();
  });

  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const vars = { ...caseVariables(testCase.request, '/app'), TSGI_TEST_APP: testCase.app };
      const stdin = requestBody(testCase.request);
      const response = await client.request({ params: vars, stdin }).response();
      const stderr = response.stderr.toString('utf8');
      expect(stderr).not.toMatch(SERVER_RULE);
      const headers: Record<string, string> = {};
      for (const [name, value] of response.headers) {
        const key = name.toLowerCase();
        headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
      }
      const observed: ObservedResponse = {
        status: response.statusCode,
        headers,
        body: response.body,
        complete: response.appStatus === 0,
      };
      checkResponse(withoutErrors(testCase), observed, '/app');
    });
  }
});

describe.concurrent('validate over the conformance table, through tsgi cgi (a spawned CGI process)', () => {
  const fixture = new URL('./validated-apps.ts', import.meta.url).pathname;
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const vars = { ...caseVariables(testCase.request, '/cgi-bin/app'), TSGI_TEST_APP: testCase.app };
      const result = await spawnCgi(fixture, vars, { body: requestBody(testCase.request) });
      expect(result.stderr).not.toMatch(SERVER_RULE);
      checkResponse(withoutErrors(testCase), { ...result, complete: result.exitCode === 0 }, '/cgi-bin/app');
    });
  }
});

function requestFits(testCase: ConformanceCase): boolean {
  return (testCase.request.contentLength ?? 0) <= (requestBody(testCase.request)?.length ?? 0);
}
