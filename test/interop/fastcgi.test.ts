// The four framework apps on the FastCGI listener (in this process, on a free port), driven by tsgi's client
// as nginx would drive it: one request per connection-free id, the body as FCGI_STDIN, FCGI_ABORT_REQUEST
// when the client goes away.
import { connectFastCgi, createFastCgiServer, type FastCgiClient } from '../../src/fastcgi/index.js';
import type { Application } from '../../src/shared/types.js';
import {
  addInteropTests,
  examplePath,
  type InteropRequest,
  type InteropResponse,
  type Transport,
} from './suite.js';

const SCRIPT_NAME = '/app';
const HEAD_END = Buffer.from('\r\n\r\n');

function params(request: InteropRequest): Record<string, string> {
  const question = request.path.indexOf('?');
  const path = question === -1 ? request.path : request.path.slice(0, question);
  const vars: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: request.method,
    SCRIPT_NAME,
    PATH_INFO: decodeURIComponent(path),
    QUERY_STRING: question === -1 ? '' : request.path.slice(question + 1),
    REQUEST_URI: SCRIPT_NAME + request.path,
    SERVER_NAME: 'localhost',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    HTTP_HOST: 'localhost',
  };
  const length = request.body instanceof Uint8Array ? request.body.byteLength : request.length;
  if (length !== undefined) vars.CONTENT_LENGTH = String(length);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const key = name.toUpperCase().replaceAll('-', '_');
    vars[key === 'CONTENT_TYPE' ? key : `HTTP_${key}`] = value;
  }
  return vars;
}

async function fastCgiCall(client: FastCgiClient, request: InteropRequest): Promise<InteropResponse> {
  const call = client.request({ params: params(request), stdin: request.body ?? new Uint8Array(0) });
  // Unread FCGI_STDERR would pause the connection; the app's lines are collected by the tee below.
  void (async () => {
    for await (const _chunk of call.stderr);
  })().catch(() => undefined);
  const stdout = call.stdout[Symbol.asyncIterator]();
  let buffered = Buffer.alloc(0);
  let end = -1;
  while (end === -1) {
    const step = await stdout.next();
    if (step.done) throw new Error(`FCGI_STDOUT ended without a head: ${buffered.toString('latin1')}`);
    buffered = Buffer.concat([buffered, step.value]);
    end = buffered.indexOf(HEAD_END);
  }
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of buffered.toString('latin1', 0, end).split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') status = Number(value.slice(0, 3));
    else headers.push([name, value]);
  }
  const rest = buffered.subarray(end + HEAD_END.length);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (rest.byteLength > 0) yield rest;
    for (let step = await stdout.next(); !step.done; step = await stdout.next()) yield step.value;
  }
  return { status, headers, chunks: chunks(), disconnect: () => call.abort() };
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
