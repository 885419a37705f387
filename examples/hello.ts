// The smallest tsgi application: what `scripts/start.sh` serves (`tsgi serve examples/hello.ts`).
import type { Application } from 'tsgi';

const encoder = new TextEncoder();

/**
 * Says hello, with the path it was asked for, and reads nothing else from the request. Runs unchanged under
 * `tsgi serve`, `tsgi cgi` and `tsgi fastcgi`.
 */
const app: Application = (environ, startResponse) => {
  const body = encoder.encode(
    `Hello from tsgi! You asked for ${environ.SCRIPT_NAME}${environ.PATH_INFO || '/'}\n`,
  );
  startResponse('200 OK', [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.byteLength)],
  ]);
  return [body];
};

export default app;
