// The four framework apps on the FastCGI listener (in this process, on a free port), driven by tsgi's client
// as nginx would drive it: one request per connection-free id, the body as FCGI_STDIN, FCGI_ABORT_REQUEST
// when the client goes away.
import { connectFastCgi, type FastCgiClient } from '../../src/fastcgi/client.js';
import { createFastCgiServer } from '../../src/fastcgi/index.js';
import type { Application } from '../../src/shared/types.js';
import { readCgiHead } from '../helpers/spawn-cgi.js';
import {
  addInteropTests,
  examplePath,
  requestVariables,
  type InteropRequest,
  type InteropResponse,
  type Transport,
} from './suite.js';

const SCRIPT_NAME = '/app';

async function fastCgiCall(client: FastCgiClient, request: InteropRequest): Promise<InteropResponse> {
  const call = client.request({
    params: requestVariables(request, SCRIPT_NAME),
    stdin: request.body ?? new Uint8Array(0),
  });
  // Unread FCGI_STDERR would pause the connection; the app's lines are collected by the tee below.
  void (async () => {
    for await (const _chunk of call.stderr);
  })().catch(() => undefined);
  const head = await readCgiHead(call.stdout[Symbol.asyncIterator](), 'FCGI_STDOUT');
  return { ...head, disconnect: () => call.abort() };
}

addInteropTests('the FastCGI listener', async (framework): Promise<Transport> => {
  const example = ((await import(examplePath(framework))) as { default: Application }).default;
  let errors = '';
  // The listener ends an aborted request at once and drops what the app writes to FCGI_STDERR after that, so
  // the app's "closed" line (written once it has seen the abort) is also kept here, in this process.
  const app: Application = (environ, startResponse) => {
    const stderr = environ['tsgi.errors'];
    const tee = { write: (text: string | Uint8Array) => ((errors += String(text)), stderr.write(text)) };
    return example({ ...environ, 'tsgi.errors': tee }, startResponse);
  };
  const server = createFastCgiServer(app, { log: () => undefined });
  const address = await server.listen('127.0.0.1:0');
  if (address.kind !== 'tcp') throw new Error('expected a TCP listener');
  const client = await connectFastCgi({ host: '127.0.0.1', port: address.port });
  return {
    request: (request) => fastCgiCall(client, request),
    errors: () => errors,
    close: async () => {
      await client.close();
      await server.close(1000);
    },
  };
});
