// The CGI body reader: exactly CONTENT_LENGTH bytes from fd 0, pulled on demand, never one byte more.
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBody } from '../../../src/cgi/stdin-source.js';

const scratch = mkdtempSync(join(tmpdir(), 'tsgi-stdin-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function openWith(content: Buffer): number {
  const file = join(scratch, `body-${content.length}-${Math.random()}`);
  writeFileSync(file, content);
  return openSync(file, 'r');
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}

describe('readBody', () => {
  it('yields exactly `limit` bytes and leaves the rest in the descriptor', async () => {
    const content = Buffer.alloc(200_000, 7);
    content.write('TAIL', 150_000);
    const fd = openWith(content);
    try {
      const body = await collect(readBody(fd, 150_000));
      expect(body.length).toBe(150_000);
      const rest = Buffer.alloc(10);
      readSync(fd, rest, 0, 4, null);
      expect(rest.toString('latin1', 0, 4)).toBe('TAIL');
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
      const source = readBody(fd, 9);
      // Created but never iterated: the descriptor offset must not have moved.
      expect(source).toBeDefined();
      const rest = Buffer.alloc(9);
      expect(rest.toString('latin1', 0, readSync(fd, rest, 0, 9, null))).toBe('untouched');
    } finally {
      closeSync(fd);
    }
  });
});
