// Hostile and broken peers: each case hurts only its own connection (one log line), and the listener keeps serving.
import { describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../../src/fastcgi/client.js';
import { HOSTILE_INPUTS } from '../../../src/fastcgi/conform/index.js';
import type { Application } from '../../../src/shared/types.js';
import {
  GET_VARS,
  beginRequest,
  pairs,
  parseRecords,
  rawPeer,
  record,
  listenerPerTest,
  stdoutOf,
  wholeRequest,
} from '../../helpers/fcgi-records.js';

const hello: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('still here')];
};

const listen = listenerPerTest(hello);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh connection is answered normally: the bad peer did not take the listener down. */
async function expectStillServing(port: number): Promise<void> {
  const client = await connectFastCgi(`127.0.0.1:${port}`);
  const response = await client.request({ params: GET_VARS }).response();
  expect(response.body.toString()).toBe('still here');
  await client.close();
}

// The hostile inputs are the conformance kit's (tsgi conform runs the same bytes against any responder); here
// each one also gets tsgi's own promise: the connection closed with exactly this one log line.
const CLOSING_LOG_LINES: Record<string, RegExp> = {
  'hostile.bad-version': /version 2/,
  'hostile.http-request': /version 71/,
  'hostile.garbage': /version 156/,
  'hostile.duplicate-begin': /request 1, which is active/,
  'hostile.begin-on-null-id': /null request id/,
  'hostile.short-begin-body': /4 bytes, not 8/,
  'hostile.malformed-get-values': /malformed name-value/,
  'hostile.pair-past-end': /malformed/,
  'hostile.huge-params': /over the 262144-byte limit \(maxParamsBytes\)/,
};

describe('bytes that close the connection, with one log line', () => {
  it('every hostile input of the conformance kit is listed here or below', () => {
    const elsewhere = ['hostile.cut-mid-record', 'hostile.unknown-type-on-request'];
    expect(HOSTILE_INPUTS.map((input) => input.id).sort()).toEqual(
      [...Object.keys(CLOSING_LOG_LINES), ...elsewhere].sort(),
    );
  });

  it.each(
    HOSTILE_INPUTS.filter((input) => input.id in CLOSING_LOG_LINES).map(
      (input) => [input.title, input] as const,
    ),
  )('%s', async (_name, input) => {
    const lst = await listen();
    const peer = await rawPeer(lst.port);
    peer.socket.write(input.bytes());
    await peer.closed;
    expect(lst.logs).toHaveLength(1);
    expect(lst.logs[0]).toMatch(CLOSING_LOG_LINES[input.id]!);
    expect(lst.logs[0]).toMatch(/closing the connection from 127\.0\.0\.1/);
    await expectStillServing(lst.port);
  });

  it('a params stream over maxParamsBytes', async () => {
    const lst = await listen(hello, { limits: { maxParamsBytes: 1024 } });
    const peer = await rawPeer(lst.port);
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        record(4, 1, pairs(['HTTP_X', 'v'.repeat(700)])),
        record(4, 1, pairs(['HTTP_Y', 'v'.repeat(700)])),
      ]),
    );
    await peer.closed;
    expect(lst.logs).toEqual([expect.stringMatching(/over the 1024-byte limit \(maxParamsBytes\)/)]);
    await expectStillServing(lst.port);
  });

  it('a slow-loris that trickles its params past paramsTimeoutMs', async () => {
    const lst = await listen(hello, { limits: { paramsTimeoutMs: 300 } });
    const peer = await rawPeer(lst.port);
    const bytes = Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(GET_VARS)))]);
    const started = Date.now();
    void (async () => {
      for (const byte of bytes) {
        if (peer.socket.destroyed) return;
        peer.socket.write(Uint8Array.of(byte));
        await sleep(20);
      }
    })();
    await peer.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(lst.logs).toEqual([expect.stringMatching(/not complete after 300 ms \(paramsTimeoutMs\)/)]);
    await expectStillServing(lst.port);
  });
});

describe('deadlines bytes cannot reset (issue 10)', () => {
  it('closes a connection that dribbles bytes before FCGI_BEGIN_REQUEST at the params deadline from the accept', async () => {
    const lst = await listen(hello, { limits: { paramsTimeoutMs: 300 } });
    const peer = await rawPeer(lst.port);
    const started = Date.now();
    // One byte of a BEGIN_REQUEST header every 50 ms: before, each byte reset the idle timer and the
    // params deadline never started (300 of 300 such connections were still open after 75 s).
    void (async () => {
      for (const byte of beginRequest(1).subarray(0, 7)) {
        if (peer.socket.destroyed) return;
        peer.socket.write(Uint8Array.of(byte));
        await sleep(50);
      }
    })();
    await peer.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(lst.logs).toEqual([expect.stringMatching(/no complete request: .* not complete after 300 ms/)]);
    await expectStillServing(lst.port);
  });

  it('closes a kept-alive connection idle past idleTimeoutMs even when stray bytes arrive', async () => {
    const lst = await listen(hello, { limits: { idleTimeoutMs: 300 } });
    const peer = await rawPeer(lst.port);
    peer.socket.write(wholeRequest(1, GET_VARS, '', 1));
    await peer.untilEnd(1);
    const idleFrom = Date.now();
    const timer = setInterval(() => peer.socket.destroyed || peer.socket.write(Uint8Array.of(1)), 50);
    await peer.closed;
    clearInterval(timer);
    expect(Date.now() - idleFrom).toBeLessThan(1500);
  });
});

describe('bytes that are answered or ignored, the connection kept', () => {
  it.each([
    ['on the null id', 0],
    ['on a request id', 1],
  ])(
    'a record of type 99 %s (the 8 bytes that crash node-fastcgi) gets FCGI_UNKNOWN_TYPE',
    async (_name, id) => {
      const lst = await listen();
      const peer = await rawPeer(lst.port);
      peer.socket.write(record(99, id));
      await peer.until((bytes) => bytes.length >= 16);
      peer.socket.write(wholeRequest(1));
      const records = await peer.untilEnd(1);
      expect(records[0]).toMatchObject({ type: 11, id: 0 });
      expect(records[0]!.content[0]).toBe(99);
      expect(stdoutOf(records, 1).toString()).toMatch(/still here$/);
      expect(lst.logs).toEqual([]);
    },
  );

  it('records for request ids that are not active are ignored (§3.3)', async () => {
    const lst = await listen();
    const peer = await rawPeer(lst.port);
    peer.socket.write(
      Buffer.concat([
        record(5, 5, 'stray body'),
        record(4, 6, pairs(['A', 'b'])),
        record(2, 7),
        record(8, 8, 'data'),
        record(5, 5),
      ]),
    );
    peer.socket.write(wholeRequest(1));
    const records = await peer.untilEnd(1);
    expect(records.every((r) => r.id === 1)).toBe(true);
    expect(stdoutOf(records, 1).toString()).toMatch(/still here$/);
    expect(lst.logs).toEqual([]);
  });

  it('a connection closed in mid-record is dropped quietly and aborts its request', async () => {
    let aborted = false;
    const lst = await listen(async (environ, start) => {
      environ['tsgi.signal'].addEventListener('abort', () => (aborted = true));
      if (environ.REQUEST_METHOD === 'POST') await environ['tsgi.input'].read();
      return hello(environ, start);
    });
    const peer = await rawPeer(lst.port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '100' };
    const partial = record(5, 1, 'x'.repeat(100)).subarray(0, 50);
    peer.socket.write(
      Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(vars))), record(4, 1), partial]),
    );
    await sleep(50);
    peer.socket.destroy();
    await sleep(50);
    expect(aborted).toBe(true);
    expect(lst.logs).toEqual([]);
    await expectStillServing(lst.port);
  });
});

describe('a peer that never reads its response', () => {
  it('stops pulling from the application once the socket buffer is full (bounded memory)', async () => {
    let produced = 0;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const lst = await listen((environ, start) => {
      if (environ.PATH_INFO !== '/endless') return hello(environ, start);
      start('200 OK', [['Content-Type', 'application/octet-stream']]);
      return (function* () {
        while (true) {
          produced += chunk.length;
          yield chunk;
        }
      })();
    });
    const peer = await rawPeer(lst.port);
    peer.socket.pause();
    peer.socket.write(wholeRequest(1, { ...GET_VARS, PATH_INFO: '/endless' }));
    await sleep(1000);
    const afterOneSecond = produced;
    await sleep(500);
    // Unbounded, a generator this fast produces gigabytes per second; here it waits on the kernel buffers.
    expect(afterOneSecond).toBeLessThan(64 * 1024 * 1024);
    expect(produced - afterOneSecond).toBeLessThanOrEqual(chunk.length * 2);
    await expectStillServing(lst.port);
    peer.socket.destroy();
  });

  it('answers a flood of unknown-type records only as fast as the peer reads them', async () => {
    const lst = await listen();
    const peer = await rawPeer(lst.port);
    peer.socket.pause();
    const flood = Buffer.concat(Array.from({ length: 4096 }, () => record(99, 0)));
    for (let i = 0; i < 256 && !peer.socket.destroyed; i++) {
      if (!peer.socket.write(flood)) await sleep(1);
    }
    await sleep(300);
    const connection = [...lst.connections][0]!;
    // 1M records sent; the replies waiting in the listener stay near the socket's high-water mark.
    expect(
      (connection as unknown as { socket: { writableLength: number } }).socket.writableLength,
    ).toBeLessThan(1024 * 1024);
    peer.socket.resume();
    await expectStillServing(lst.port);
    peer.socket.destroy();
  });
});

describe('responses after bad input', () => {
  it('never writes a truncated record, whatever the app does', async () => {
    const lst = await listen((_e, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.alloc(70_000, 'a'), Buffer.alloc(3, 'b')];
    });
    const peer = await rawPeer(lst.port);
    peer.socket.write(wholeRequest(1, GET_VARS, '', 0));
    await peer.closed;
    expect(() => parseRecords(peer.received())).not.toThrow();
    expect(stdoutOf(parseRecords(peer.received()), 1).length).toBeGreaterThan(70_003);
  });
});
