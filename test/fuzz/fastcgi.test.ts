// Fuzzing the FastCGI connection over real TCP: random and mutated record streams for a bounded time; the process
// must survive, answer only well-formed records, keep serving, and keep its memory bounded.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../src/fastcgi/client.js';
import type { Application } from '../../src/shared/types.js';
import {
  GET_VARS,
  beginRequest,
  pairs,
  parseRecords,
  rawPeer,
  record,
  startListener,
  type TestListener,
} from '../helpers/fcgi-records.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// Reads the body, sometimes streams the answer slowly (so aborts and closes land mid-response), sometimes fails.
const app: Application = async (environ, start) => {
  const body = await environ['tsgi.input'].read().catch(() => new Uint8Array(0));
  const query = environ.QUERY_STRING;
  if (query === 'throw') throw new Error('fuzz app failure');
  start('200 OK', [['Content-Type', 'text/plain']]);
  if (query !== 'stream') return [Buffer.from(`got ${body.length}`)];
  return (async function* () {
    for (let i = 0; i < 5 && !environ['tsgi.signal'].aborted; i++) {
      yield Buffer.from('slow ');
      await sleep(2);
    }
  })();
};

const id = fc.integer({ min: 0, max: 3 });
const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const latin1 = fc.string({ maxLength: 40 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));

// A plausible request: BEGIN_REQUEST, params split at a random point, a body, maybe an abort.
const request = fc
  .record({
    id: fc.integer({ min: 1, max: 3 }),
    role: fc.constantFrom(1, 1, 1, 2, 3, 7),
    flags: fc.constantFrom(0, 1),
    extra: fc.array(fc.tuple(latin1, latin1), { maxLength: 5 }),
    query: fc.constantFrom('', 'stream', 'throw'),
    split: fc.nat(),
    body: bytes(200),
    abort: fc.boolean(),
  })
  .map(({ id: rid, role, flags, extra, query, split, body, abort }) => {
    const params = pairs(...Object.entries({ ...GET_VARS, QUERY_STRING: query }), ...extra);
    const cut = split % (params.length + 1);
    const parts = [
      beginRequest(rid, role, flags),
      record(4, rid, params.subarray(0, cut)),
      record(4, rid, params.subarray(cut)),
      record(4, rid),
    ];
    if (body.length > 0) parts.push(record(5, rid, body));
    parts.push(record(5, rid));
    if (abort) parts.push(record(2, rid));
    return Buffer.concat(parts);
  });

// Any record at all: unknown types, management types, app-to-server types, odd padding.
const anyRecord = fc
  .record({
    type: fc.integer({ min: 0, max: 255 }),
    id,
    content: bytes(64),
    padding: fc.integer({ min: 0, max: 12 }),
  })
  .map(({ type, id: rid, content, padding }) => record(type, rid, content, padding));

const getValues = fc
  .array(fc.constantFrom('FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS', 'X'), { maxLength: 4 })
  .map((names) => record(9, 0, pairs(...names.map((n) => [n, ''] as [string, string]))));

const piece = fc.oneof(
  { weight: 4, arbitrary: request },
  { weight: 3, arbitrary: anyRecord },
  { weight: 1, arbitrary: getValues },
  { weight: 1, arbitrary: bytes(16).map((b) => Buffer.from(b)) },
);

// A stream of pieces, then mutated: flipped bytes, a cut tail; delivered in random chunks.
const session = fc.record({
  pieces: fc.array(piece, { minLength: 1, maxLength: 8 }),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  chunk: fc.integer({ min: 1, max: 200 }),
  ending: fc.constantFrom('end', 'destroy', 'wait'),
});

// Record types an application may send (§8): anything else from the listener is a bug.
const APP_TYPES = new Set([3, 6, 7, 10, 11]);

describe('fuzzing the FastCGI connection', () => {
  let listener: TestListener;
  beforeAll(async () => {
    listener = await startListener(app, { limits: { paramsTimeoutMs: 200, idleTimeoutMs: 500 } });
  });
  afterAll(async () => {
    await listener.close();
  });

  it('survives random and mutated record streams, answers well-formed records, keeps serving, bounded memory', async () => {
    const rssBefore = process.memoryUsage().rss;
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(session, async ({ pieces, flips, cut, chunk, ending }) => {
        runs++;
        const stream = Buffer.concat(pieces);
        for (const [at, value] of flips) if (stream.length > 0) stream[at % stream.length] = value;
        const sent = cut === undefined ? stream : stream.subarray(0, cut % (stream.length + 1));
        const peer = await rawPeer(listener.port);
        for (let at = 0; at < sent.length && !peer.socket.destroyed; at += chunk) {
          peer.socket.write(sent.subarray(at, at + chunk));
          if (at % 3 === 0) await sleep(0);
        }
        if (ending === 'end') peer.socket.end();
        await Promise.race([peer.closed, sleep(ending === 'wait' ? 30 : 10)]);
        peer.socket.destroy();
        // Every complete record the listener wrote is version 1 and of a type an application may send.
        const received = peer.received();
        let at = 0;
        while (at + 8 <= received.length) {
          expect(received[at]).toBe(1);
          expect(APP_TYPES.has(received[at + 1]!)).toBe(true);
          expect(received.readUInt16BE(at + 4)).toBeLessThanOrEqual(65535);
          at += 8 + received.readUInt16BE(at + 4) + received[at + 6]!;
        }
      }),
      { interruptAfterTimeLimit: 10_000, markInterruptAsFailure: false, numRuns: 100_000 },
    );
    expect(runs).toBeGreaterThan(50);
    // The listener still answers a well-formed request, and the connections all went away.
    const client = await connectFastCgi(`127.0.0.1:${listener.port}`);
    const response = await client.request({ params: GET_VARS, stdin: 'abc' }).response();
    expect(response.body.toString()).toBe('got 3');
    await client.close();
    await sleep(600);
    expect(listener.connections.size).toBe(0);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024);
  }, 60_000);

  it('answers every request of a clean multiplexed stream exactly once, with no record after its END_REQUEST', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(request, { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 64 }),
        async (requests, chunk) => {
          runs++;
          // Distinct ids only: an id reused after END_REQUEST would legitimately start again.
          const seen = new Set<number>();
          const unique = requests.filter((r) => {
            const rid = r.readUInt16BE(2);
            return seen.has(rid) ? false : (seen.add(rid), true);
          });
          const stream = Buffer.concat(unique);
          const peer = await rawPeer(listener.port);
          for (let at = 0; at < stream.length; at += chunk)
            peer.socket.write(stream.subarray(at, at + chunk));
          const ids = [...seen];
          await peer
            .until((b) => {
              try {
                const ends = parseRecords(b).filter((r) => r.type === 3);
                return ids.every((rid) => ends.some((r) => r.id === rid));
              } catch {
                return false;
              }
            }, 5000)
            .catch(() => undefined); // a request without FCGI_KEEP_CONN closes the connection first
          await sleep(30);
          peer.socket.destroy();
          const records = parseRecords(peer.received());
          for (const rid of ids) {
            const mine = records.filter((r) => r.id === rid);
            const ends = mine.filter((r) => r.type === 3);
            expect(ends.length, `END_REQUEST count for ${rid}`).toBeLessThanOrEqual(1);
            if (ends.length === 1) expect(mine.at(-1)!.type, `last record of ${rid}`).toBe(3);
          }
        },
      ),
      { interruptAfterTimeLimit: 5_000, markInterruptAsFailure: false, numRuns: 10_000 },
    );
    expect(runs).toBeGreaterThan(20);
  }, 60_000);
});
