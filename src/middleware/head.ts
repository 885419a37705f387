// head(): HEAD responses without a body, whatever the application produces for them.
import type { Application, Body, Environ, StartResponse, Write } from '../shared/types.js';
import { wrapBody } from './_wrap-body.js';

/**
 * A body that yields nothing and stops the application's body as soon as its head is known: a generator that
 * calls startResponse on its first step still gets that step, nothing more is produced for a HEAD.
 */
export function discardBody(body: Body, headKnown: () => boolean): Body {
  return wrapBody(body, { chunk: () => undefined, stopWhen: headKnown });
}

/**
 * For `HEAD` requests, passes the application's status and headers on, Content-Length included, and drops the
 * body (RFC 9110 §9.3.2: the same head as GET, no content), as Rack's `Head` does; the body is closed without
 * being produced in full. Other methods pass through untouched. Apps that route HEAD like GET (Express, Hono)
 * can then answer HEAD cheaply on every front end.
 *
 * @example
 * compose(head)(app)
 */
export function head(app: Application): Application {
  return async function headOnly(environ: Environ, startResponse: StartResponse): Promise<Body> {
    if (environ.REQUEST_METHOD !== 'HEAD') return app(environ, startResponse);
    let started = false;
    const start: StartResponse = (status, headers, ...excInfo: unknown[]): Write => {
      startResponse(status, headers, ...excInfo);
      started = true;
      return async () => undefined;
    };
    const body = await app(environ, start);
    return discardBody(body, () => started);
  };
}
