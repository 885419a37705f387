// conditionalGet(): 304 Not Modified when the client's copy is fresh (ETag / If-None-Match, Last-Modified / IMS).
import { getVar } from '../shared/environ.js';
import type { Application, Body, Environ, Header, StartResponse, Write } from '../shared/types.js';
import { wrapBody } from './_wrap-body.js';
import { discardBody } from './head.js';

// RFC 9110 §8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE; a comma may sit inside the quotes.
const ENTITY_TAG = /(?:W\/)?"[^"]*"/g;
// RFC 9110 §15.4.5: a 304 carries no content, so the headers that describe the content go too (Rack does so).
const CONTENT_HEADERS = new Set([
  'content-length',
  'content-type',
  'content-encoding',
  'content-language',
  'content-range',
]);

function header(headers: readonly Header[], name: string): string | undefined {
  return headers.find(([key]) => key.toLowerCase() === name)?.[1];
}

// Weak comparison (RFC 9110 §8.8.3.2): If-None-Match ignores the W/ prefix.
function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** True when the client's copy matches what the response would send (RFC 9110 §13.1.2, §13.1.3, §13.2.2). */
export function isFresh(environ: Environ, headers: readonly Header[]): boolean {
  const ifNoneMatch = getVar(environ, 'HTTP_IF_NONE_MATCH');
  // If-None-Match, when present, decides alone: If-Modified-Since is then ignored (RFC 9110 §13.1.3).
  if (ifNoneMatch !== undefined) {
    const etag = header(headers, 'etag');
    if (etag === undefined) return false;
    if (ifNoneMatch.trim() === '*') return true;
    const wanted = opaqueTag(etag.trim());
    return (ifNoneMatch.match(ENTITY_TAG) ?? []).some((tag) => opaqueTag(tag) === wanted);
  }
  const ifModifiedSince = getVar(environ, 'HTTP_IF_MODIFIED_SINCE');
  const lastModified = header(headers, 'last-modified');
  if (ifModifiedSince === undefined || lastModified === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  const modified = Date.parse(lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

/**
 * Answers `304 Not Modified` to a GET or HEAD whose `If-None-Match` matches the response's `ETag` (weak
 * comparison), or, without If-None-Match, whose `If-Modified-Since` is not older than its `Last-Modified`, as
 * Rack's ConditionalGet does; only for what would have been a `200`. The 304 keeps ETag, Last-Modified,
 * Cache-Control, Vary and the other headers, drops the Content-* ones, and the application's body is closed
 * without being produced in full. A later startResponse with excInfo (an error) replaces the 304 as usual.
 *
 * @example
 * compose(conditionalGet)(app)
 */
export function conditionalGet(app: Application): Application {
  return async function conditional(environ: Environ, startResponse: StartResponse): Promise<Body> {
    const method = environ.REQUEST_METHOD;
    const conditionalRequest =
      getVar(environ, 'HTTP_IF_NONE_MATCH') !== undefined ||
      getVar(environ, 'HTTP_IF_MODIFIED_SINCE') !== undefined;
    if ((method !== 'GET' && method !== 'HEAD') || !conditionalRequest) return app(environ, startResponse);
    let notModified = false;
    const start: StartResponse = (status, headers, ...excInfo: unknown[]): Write => {
      notModified = String(status).startsWith('200') && Array.isArray(headers) && isFresh(environ, headers);
      if (!notModified) return startResponse(status, headers, ...excInfo);
      const kept = headers.filter(([name]) => !CONTENT_HEADERS.has(name.toLowerCase()));
      startResponse('304 Not Modified', kept, ...excInfo);
      return async () => undefined;
    };
    const body = await app(environ, start);
    return notModifiedOr(body, () => notModified);
  };
}

// The app's body, unless its head turned into a 304: then nothing more is produced (or, for a generator that
// calls startResponse lazily, nothing of what it produces is passed on).
function notModifiedOr(body: Body, notModified: () => boolean): Body {
  if (notModified()) return discardBody(body, () => true);
  return wrapBody(body, { chunk: (chunk) => (notModified() ? undefined : chunk) });
}
