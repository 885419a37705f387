// The conformance table through the CGI runner as a real process: `node bin/tsgi.js cgi apps.ts#<app>`.
import { describe, it } from 'vitest';
import { spawnCgi } from '../helpers/spawn-cgi.js';
import { CASES } from './cases.js';
import { caseVariables, checkResponse, requestBody } from './expect.js';

const APPS = new URL('./apps.ts', import.meta.url).pathname;
const SCRIPT_NAME = '/cgi-bin/app';

describe.concurrent('conformance through tsgi cgi (a spawned CGI process)', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const result = await spawnCgi(`${APPS}#${testCase.app}`, caseVariables(testCase.request, SCRIPT_NAME), {
        body: requestBody(testCase.request),
      });
      checkResponse(
        testCase,
        { ...result, complete: result.exitCode === 0, errors: result.stderr },
        SCRIPT_NAME,
      );
    });
  }
});
