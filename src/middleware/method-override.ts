// methodOverride(): lets a POST stand for PUT, PATCH or DELETE (HTML forms can only send GET and POST).
import { getVar } from '../shared/environ.js';
import type { Application, Environ, Middleware } from '../shared/types.js';

/** Options of {@link methodOverride}. */
export interface MethodOverrideOptions {
  /** The request header that names the method (default `X-HTTP-Method-Override`); `false` to ignore headers. */
  header?: string | false;
  /** The query parameter that names the method (default `_method`); `false` to ignore the query. */
  param?: string | false;
  /** The methods a POST may become (default PUT, PATCH, DELETE). */
  methods?: readonly string[];
}

/** The environ key that keeps the method the client really sent (Rack's `rack.methodoverride.original_method`). */
export const ORIGINAL_METHOD_KEY = 'tsgi.method_override.original_method';

function headerVariable(name: string): string {
  return 'HTTP_' + name.toUpperCase().replaceAll('-', '_');
}

function queryParam(query: string, name: string): string | undefined {
  for (const pair of query.split('&')) {
    const equals = pair.indexOf('=');
    const key = equals === -1 ? pair : pair.slice(0, equals);
    if (key === name)
      return equals === -1 ? '' : decodeURIComponent(pair.slice(equals + 1).replaceAll('+', ' '));
  }
  return undefined;
}

/**
 * Turns `POST` into the method named by the `X-HTTP-Method-Override` header or the `_method` query parameter,
 * as Rack's MethodOverride and Plack's MethodOverride do, but only into one of `methods` (never GET, so a
 * cross-site form cannot turn a POST into a "safe" request). The original method stays in the environ under
 * {@link ORIGINAL_METHOD_KEY}. A form field is not read: that would consume `tsgi.input` before the
 * application, so send the query parameter from forms (`action="/items/1?_method=DELETE"`).
 */
export function methodOverride(options: MethodOverrideOptions = {}): Middleware {
  const header =
    options.header === false ? undefined : headerVariable(options.header ?? 'X-HTTP-Method-Override');
  const param = options.param === false ? undefined : (options.param ?? '_method');
  const allowed = new Set(
    (options.methods ?? ['PUT', 'PATCH', 'DELETE']).map((method) => method.toUpperCase()),
  );
  return (app: Application): Application =>
    function overridden(environ, startResponse) {
      if (environ.REQUEST_METHOD !== 'POST') return app(environ, startResponse);
      let wanted = header === undefined ? undefined : getVar(environ, header);
      if (wanted === undefined && param !== undefined) {
        try {
          wanted = queryParam(environ.QUERY_STRING, param);
        } catch {
          wanted = undefined; // a malformed %-escape: no override
        }
      }
      const method = wanted?.trim().toUpperCase();
      if (method === undefined || !allowed.has(method)) return app(environ, startResponse);
      const inner: Environ = { ...environ, REQUEST_METHOD: method, [ORIGINAL_METHOD_KEY]: 'POST' };
      return app(inner, startResponse);
    };
}
