// The four framework apps under the CGI runner: `node bin/tsgi.js cgi examples/<framework>.ts`, spawned per
// request with the variables a web server sets (mounted at /cgi-bin/app), the body on stdin.
import { spawn } from 'node:child_process';
// bin/tsgi.js loads dist/: build first (`node scripts/build.mjs --js-only`; `npm test` does).
import { readCgiHead, TSGI_BIN } from '../helpers/spawn-cgi.js';
import {
  addInteropTests,
  examplePath,
  requestVariables,
  type InteropRequest,
  type InteropResponse,
  type Transport,
} from './suite.js';

const SCRIPT_NAME = '/cgi-bin/app';

/** Splits the CGI head (`Status:` line and headers) off stdout; the rest streams on. */
function cgiCall(
  app: string,
  request: InteropRequest,
  log: (text: string) => void,
): Promise<InteropResponse> {
  const child = spawn(process.execPath, [TSGI_BIN, 'cgi', app], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...requestVariables(request, SCRIPT_NAME) },
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
  // HEAD: the runner sends no body (RFC 3875 §4.3.3 leaves it to the server; tsgi drops it).
  return readCgiHead(stdout, 'the CGI process').then((head) => ({
    ...head,
    disconnect: () => child.stdout.destroy(),
  }));
}

addInteropTests('the CGI runner', async (framework): Promise<Transport> => {
  let errors = '';
  return {
    request: (request) => cgiCall(examplePath(framework), request, (text) => (errors += text)),
    errors: () => errors,
    close: async () => undefined,
  };
});
