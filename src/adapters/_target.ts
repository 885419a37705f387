// The request target a framework routes on: the part of the URL below SCRIPT_NAME, as the client encoded it.
import { getVar } from '../shared/environ.js';
import { quotePath, unquoteToLatin1 } from '../shared/encoding.js';
import type { Environ } from '../shared/types.js';

/** Where a framework sees its request: the full original target, and the target below the mount point. */
export interface RequestTarget {
  /** `REQUEST_URI` as sent (rebuilt from SCRIPT_NAME + PATH_INFO + QUERY_STRING when the server left it out). */
  readonly original: string;
  /** The path and query below SCRIPT_NAME, always starting with "/": what `req.url` is on a mounted app. */
  readonly below: string;
}

/**
 * The target of the request. SCRIPT_NAME is where the application is mounted (PEP 3333, RFC 3875 §4.1.13), so
 * a framework routes on what is below it, as Express does for a mounted app (`req.url` below `req.baseUrl`) and
 * Hono's `app.mount()` does for a fetch handler: an Express app in `/cgi-bin/app.cgi` sees `/users/1`, not
 * `/cgi-bin/app.cgi/users/1`. The raw REQUEST_URI is kept where it maps onto SCRIPT_NAME, so a `%2F` or a `+`
 * reaches the framework exactly as the client sent it; otherwise (a rewrite, lighttpd's merged slashes)
 * PATH_INFO is re-encoded.
 */
export function requestTarget(environ: Environ): RequestTarget {
  const query = environ.QUERY_STRING ? `?${environ.QUERY_STRING}` : '';
  const rebuilt = quotePath(environ.PATH_INFO || '/') + query;
  const uri = getVar(environ, 'REQUEST_URI');
  const scriptName = environ.SCRIPT_NAME;
  if (uri === undefined || !uri.startsWith('/')) {
    return {
      original: quotePath(scriptName) + (quotePath(environ.PATH_INFO) || (scriptName ? '' : '/')) + query,
      below: rebuilt,
    };
  }
  if (scriptName === '') return { original: uri, below: uri };
  const question = uri.indexOf('?');
  const rawPath = question === -1 ? uri : uri.slice(0, question);
  const rawQuery = question === -1 ? '' : uri.slice(question);
  // Find the raw prefix that decodes to SCRIPT_NAME, at a segment boundary ("/app" must not cut "/apple").
  for (let end = rawPath.indexOf('/', 1); ; end = rawPath.indexOf('/', end + 1)) {
    const prefix = end === -1 ? rawPath : rawPath.slice(0, end);
    if (unquoteToLatin1(prefix) === scriptName) {
      return { original: uri, below: (end === -1 ? '/' : rawPath.slice(end)) + rawQuery };
    }
    if (end === -1) break;
  }
  return { original: uri, below: rebuilt };
}
