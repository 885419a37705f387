// head: HEAD responses keep their head (Content-Length included) and lose their body.
import { describe, expect, it } from 'vitest';
import { fromFetchHandler } from '../../../src/adapters/fetch.js';
import { compose } from '../../../src/middleware/compose.js';
import { head } from '../../../src/middleware/head.js';
import type { Application } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('head', () => {
  it('drops the body of a HEAD response from a real fetch handler and keeps its Content-Length', async () => {
    const handler = fromFetchHandler(
      () =>
        new Response('hello world', { headers: { 'content-type': 'text/plain', 'content-length': '11' } }),
    );
    const response = await callApp(compose(head)(handler), createTestEnviron({ REQUEST_METHOD: 'HEAD' }));
    expect(response.statusCode).toBe(200);
    expect(response.header('content-length')).toBe('11');
    expect(response.body.byteLength).toBe(0);
    expect(response.outcome.ok).toBe(true);
  });

  it('stops a lazy body once the head is known, and closes it', async () => {
    let produced = 0;
    let closed = 0;
    const app: Application = (_environ, startResponse) => {
      const chunks = (async function* () {
        startResponse('200 OK', [['Content-Length', '30']]);
        for (let i = 0; i < 3; i++) {
          produced += 1;
          yield encode('0123456789');
        }
      })();
      return Object.assign(chunks, { close: () => void (closed += 1) });
    };
    const response = await callApp(head(app), createTestEnviron({ REQUEST_METHOD: 'HEAD' }));
    expect(response.header('content-length')).toBe('30');
    expect(response.body.byteLength).toBe(0);
    expect(produced).toBeLessThanOrEqual(1);
    expect(closed).toBe(1);
  });

  it('drops bytes written through write() and leaves GET untouched', async () => {
    const app: Application = (_environ, startResponse) => {
      const write = startResponse('200 OK', []);
      void write(encode('written'));
      return [encode('returned')];
    };
    expect((await callApp(head(app), createTestEnviron({ REQUEST_METHOD: 'HEAD' }))).body.byteLength).toBe(0);
    expect((await callApp(head(app))).text).toBe('writtenreturned');
  });
});
