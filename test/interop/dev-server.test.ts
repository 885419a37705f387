// The four framework apps on the development server (serve(), which is toNodeHandler on node:http).
import { serve } from '../../src/http/index.js';
import { collectErrors } from '../../src/testing/index.js';
import type { Application } from '../../src/shared/types.js';
import { httpCall } from './http-client.js';
import { addInteropTests, examplePath, type Transport } from './suite.js';

addInteropTests('the development server', async (framework): Promise<Transport> => {
  const app = ((await import(examplePath(framework))) as { default: Application }).default;
  const errors = collectErrors();
  const server = await serve(app, { port: 0, errors, log: false });
  return {
    request: (request) => httpCall(`http://127.0.0.1:${server.port}`, request),
    errors: () => errors.text,
    close: () => server.close(),
  };
});
