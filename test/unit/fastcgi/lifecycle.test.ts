// Cancellation and connection lifetime: ABORT_REQUEST, a vanished peer, back-pressure, graceful and hard stops.
import { describe, expect, it } from 'vitest';
import type { FastCgiConnection } from '../../../src/fastcgi/connection.js';
import type { Application, Input } from '../../../src/shared/types.js';
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
  type TestListener,
} from '../../helpers/fcgi-records.js';

const listen = listenerPerTest();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function onlyConnection(lst: TestListener): FastCgiConnection {
  const [connection] = [...lst.connections];
  if (connection === undefined) throw new Error('no connection');
  return connection;
}

/** An app that streams a chunk every few ms until cancelled, and records what happened to it. */
function endlessApp() {
  const seen = { aborted: false, returned: false, closed: false, chunks: 0 };
  const app: Application = (environ, start) => {
    start('200 OK', [['Content-Type', 'text/plain']]);
    environ['tsgi.signal'].addEventListener('abort', () => (seen.aborted = true));
    const body = (async function* () {
      try {
        while (true) {
          seen.chunks++;
          yield Buffer.from('tick ');
          await sleep(5);
        }
      } finally {
        seen.returned = true;
      }
    })();
    return Object.assign(body, { close: () => void (seen.closed = true) });
  };
  return { app, seen };
}

describe('cancellation', () => {
  it('FCGI_ABORT_REQUEST aborts tsgi.signal, closes the body, sends END_REQUEST, and nothing after it', async () => {
    const { app, seen } = endlessApp();
    const { port } = await listen(app);
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => bytes.includes('tick'));
    peer.socket.write(record(2, 1));
    const records = await peer.untilEnd(1);
    expect(records.at(-1)!.content.readUInt32BE(0)).toBe(1);
    await sleep(100);
    expect(seen).toMatchObject({ aborted: true, returned: true, closed: true });
    // Go's child keeps writing for the aborted id; here the last record for id 1 stays END_REQUEST.
    expect(parseRecords(peer.received()).at(-1)!.type).toBe(3);
  });

  it('never writes a record of an aborted request into a new request that reuses its id', async () => {
    let calls = 0;
    const { port } = await listen((environ, start) => {
      calls++;
      if (calls === 2) {
        start('200 OK', [['Content-Type', 'text/plain']]);
        return [Buffer.from('fresh')];
      }
      start('200 OK', [['Content-Type', 'text/plain']]);
      // Ignores tsgi.signal on purpose: it keeps producing after the abort.
      return (async function* () {
        for (let i = 0; i < 40; i++) {
          yield Buffer.from('stale ');
          await sleep(5);
        }
      })();
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => bytes.includes('stale'));
    peer.socket.write(record(2, 1));
    await peer.untilEnd(1);
    const before = parseRecords(peer.received()).length;
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => parseRecords(bytes).filter((r) => r.type === 3).length === 2);
    await sleep(250);
    const after = parseRecords(peer.received()).slice(before);
    expect(Buffer.concat(after.filter((r) => r.type === 6).map((r) => r.content)).toString()).toMatch(
      /^Status: 200 OK\r\n.*\r\n\r\nfresh$/s,
    );
    expect(after.map((r) => r.type)).toEqual([6, 6, 3]);
  });

  it('stops an app that never reads tsgi.signal: the driver watches the request itself', async () => {
    let returned = false;
    const lst = await listen((_environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        try {
          yield Buffer.from('first');
          await new Promise(() => undefined); // never settles: only the abort can end this body
        } finally {
          returned = true;
        }
      })();
    });
    const peer = await rawPeer(lst.port);
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => bytes.includes('first'));
    peer.socket.write(record(2, 1));
    expect((await peer.untilEnd(1)).at(-1)!.content.readUInt32BE(0)).toBe(1);
    // The driver gave up on the pending next() when told of the abort, so the request settled although the
    // generator (suspended in an await that never settles) could not run its finally.
    await sleep(30);
    expect(onlyConnection(lst).activeRequests).toBe(0);
    expect(returned).toBe(false);
  });

  it('creates tsgi.signal on first read, the same object after, already aborted when read after an abort', async () => {
    const seen: { same: boolean; aborted: boolean; reason: unknown }[] = [];
    const { port } = await listen(async (environ, start) => {
      await environ['tsgi.input'].read().catch(() => undefined); // fails when the request is aborted
      const signal = environ['tsgi.signal'];
      seen.push({ same: signal === environ['tsgi.signal'], aborted: signal.aborted, reason: signal.reason });
      start('200 OK', []);
      return [];
    });
    const peer = await rawPeer(port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '10' };
    peer.socket.write(
      Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(vars))), record(4, 1)]),
    );
    await sleep(30);
    peer.socket.write(record(2, 1));
    await peer.untilEnd(1);
    await sleep(30);
    expect(seen).toEqual([
      { same: true, aborted: true, reason: expect.objectContaining({ code: 'ERR_REQUEST_ABORTED' }) },
    ]);
  });

  it('aborts a request that is still waiting for its params without starting the app', async () => {
    let started = false;
    const { port } = await listen(() => {
      started = true;
      return [];
    });
    const peer = await rawPeer(port);
    peer.socket.write(Buffer.concat([beginRequest(1), record(2, 1)]));
    const records = await peer.untilEnd(1);
    expect(records.map((r) => r.type)).toEqual([3]);
    expect(started).toBe(false);
  });

  it('a closed connection aborts tsgi.signal and closes the body of every request on it', async () => {
    const { app, seen } = endlessApp();
    const lst = await listen(app);
    const peer = await rawPeer(lst.port);
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => bytes.includes('tick'));
    peer.socket.destroy();
    await sleep(100);
    expect(seen).toMatchObject({ aborted: true, returned: true, closed: true });
    expect(lst.connections.size).toBe(0);
    expect(lst.logs).toEqual([]);
  });

  it('fails tsgi.input with a RequestError when the connection closes mid-body', async () => {
    let failure: unknown;
    const { port } = await listen(async (environ, start) => {
      try {
        await environ['tsgi.input'].read();
      } catch (error) {
        failure = error;
      }
      start('200 OK', []);
      return [];
    });
    const peer = await rawPeer(port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '100' };
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        record(4, 1, pairs(...Object.entries(vars))),
        record(4, 1),
        record(5, 1, 'partial'),
      ]),
    );
    await sleep(50);
    peer.socket.destroy();
    await sleep(50);
    expect(failure).toMatchObject({ name: 'RequestError' });
  });
});

describe('flow control', () => {
  it('stops reading the socket while an unread body is over maxStdinBufferBytes, then delivers all of it', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const lst = await listen(
      async (environ, start) => {
        await released;
        let total = 0;
        let sum = 0;
        for await (const chunk of environ['tsgi.input']) {
          total += chunk.length;
          for (const byte of chunk) sum = (sum + byte) % 65521;
        }
        start('200 OK', [['Content-Type', 'text/plain']]);
        return [Buffer.from(`${total} ${sum}`)];
      },
      { limits: { maxStdinBufferBytes: 64 * 1024 } },
    );
    const body = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 255;
    let want = 0;
    for (const byte of body) want = (want + byte) % 65521;
    const peer = await rawPeer(lst.port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(body.length) };
    peer.socket.write(
      Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(vars))), record(4, 1)]),
    );
    for (let at = 0; at < body.length; at += 65528)
      peer.socket.write(record(5, 1, body.subarray(at, at + 65528)));
    peer.socket.write(record(5, 1));
    await sleep(300);
    // The listener read its 64 KiB window plus about one socket read; the rest waits in kernel buffers and in
    // the client's send queue (bytesRead counts what reached JavaScript, whatever the kernel's buffer sizes).
    const serverSide = (onlyConnection(lst) as unknown as { socket: { bytesRead: number } }).socket;
    expect(serverSide.bytesRead).toBeLessThan(512 * 1024);
    release();
    expect(stdoutOf(await peer.untilEnd(1, 20_000), 1).toString()).toMatch(
      new RegExp(`\\r\\n\\r\\n${body.length} ${want}$`),
    );
  });

  it('keeps serving the other requests when an app does not read its body and answers early', async () => {
    const { port } = await listen(
      (_environ, start) => {
        start('413 Content Too Large', [['Content-Type', 'text/plain']]);
        return [Buffer.from('too big')];
      },
      { limits: { maxStdinBufferBytes: 1024 } },
    );
    const peer = await rawPeer(port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '1000000' };
    peer.socket.write(
      Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(vars))), record(4, 1)]),
    );
    for (let i = 0; i < 16; i++) peer.socket.write(record(5, 1, Buffer.alloc(60000)));
    await peer.untilEnd(1);
    peer.socket.write(wholeRequest(2));
    expect(stdoutOf(await peer.untilEnd(2), 2).toString()).toMatch(/too big$/);
  });
});

describe('stopping', () => {
  it('closeWhenIdle lets the request in flight finish, then closes and reports idle', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const lst = await listen(async (_environ, start) => {
      await released;
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from('done')];
    });
    const peer = await rawPeer(lst.port);
    peer.socket.write(wholeRequest(1));
    await sleep(50);
    const connection = onlyConnection(lst);
    expect(connection.activeRequests).toBe(1);
    const idle = new Promise<void>((resolve) => connection.once('idle', resolve));
    connection.closeWhenIdle();
    await sleep(50);
    expect(connection.isClosed).toBe(false);
    release();
    await idle;
    await peer.closed;
    expect(stdoutOf(parseRecords(peer.received()), 1).toString()).toMatch(/done$/);
  });

  it('shutdown ends every active request with a non-zero appStatus and closes the connection', async () => {
    const { app, seen } = endlessApp();
    const lst = await listen(app);
    const peer = await rawPeer(lst.port);
    peer.socket.write(Buffer.concat([wholeRequest(1), wholeRequest(2)]));
    await peer.until((bytes) => bytes.includes('tick'));
    onlyConnection(lst).shutdown();
    await peer.closed;
    const ends = parseRecords(peer.received()).filter((r) => r.type === 3);
    expect(ends.map((r) => [r.id, r.content.readUInt32BE(0)]).sort()).toEqual([
      [1, 1],
      [2, 1],
    ]);
    await sleep(50);
    expect(seen.aborted).toBe(true);
  });

  it('shutdown ends every request even when none asked for FCGI_KEEP_CONN', async () => {
    const { app } = endlessApp();
    const lst = await listen(app);
    const peer = await rawPeer(lst.port);
    peer.socket.write(Buffer.concat([wholeRequest(1, GET_VARS, '', 0), wholeRequest(2, GET_VARS, '', 0)]));
    await peer.until((bytes) => parseRecords(bytes).some((r) => r.id === 2 && r.type === 6));
    onlyConnection(lst).shutdown();
    await peer.closed;
    const ends = parseRecords(peer.received()).filter((r) => r.type === 3);
    expect(ends.map((r) => r.id).sort()).toEqual([1, 2]);
  });

  it('closes a keep-conn connection left idle for idleTimeoutMs', async () => {
    const { port } = await listen((_e, start) => (start('204 No Content', []), []), {
      limits: { idleTimeoutMs: 150 },
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    await peer.untilEnd(1);
    const started = Date.now();
    await peer.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it('does not close a connection whose request is running past idleTimeoutMs', async () => {
    const { port } = await listen(
      async (_e, start) => {
        await sleep(400);
        start('200 OK', [['Content-Type', 'text/plain']]);
        return [Buffer.from('slow but fine')];
      },
      { limits: { idleTimeoutMs: 100 } },
    );
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/slow but fine$/);
  });

  it('aborts the requests of a peer that closes its side, as a closed connection (§5.4)', async () => {
    const { app, seen } = endlessApp();
    const lst = await listen(app);
    const peer = await rawPeer(lst.port);
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => bytes.includes('tick'));
    peer.socket.end();
    await peer.closed;
    await sleep(50);
    expect(seen).toMatchObject({ aborted: true, returned: true, closed: true });
    expect(lst.connections.size).toBe(0);
  });
});

describe('reading inputs', () => {
  it('gives tsgi.input exactly CONTENT_LENGTH bytes when STDIN carries more', async () => {
    const { port } = await listen(async (environ, start) => {
      const body = await (environ['tsgi.input'] as Input).read();
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [body];
    });
    const peer = await rawPeer(port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '4' };
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        record(4, 1, pairs(...Object.entries(vars))),
        record(4, 1),
        record(5, 1, 'bodyEXTRA'),
        record(5, 1),
      ]),
    );
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/\r\n\r\nbody$/);
  });
});
