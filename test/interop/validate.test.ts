// The four framework apps under validate() (the development server with `validate: true`): every request of
// the interop suite passes the tsgi validator without an error or a warning.
import { expect } from 'vitest';
import { serve } from '../../src/http/index.js';
import type { Application } from '../../src/shared/types.js';
import { collectErrors } from '../../src/testing/index.js';
import { httpCall } from './http-client.js';
import { addInteropTests, examplePath, type Transport } from './suite.js';

addInteropTests(
  'the development server under validate()',
  async (framework): Promise<Transport> => {
    const app = ((await import(examplePath(framework))) as { default: Application }).default;
    const errors = collectErrors();
    const server = await serve(app, { port: 0, errors, log: false, validate: true });
    return {
      request: (request) => httpCall(`http://127.0.0.1:${server.port}`, request),
      errors: () => errors.text,
      close: () => server.close(),
    };
  },
  {
    afterEach(transport) {
      expect(transport.errors()).not.toMatch(/tsgi validate|ValidationError/);
    },
  },
);
