// Tests for src/shared/input.ts: tsgi.input stops at CONTENT_LENGTH, pulls lazily, and the push queue is bounded.
import { describe, expect, test } from 'vitest';
import { RequestError } from '../../../src/shared/errors.js';
import {
  createInput,
  createInputQueue,
  decimalLength,
  parseContentLength,
} from '../../../src/shared/input.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

// A source that records how many chunks were pulled from it, and whether it was released early.
function countingSource(chunks: string[]) {
  const state = { pulled: 0, returned: false };
  const source: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]() {
      let index = 0;
      return {
        async next() {
          if (index >= chunks.length) return { done: true, value: undefined };
          state.pulled++;
          return { done: false, value: bytes(chunks[index++] as string) };
        },
        async return() {
          state.returned = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
  return { source, state };
}

async function readAll(iterable: AsyncIterable<Uint8Array>): Promise<string> {
  let out = '';
  for await (const chunk of iterable) out += text(chunk);
  return out;
}

describe('decimalLength', () => {
  test.each([
    ['0', 0],
    ['12', 12],
    ['9007199254740991', 9007199254740991],
    ['', undefined],
    ['-1', undefined],
    ['1e3', undefined],
    [' 5', undefined],
    ['5,5', undefined],
    ['9007199254740992', undefined],
  ])('%j is %j', (text, expected) => {
    expect(decimalLength(text)).toBe(expected);
  });
});

describe('parseContentLength', () => {
  test.each([
    [undefined, undefined],
    ['', undefined],
    ['0', 0],
    ['42', 42],
    ['0042', 42],
  ])('%j is %j', (value, expected) => {
    expect(parseContentLength(value)).toBe(expected);
  });

  test.each(['-1', '1e3', ' 5', '5,5', '5 5', '0x1', '9007199254740992', '١٢'])(
    'refuses %j with RequestError ERR_BAD_CONTENT_LENGTH',
    (value) => {
      expect(() => parseContentLength(value)).toThrow(
        expect.objectContaining({ name: 'RequestError', code: 'ERR_BAD_CONTENT_LENGTH' }),
      );
    },
  );
});

describe('createInput', () => {
  test('yields exactly contentLength bytes and ignores what the source sends beyond', async () => {
    const { source } = countingSource(['hello ', 'world', 'EXTRA']);
    expect(await readAll(createInput(source, { contentLength: 8 }))).toBe('hello wo');
  });

  test('does not pull from the source before the application reads', async () => {
    const { source, state } = countingSource(['a', 'b']);
    const input = createInput(source, { contentLength: 2 });
    await Promise.resolve();
    expect(state.pulled).toBe(0);
    expect(text(await input.read(1))).toBe('a');
    expect(state.pulled).toBe(1);
  });

  test('stops pulling once the body is complete and releases the source', async () => {
    const { source, state } = countingSource(['ab', 'cd', 'ef']);
    const input = createInput(source, { contentLength: 4 });
    expect(text(await input.read())).toBe('abcd');
    expect(state.pulled).toBe(2);
    expect(state.returned).toBe(true);
    expect((await input.read()).byteLength).toBe(0);
  });

  test.each([
    [
      [1, 1, 1, 1],
      ['h', 'e', 'l', 'l'],
    ],
    [
      [3, 3],
      ['hel', 'lo'],
    ],
    [[10], ['hello']],
    [
      [0, 5],
      ['', 'hello'],
    ],
  ])('read sizes %j over chunks "he","llo" give %j', async (sizes, expected) => {
    const input = createInput(countingSource(['he', 'llo']).source, { contentLength: 5 });
    const got: string[] = [];
    for (const size of sizes) got.push(text(await input.read(size)));
    expect(got).toEqual(expected);
  });

  test('read() with no size returns the rest of the body', async () => {
    const input = createInput(countingSource(['ab', 'cd', 'ef']).source, { contentLength: 6 });
    expect(text(await input.read(1))).toBe('a');
    expect(text(await input.read())).toBe('bcdef');
    expect((await input.read()).byteLength).toBe(0);
  });

  test.each([
    [-1, 'abcdef'],
    [2.9, 'ab'],
    [Infinity, 'abcdef'],
  ])('read(%s) reads %j', async (size, expected) => {
    const input = createInput(countingSource(['abc', 'def']).source, { contentLength: 6 });
    expect(text(await input.read(size))).toBe(expected);
  });

  test.each([[NaN], ['3']])('read(%j) rejects with a TypeError instead of guessing', async (size) => {
    const input = createInput(countingSource(['abc']).source, { contentLength: 3 });
    await expect(input.read(size as number)).rejects.toThrow(TypeError);
    expect(text(await input.read())).toBe('abc');
  });

  test('concurrent reads never interleave bytes', async () => {
    const input = createInput(countingSource(['abc', 'def']).source, { contentLength: 6 });
    const [one, two] = await Promise.all([input.read(4), input.read(4)]);
    expect([text(one), text(two)]).toEqual(['abcd', 'ef']);
  });

  test('rejects with ERR_BODY_TRUNCATED when the source ends before CONTENT_LENGTH, and keeps rejecting', async () => {
    const input = createInput(countingSource(['abc']).source, { contentLength: 10 });
    const error = await input.read().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({
      code: 'ERR_BODY_TRUNCATED',
      message: expect.stringContaining('3 of 10 bytes'),
    });
    await expect(input.read()).rejects.toBe(error);
  });

  test('iteration also rejects with ERR_BODY_TRUNCATED on a short body', async () => {
    const input = createInput(countingSource(['abc']).source, { contentLength: 4 });
    await expect(readAll(input)).rejects.toMatchObject({ code: 'ERR_BODY_TRUNCATED' });
  });

  test('a source error becomes ERR_BODY_TRUNCATED with the original as cause', async () => {
    const cause = new Error('socket reset');
    const source: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(cause) }),
    };
    await expect(createInput(source, { contentLength: 3 }).read()).rejects.toMatchObject({
      code: 'ERR_BODY_TRUNCATED',
      cause,
    });
  });

  test('a source whose next() throws synchronously also gives ERR_BODY_TRUNCATED', async () => {
    const cause = new Error('bad source');
    const source = {
      [Symbol.asyncIterator]: () => ({
        next: (): Promise<IteratorResult<Uint8Array>> => {
          throw cause;
        },
      }),
    };
    await expect(createInput(source, { contentLength: 3 }).read()).rejects.toMatchObject({
      code: 'ERR_BODY_TRUNCATED',
      cause,
    });
  });

  test('without contentLength and not terminated the body is empty and the source is never read (RFC 3875 §4.2)', async () => {
    const { source, state } = countingSource(['data']);
    const input = createInput(source, {});
    expect((await input.read()).byteLength).toBe(0);
    expect(state.pulled).toBe(0);
  });

  test('without contentLength but inputTerminated the body is read to the end of the source', async () => {
    const input = createInput(countingSource(['a', 'b', 'c']).source, { inputTerminated: true });
    expect(await readAll(input)).toBe('abc');
  });

  test('contentLength 0 never touches the source', async () => {
    const { source, state } = countingSource(['x']);
    expect((await createInput(source, { contentLength: 0 }).read()).byteLength).toBe(0);
    expect(state.pulled).toBe(0);
  });

  test('no source with a positive contentLength is a truncated body', async () => {
    await expect(createInput(undefined, { contentLength: 1 }).read()).rejects.toMatchObject({
      code: 'ERR_BODY_TRUNCATED',
    });
  });

  test('a source that yields strings (a stream with an encoding set) is refused, not miscounted', async () => {
    const source = (async function* () {
      yield 'text' as unknown as Uint8Array;
    })();
    const input = createInput(source, { contentLength: 4 });
    await expect(input.read()).rejects.toThrow(/yielded string/);
    await expect(input.read()).rejects.toThrow(TypeError);
  });

  test('skips empty chunks from the source', async () => {
    expect(await readAll(createInput(countingSource(['', 'a', '', 'b']).source, { contentLength: 2 }))).toBe(
      'ab',
    );
  });
});

describe('createInputQueue', () => {
  test('delivers pushed chunks in order and ends after end()', async () => {
    const queue = createInputQueue({
      highWaterMark: 100,
      onPause: () => undefined,
      onResume: () => undefined,
    });
    queue.push(bytes('a'));
    queue.push(bytes('b'));
    queue.end();
    expect(await readAll(queue.source)).toBe('ab');
  });

  test('a reader waiting for data wakes up on push', async () => {
    const queue = createInputQueue({
      highWaterMark: 100,
      onPause: () => undefined,
      onResume: () => undefined,
    });
    const reading = readAll(queue.source);
    setTimeout(() => {
      queue.push(bytes('late'));
      queue.end();
    }, 5);
    expect(await reading).toBe('late');
  });

  test('pauses above highWaterMark and resumes once the reader drained it', async () => {
    const events: string[] = [];
    const queue = createInputQueue({
      highWaterMark: 4,
      onPause: () => events.push(`pause@${queue.buffered}`),
      onResume: () => events.push(`resume@${queue.buffered}`),
    });
    queue.push(bytes('abc'));
    queue.push(bytes('def'));
    expect(events).toEqual(['pause@6']);
    const iterator = queue.source[Symbol.asyncIterator]();
    await iterator.next();
    expect(events).toEqual(['pause@6', 'resume@3']);
  });

  test('a slow reader keeps a paused producer within highWaterMark plus one chunk', async () => {
    const highWaterMark = 64;
    const chunkSize = 16;
    const total = 4096;
    let paused = false;
    let maxBuffered = 0;
    let produced = 0;
    const queue = createInputQueue({
      highWaterMark,
      onPause: () => (paused = true),
      onResume: () => {
        paused = false;
        setImmediate(produce);
      },
    });
    // The producer behaves like a socket: it pushes until it is paused, then waits for onResume.
    function produce(): void {
      while (!paused && produced < total) {
        queue.push(new Uint8Array(chunkSize).fill(produced / chunkSize));
        produced += chunkSize;
        maxBuffered = Math.max(maxBuffered, queue.buffered);
      }
      if (produced >= total) queue.end();
    }
    produce();
    const input = createInput(queue.source, { contentLength: total });
    let received = 0;
    while (true) {
      const chunk = await input.read(7);
      if (chunk.byteLength === 0) break;
      received += chunk.byteLength;
      await new Promise((resolve) => setImmediate(resolve)); // slow application
    }
    expect(received).toBe(total);
    expect(maxBuffered).toBeGreaterThan(highWaterMark);
    expect(maxBuffered).toBeLessThanOrEqual(highWaterMark + chunkSize);
  });

  test('fail() drops the buffer, resumes a paused producer and makes the reader reject', async () => {
    const events: string[] = [];
    const queue = createInputQueue({
      highWaterMark: 1,
      onPause: () => events.push('pause'),
      onResume: () => events.push('resume'),
    });
    queue.push(bytes('abc'));
    const failure = new Error('aborted');
    queue.fail(failure);
    expect(queue.buffered).toBe(0);
    expect(events).toEqual(['pause', 'resume']);
    await expect(queue.source[Symbol.asyncIterator]().next()).rejects.toBe(failure);
  });

  test('fail() wakes a reader that is waiting', async () => {
    const queue = createInputQueue({
      highWaterMark: 10,
      onPause: () => undefined,
      onResume: () => undefined,
    });
    const waiting = queue.source[Symbol.asyncIterator]().next();
    queue.fail(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
  });

  test('pushes after end() or fail() are ignored', async () => {
    const queue = createInputQueue({
      highWaterMark: 10,
      onPause: () => undefined,
      onResume: () => undefined,
    });
    queue.push(bytes('a'));
    queue.end();
    queue.push(bytes('b'));
    expect(queue.buffered).toBe(1);
    expect(await readAll(queue.source)).toBe('a');
  });

  test('a reader that stops at CONTENT_LENGTH releases the queue, so the producer is never left paused', async () => {
    const events: string[] = [];
    const queue = createInputQueue({
      highWaterMark: 2,
      onPause: () => events.push('pause'),
      onResume: () => events.push('resume'),
    });
    queue.push(bytes('abc'));
    queue.push(bytes('def'));
    const input = createInput(queue.source, { contentLength: 2 });
    expect(text(await input.read())).toBe('ab');
    expect(queue.buffered).toBe(0);
    expect(events).toEqual(['pause', 'resume']);
    queue.push(bytes('more'));
    expect(queue.buffered).toBe(0);
  });
});
