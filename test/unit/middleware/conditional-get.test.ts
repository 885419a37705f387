// conditionalGet: 304 Not Modified from ETag / If-None-Match and Last-Modified / If-Modified-Since.
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { fromNodeHandler } from '../../../src/adapters/node.js';
import { conditionalGet } from '../../../src/middleware/conditional-get.js';
import type { Application, Header } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const LAST_MODIFIED = 'Wed, 21 Oct 2015 07:28:00 GMT';

function resource(extra: Header[] = [], status = '200 OK'): { app: Application; closed: () => number } {
  let closed = 0;
  const app: Application = (_environ, startResponse) => {
    startResponse(status, [
      ['Content-Type', 'text/plain'],
      ['Content-Length', '5'],
      ['ETag', 'W/"v1"'],
      ['Cache-Control', 'max-age=60'],
      ...extra,
    ]);
    return Object.assign([new TextEncoder().encode('hello')], { close: () => void (closed += 1) });
  };
  return { app, closed: () => closed };
}

describe('conditionalGet', () => {
  it('answers 304 when If-None-Match matches the ETag (weakly), without Content-* headers or body', async () => {
    const { app, closed } = resource();
    const response = await callApp(
      conditionalGet(app),
      createTestEnviron({ HTTP_IF_NONE_MATCH: '"v0", "v1"' }),
    );
    expect(response.status).toBe('304 Not Modified');
    expect(response.headers).toEqual([
      ['ETag', 'W/"v1"'],
      ['Cache-Control', 'max-age=60'],
    ]);
    expect(response.body.byteLength).toBe(0);
    expect(closed()).toBe(1);
  });

  it('reads entity tags with commas inside and the * wildcard', async () => {
    const { app } = resource([['X-Tag', 'x']]);
    const star = await callApp(conditionalGet(app), createTestEnviron({ HTTP_IF_NONE_MATCH: '*' }));
    expect(star.statusCode).toBe(304);
    const other = await callApp(
      conditionalGet(app),
      createTestEnviron({ HTTP_IF_NONE_MATCH: '"a,b", "v2"' }),
    );
    expect(other.statusCode).toBe(200);
    expect(other.text).toBe('hello');
  });

  it('uses If-Modified-Since only without If-None-Match', async () => {
    const { app } = resource([['Last-Modified', LAST_MODIFIED]]);
    const fresh = await callApp(
      conditionalGet(app),
      createTestEnviron({ HTTP_IF_MODIFIED_SINCE: LAST_MODIFIED }),
    );
    expect(fresh.statusCode).toBe(304);
    const older = await callApp(
      conditionalGet(app),
      createTestEnviron({ HTTP_IF_MODIFIED_SINCE: 'Tue, 20 Oct 2015 07:28:00 GMT' }),
    );
    expect(older.statusCode).toBe(200);
    const both = await callApp(
      conditionalGet(app),
      createTestEnviron({ HTTP_IF_MODIFIED_SINCE: LAST_MODIFIED, HTTP_IF_NONE_MATCH: '"other"' }),
    );
    expect(both.statusCode).toBe(200);
  });

  it('leaves non-200 responses and non-GET requests alone', async () => {
    const created = resource([], '201 Created');
    const notOk = await callApp(conditionalGet(created.app), createTestEnviron({ HTTP_IF_NONE_MATCH: '*' }));
    expect(notOk.statusCode).toBe(201);
    const { app } = resource();
    const post = await callApp(
      conditionalGet(app),
      createTestEnviron({ REQUEST_METHOD: 'POST', HTTP_IF_NONE_MATCH: '*' }),
    );
    expect(post.statusCode).toBe(200);
  });

  it('turns a real Koa response with ETag and Last-Modified into a 304', async () => {
    const koa = new Koa();
    koa.use((ctx) => {
      ctx.etag = 'article-7';
      ctx.lastModified = new Date(LAST_MODIFIED);
      ctx.body = 'the article';
    });
    const app = conditionalGet(fromNodeHandler(koa.callback()));
    const full = await callApp(app, createTestEnviron({ HTTP_IF_NONE_MATCH: '"article-6"' }));
    expect(full.statusCode).toBe(200);
    expect(full.text).toBe('the article');
    const cached = await callApp(app, createTestEnviron({ HTTP_IF_NONE_MATCH: '"article-7"' }));
    expect(cached.statusCode).toBe(304);
    expect(cached.body.byteLength).toBe(0);
    expect(cached.header('etag')).toBe('"article-7"');
    const bySince = await callApp(app, createTestEnviron({ HTTP_IF_MODIFIED_SINCE: LAST_MODIFIED }));
    expect(bySince.statusCode).toBe(304);
  });
});
