// The CGI body reader: exactly CONTENT_LENGTH bytes from fd 0, pulled on demand, never one byte more, and the
// spool that drains the rest before the response starts.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCgiBody, readBody } from '../../../src/cgi/stdin-source.js';

const scratch = mkdtempSync(join(tmpdir(), 'tsgi-stdin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function openWith(content: Buffer): number {
  const file = join(scratch, `body-${content.length}-${Math.random()}`);
  writeFileSync(file, content);
  return openSync(file, 'r');
}

function restOf(fd: number): string {
  const rest = Buffer.alloc(64);
  return rest.toString('latin1', 0, readSync(fd, rest, 0, 64, null));
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** 0..250 repeating: any reordering or loss shows up as a byte mismatch. */
function pattern(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
}

describe('readBody', () => {
  it('yields exactly `limit` bytes and leaves the rest in the descriptor', async () => {
    const content = Buffer.concat([pattern(150_000), Buffer.from('TAIL')]);
    const fd = openWith(content);
    try {
      const body = await collect(readBody(fd, 150_000));
      expect(body.equals(pattern(150_000))).toBe(true);
      expect(restOf(fd)).toBe('TAIL');
    } finally {
      closeSync(fd);
    }
  });

  it('ends early at end of file, leaving the shortfall for the input to report', async () => {
    const fd = openWith(Buffer.from('short'));
    try {
      expect((await collect(readBody(fd, 100))).toString()).toBe('short');
    } finally {
      closeSync(fd);
    }
  });

  it('reads nothing until the consumer asks', async () => {
    const fd = openWith(Buffer.from('untouched'));
    try {
      expect(readBody(fd, 9)).toBeDefined();
      expect(restOf(fd)).toBe('untouched');
    } finally {
      closeSync(fd);
    }
  });
});

describe('createCgiBody spoolRest', () => {
  it('drains the unread body up to CONTENT_LENGTH and still yields every byte in order', async () => {
    const fd = openWith(Buffer.concat([pattern(300_000), Buffer.from('NEXT')]));
    try {
      const body = createCgiBody(fd, 300_000);
      const iterator = body.source[Symbol.asyncIterator]();
      const first = (await iterator.next()).value as Uint8Array;
      await body.spoolRest();
      expect(restOf(fd)).toBe('NEXT');
      const rest: Uint8Array[] = [first];
      for (let step = await iterator.next(); !step.done; step = await iterator.next()) rest.push(step.value);
      expect(Buffer.concat(rest).equals(pattern(300_000))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('spools past its memory limit into a temp file without losing a byte', async () => {
    const fd = openWith(pattern(200_000));
    try {
      const body = createCgiBody(fd, 200_000, 1000);
      await body.spoolRest();
      expect((await collect(body.source)).equals(pattern(200_000))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('stops at end of file when the body is shorter than CONTENT_LENGTH', async () => {
    const fd = openWith(Buffer.from('abc'));
    try {
      const body = createCgiBody(fd, 10);
      await body.spoolRest();
      expect((await collect(body.source)).toString()).toBe('abc');
    } finally {
      closeSync(fd);
    }
  });
});
