// Property test for src/shared/respond.ts: whatever an application does, the sink sees a well-formed response.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { runApplication } from '../../../src/shared/respond.js';
import type { Application, Header, ResponseSink } from '../../../src/shared/types.js';
import { createTestEnviron } from '../../../src/testing/index.js';

// One step of a generated body: a chunk of n bytes, a misuse, an error, or a second startResponse.
const step = fc.oneof(
  fc.integer({ min: 0, max: 5 }),
  fc.constantFrom('string' as const, 'throw' as const, 'restart' as const, 'restartWithExcInfo' as const),
);

const script = fc.record({
  startEarly: fc.boolean(),
  status: fc.constantFrom('200 OK', '404', '204 No Content', '200 OK\r\nX: 1', '100 Continue'),
  contentLength: fc.option(fc.integer({ min: 0, max: 8 }), { nil: undefined }),
  badHeader: fc.boolean(),
  steps: fc.array(step, { maxLength: 6 }),
  asyncBody: fc.boolean(),
  closeThrows: fc.option(fc.boolean(), { nil: undefined }),
  abortAfter: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
  method: fc.constantFrom('GET', 'HEAD'),
  slowSink: fc.boolean(),
});

type Script = typeof script extends fc.Arbitrary<infer T> ? T : never;

function appFor(
  s: Script,
  controller: AbortController,
  closes: { count: number; returned: boolean },
): Application {
  const headers: Header[] = [['Content-Type', 'text/plain']];
  if (s.contentLength !== undefined) headers.push(['Content-Length', String(s.contentLength)]);
  if (s.badHeader) headers.push(['X-Bad', 'a\nb']);
  return (_environ, start) => {
    if (s.startEarly) start(s.status, headers);
    function* chunks(): Generator<unknown> {
      if (!s.startEarly) start(s.status, headers);
      for (const [index, item] of s.steps.entries()) {
        if (s.abortAfter === index) controller.abort();
        if (typeof item === 'number') yield new Uint8Array(item).fill(65);
        else if (item === 'string') yield 'text';
        else if (item === 'throw') throw new Error('app failed');
        else if (item === 'restart') start('500 Again', []);
        else start('500 Again', [], new Error('handled'));
      }
    }
    const iterable = s.asyncBody
      ? (async function* () {
          yield* chunks();
        })()
      : chunks();
    const body = iterable as unknown as Iterable<Uint8Array>;
    if (s.closeThrows === undefined) return body;
    closes.returned = true;
    return Object.assign(body, {
      close() {
        closes.count++;
        if (s.closeThrows) throw new Error('close failed');
      },
    });
  };
}

describe('runApplication invariants', () => {
  test('one head at most, before any body byte; end exactly once, last; bytes add up; close exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(script, async (s) => {
        const controller = new AbortController();
        const closes = { count: 0, returned: false };
        const events: string[] = [];
        let written = 0;
        let headStatus: string | undefined;
        const later = (): Promise<void> | undefined =>
          s.slowSink ? new Promise((resolve) => setImmediate(resolve)) : undefined;
        const sink: ResponseSink = {
          sendHead(status, headers) {
            events.push('head');
            headStatus = status;
            expect(JSON.stringify(headers)).not.toMatch(/\\n|\\r/);
            return later();
          },
          write(chunk) {
            events.push('write');
            written += chunk.byteLength;
            return later();
          },
          end() {
            events.push('end');
            return later();
          },
        };
        const environ = createTestEnviron({ REQUEST_METHOD: s.method, 'tsgi.signal': controller.signal });
        const outcome = await runApplication(appFor(s, controller, closes), environ, sink);

        expect(events.filter((event) => event === 'head').length).toBeLessThanOrEqual(1);
        expect(events.filter((event) => event === 'end')).toEqual(['end']);
        expect(events.at(-1)).toBe('end');
        const firstWrite = events.indexOf('write');
        if (firstWrite !== -1) expect(events.indexOf('head')).toBeLessThan(firstWrite);
        expect(outcome.bytes).toBe(written);
        expect(outcome.headersSent).toBe(events.includes('head'));
        expect(headStatus === undefined || /^[1-9][0-9]{2} [^\r\n]*$/.test(headStatus)).toBe(true);
        // close() belongs to a returned body (an app that throws before returning has none).
        await new Promise((resolve) => setImmediate(resolve));
        expect(closes.count).toBe(closes.returned ? 1 : 0);
        // A response reported complete and sent with the app's Content-Length carries exactly that many bytes.
        if (outcome.ok && headStatus === '200 OK' && s.contentLength !== undefined && s.method === 'GET') {
          expect(written).toBe(s.contentLength);
        }
      }),
      { numRuns: 400 },
    );
  });
});
