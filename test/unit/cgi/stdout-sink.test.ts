// The CGI response sinks: back-pressure on a stream, blocking writes on a descriptor, and a vanished reader.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createFdSink, createStdoutSink } from '../../../src/cgi/stdout-sink.js';

const scratch = mkdtempSync(join(tmpdir(), 'tsgi-sink-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const bytes = (text: string): Uint8Array => Buffer.from(text, 'latin1');

/** A Writable that takes one chunk at a time and finishes each only when `release()` is called. */
function slowWritable() {
  const written: string[] = [];
  const pending: (() => void)[] = [];
  const stream = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk.toString('latin1'));
      pending.push(() => callback());
    },
  });
  return { stream, written, release: () => pending.shift()?.() };
}

describe('createStdoutSink', () => {
  it('does not resolve a write the stream cannot take until the stream drains', async () => {
    const { stream, written, release } = slowWritable();
    const sink = createStdoutSink(stream, () => undefined);
    let resolved = false;
    const write = Promise.resolve(sink.write(bytes('more than four bytes'))).then(() => (resolved = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(resolved).toBe(false);
    release();
    await write;
    expect(resolved).toBe(true);
    expect(written).toEqual(['more than four bytes']);
  });

  it('writes the head as the CGI Status block before the body', async () => {
    const { stream, written, release } = slowWritable();
    const sink = createStdoutSink(stream, () => undefined);
    const head = sink.sendHead('404 Not Found', [['Content-Type', 'text/plain']]);
    release();
    await head;
    expect(written[0]).toBe('Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n');
  });

  it('reports a stream error once and turns later writes into no-ops', async () => {
    const errors: Error[] = [];
    const stream = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const sink = createStdoutSink(stream, (error) => errors.push(error));
    await sink.write(bytes('a'));
    await sink.write(bytes('b'));
    await sink.end(true);
    expect(errors).toHaveLength(1);
    expect(sink.broken).toBe(true);
  });
});

describe('createFdSink', () => {
  it('writes head and body to the descriptor byte for byte', async () => {
    const file = join(scratch, 'out.bin');
    const fd = openSync(file, 'w');
    const sink = createFdSink(
      fd,
      () => undefined,
      () => {
        throw new Error('no fallback expected');
      },
    );
    await sink.sendHead('200 OK', [['Content-Type', 'application/octet-stream']]);
    await sink.write(Uint8Array.from([0, 0xff, 0x80, 13, 10]));
    await sink.end(true);
    closeSync(fd);
    expect(readFileSync(file)).toEqual(
      Buffer.concat([
        Buffer.from('Status: 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n'),
        Buffer.from([0, 0xff, 0x80, 13, 10]),
      ]),
    );
  });

  it('reports a failing descriptor once through onBroken instead of throwing', async () => {
    const errors: Error[] = [];
    // A descriptor number no process here has open: every write fails with EBADF.
    const fd = 987_654;
    const sink = createFdSink(
      fd,
      (error) => errors.push(error),
      () => new Writable(),
    );
    await sink.write(bytes('x'));
    await sink.write(bytes('y'));
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('EBADF');
    expect(sink.broken).toBe(true);
  });

  it('moves the rest of the response to the stream when the descriptor is non-blocking and full (EAGAIN)', async () => {
    // A FIFO opened O_NONBLOCK at both ends, nobody reading: the kernel takes one pipe buffer, then EAGAIN.
    const fifo = join(scratch, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    const viaStream: Buffer[] = [];
    const fallback = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        viaStream.push(chunk);
        callback();
      },
    });
    const body = Buffer.from(Array.from({ length: 1 << 20 }, (_, i) => i % 251));
    try {
      const sink = createFdSink(
        writer,
        () => undefined,
        () => fallback,
      );
      await sink.write(body);
      await sink.write(bytes('after'));
      await sink.end(true);
      const inPipe: Buffer[] = [];
      const buffer = Buffer.alloc(65536);
      for (;;) {
        let length = 0;
        try {
          length = readSync(reader, buffer, 0, buffer.length, null);
        } catch {
          break; // EAGAIN: the pipe is empty
        }
        if (length === 0) break;
        inPipe.push(Buffer.from(buffer.subarray(0, length)));
      }
      expect(inPipe.length).toBeGreaterThan(0);
      expect(viaStream.length).toBeGreaterThan(0);
      expect(Buffer.concat([...inPipe, ...viaStream]).equals(Buffer.concat([body, bytes('after')]))).toBe(
        true,
      );
    } finally {
      closeSync(writer);
      closeSync(reader);
    }
  });
});
