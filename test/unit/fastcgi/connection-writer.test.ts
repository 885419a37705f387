// How a connection's responses reach the socket (issue 13): few writes per chunk, back-pressure kept.
import { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { FastCgiConnection } from '../../../src/fastcgi/connection.js';
import type { Application } from '../../../src/shared/types.js';
import { parseRecords, wholeRequest } from '../../helpers/fcgi-records.js';

const hello: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('hi')];
};

/** A socket stand-in that records each write call (a writev is one call) and never drains when `stuck`. */
function fakeSocket(stuck = false) {
  const calls: Buffer[][] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, callback) {
      calls.push([chunk]);
      if (!stuck) callback();
    },
    writev(chunks, callback) {
      calls.push(chunks.map(({ chunk }) => chunk as Buffer));
      if (!stuck) callback();
    },
  });
  return { socket, calls };
}

const open: FastCgiConnection[] = [];
afterEach(() => {
  for (const connection of open.splice(0)) connection.shutdown();
});

function serve(socket: Duplex, app: Application): FastCgiConnection {
  const connection = new FastCgiConnection(socket, app, { log: () => undefined });
  open.push(connection);
  return connection;
}

describe('the socket writes of a connection', () => {
  it('sends a synchronous response (STDOUT, its end, END_REQUEST) in one write', async () => {
    const { socket, calls } = fakeSocket();
    serve(socket, hello);
    socket.push(wholeRequest(1));
    await turn();
    expect(calls).toHaveLength(1);
    expect(parseRecords(Buffer.concat(calls[0]!)).map((r) => r.type)).toEqual([6, 6, 3]);
  });

  it('sends the responses to the requests of one chunk together, in one writev', async () => {
    const { socket, calls } = fakeSocket();
    serve(socket, hello);
    socket.push(Buffer.concat([wholeRequest(1), wholeRequest(2)]));
    await turn();
    expect(calls).toHaveLength(1);
    const ends = parseRecords(Buffer.concat(calls[0]!)).filter((r) => r.type === 3);
    expect(ends.map((r) => r.id)).toEqual([1, 2]);
  });

  it('keeps back-pressure for a synchronous endless body when the peer does not read', async () => {
    const { socket } = fakeSocket(true);
    let produced = 0;
    const chunk = Buffer.alloc(16 * 1024);
    const endless: Application = (_environ, start) => {
      start('200 OK', []);
      return (function* () {
        while (true) {
          produced += chunk.length;
          yield chunk;
        }
      })();
    };
    serve(socket, endless);
    socket.push(wholeRequest(1));
    await turn();
    await turn();
    // Bounded by the socket's high-water mark and one batch, not by memory.
    expect(produced).toBeLessThan(1024 * 1024);
    expect(socket.writableNeedDrain).toBe(true);
  });
});
