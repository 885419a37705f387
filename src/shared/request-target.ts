// What a framework sees of a request: the target below SCRIPT_NAME (as the client encoded it) and the headers.
import { getVar } from './environ.js';
import { quotePath, unquoteToLatin1 } from './encoding.js';
import type { Environ } from './types.js';

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

// Header names seen before, so a busy server converts each variable name once. Bounded: a client sending
// thousands of distinct header names must not grow it without end.
const HEADER_NAMES = new Map<string, string>();
const MAX_CACHED_NAMES = 512;

/** `HTTP_USER_AGENT` → `User-Agent`: the name a client most likely sent (the environ keeps no case or `-`). */
function headerName(variable: string): string {
  let name = HEADER_NAMES.get(variable);
  if (name !== undefined) return name;
  name = variable
    .slice(5)
    .toLowerCase()
    .split('_')
    .map((word) => (word === '' ? word : word[0]!.toUpperCase() + word.slice(1)))
    .join('-');
  if (HEADER_NAMES.size < MAX_CACHED_NAMES) HEADER_NAMES.set(variable, name);
  return name;
}

/**
 * The request headers as Node's parser would give them: `[name, value, …]` raw pairs from the `HTTP_*`
 * variables with `_` turned back into `-` (RFC 3875 §4.1.18 made them `_`), plus CONTENT_TYPE and
 * CONTENT_LENGTH, which CGI keeps out of `HTTP_*` (§4.1.3, §4.1.2).
 */
export function rawHeadersOf(environ: Environ): string[] {
  const raw: string[] = [];
  for (const key in environ) {
    if (!key.startsWith('HTTP_')) continue;
    const value = environ[key];
    if (typeof value === 'string') raw.push(headerName(key), value);
  }
  if (environ.CONTENT_TYPE) raw.push('Content-Type', environ.CONTENT_TYPE);
  if (environ.CONTENT_LENGTH) raw.push('Content-Length', environ.CONTENT_LENGTH);
  return raw;
}
