// The four framework apps under the CGI runner: `node bin/tsgi.js cgi examples/<framework>.ts`, spawned per
// request with the variables a web server sets (mounted at /cgi-bin/app), the body on stdin.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  addInteropTests,
  examplePath,
  type InteropRequest,
  type InteropResponse,
  type Transport,
} from './suite.js';

// bin/tsgi.js loads dist/: build first (`node scripts/build.mjs --js-only`; `npm test` does).
const TSGI_BIN = fileURLToPath(new URL('../../bin/tsgi.js', import.meta.url));
const SCRIPT_NAME = '/cgi-bin/app';
const HEAD_END = Buffer.from('\r\n\r\n');

/** The CGI variables for `request` (RFC 3875 §4.1), as nginx or Apache would set them. */
function cgiVariables(request: InteropRequest): Record<string, string> {
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
    SERVER_SOFTWARE: 'interop-test',
    REMOTE_ADDR: '127.0.0.1',
    REMOTE_PORT: '40000',
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

/** Splits the CGI head (`Status:` line and headers) off stdout; the rest streams on. */
function cgiCall(
  app: string,
  request: InteropRequest,
  log: (text: string) => void,
): Promise<InteropResponse> {
  const child = spawn(process.execPath, [TSGI_BIN, 'cgi', app], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...cgiVariables(request) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (chunk: Buffer) => log(chunk.toString()));
  child.stdin.on('error', () => undefined);
  void (async () => {
    const body = request.body;
    if (body === undefined || body instanceof Uint8Array) {
      child.stdin.end(body);
      return;
    }
    for await (const chunk of body) {
      if (!child.stdin.write(chunk)) await new Promise((resolve) => child.stdin.once('drain', resolve));
    }
    child.stdin.end();
  })();
  const stdout = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return (async () => {
    let buffered = Buffer.alloc(0);
    let end = -1;
    while (end === -1) {
      const step = await stdout.next();
      if (step.done) throw new Error(`the CGI process ended without a head: ${buffered.toString('latin1')}`);
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
    // HEAD: the runner sends no body (RFC 3875 §4.3.3 leaves it to the server; tsgi drops it).
    return { status, headers, chunks: chunks(), disconnect: () => child.stdout.destroy() };
  })();
}

addInteropTests('the CGI runner', async (framework): Promise<Transport> => {
  let errors = '';
  return {
    request: (request) => cgiCall(examplePath(framework), request, (text) => (errors += text)),
    errors: () => errors,
    close: async () => undefined,
  };
});
