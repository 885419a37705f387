// The conformance table run through the response driver directly: buildEnviron + runApplication, no transport.
import { describe, it } from 'vitest';
import type { Application } from '../../src/shared/types.js';
import * as apps from './apps.js';
import { CASES } from './cases.js';
import { checkResponse, runCaseInProcess } from './expect.js';

const SCRIPT_NAME = '/app';

describe('conformance through the response driver', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const observed = await runCaseInProcess(apps[testCase.app] as Application, testCase, SCRIPT_NAME);
      checkResponse(testCase, observed, SCRIPT_NAME);
    });
  }
});
