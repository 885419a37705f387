// The conformance table run through the response driver directly: buildEnviron + runApplication, no transport.
import { describe, it } from 'vitest';
import { buildEnviron } from '../../src/shared/environ.js';
import { createInput, parseContentLength } from '../../src/shared/input.js';
import { runApplication } from '../../src/shared/respond.js';
import type { Application, Header } from '../../src/shared/types.js';
import * as apps from './apps.js';
import { CASES } from './cases.js';
import { caseVariables, checkResponse, requestBody, type ObservedResponse } from './expect.js';

const SCRIPT_NAME = '/app';

async function* chunksOf(body: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < body.length; offset += 16384) yield body.subarray(offset, offset + 16384);
}

describe('conformance through the response driver', () => {
  for (const testCase of CASES) {
    it(testCase.name, async () => {
      const vars = caseVariables(testCase.request, SCRIPT_NAME);
      const body = requestBody(testCase.request);
      const input = createInput(body ? chunksOf(body) : undefined, {
        contentLength: parseContentLength(vars.CONTENT_LENGTH),
      });
      let errors = '';
      const environ = buildEnviron(vars, input, {
        write: (text) => void (errors += typeof text === 'string' ? text : Buffer.from(text).toString()),
      });
      let status = 0;
      const headers: Record<string, string> = {};
      const chunks: Uint8Array[] = [];
      const app = apps[testCase.app] as Application;
      const outcome = await runApplication(app, environ, {
        sendHead(line: string, list: readonly Header[]) {
          status = Number(line.slice(0, 3));
          for (const [name, value] of list) headers[name.toLowerCase()] = value;
        },
        write(chunk) {
          chunks.push(chunk);
        },
        end() {},
      });
      const observed: ObservedResponse = {
        status,
        headers,
        body: Buffer.concat(chunks),
        complete: outcome.ok,
        errors,
      };
      checkResponse(testCase, observed, SCRIPT_NAME);
    });
  }
});
