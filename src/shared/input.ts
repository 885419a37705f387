// tsgi.input: the request body as a pull-based stream that stops at CONTENT_LENGTH, and its bounded push queue.
import { RequestError } from './errors.js';
import type { Input } from './types.js';

const EMPTY = new Uint8Array(0);
const SETTLED: Promise<unknown> = Promise.resolve();
// Decimal digits only: no sign, exponent, space or list (RFC 9110 §8.6 Content-Length = 1*DIGIT). Anything else
// is how request smuggling starts, so it is refused rather than "parsed leniently".
const DECIMAL = /^[0-9]+$/;

/**
 * A byte count written as plain decimal digits (RFC 9110 §8.6), within Number.MAX_SAFE_INTEGER; `undefined`
 * for anything else ("", "-1", "1e3", " 5", "5,5"). The one rule for CONTENT_LENGTH and Content-Length.
 */
export function decimalLength(text: string): number | undefined {
  const length = DECIMAL.test(text) ? Number(text) : NaN;
  return Number.isSafeInteger(length) ? length : undefined;
}

/**
 * Parses CONTENT_LENGTH. `undefined` or `""` (unset, RFC 3875 §4.1) gives `undefined`; anything but plain
 * decimal digits within Number.MAX_SAFE_INTEGER throws RequestError `ERR_BAD_CONTENT_LENGTH`.
 */
export function parseContentLength(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const length = decimalLength(text);
  if (length === undefined) {
    throw new RequestError(
      'ERR_BAD_CONTENT_LENGTH',
      `tsgi: CONTENT_LENGTH ${JSON.stringify(text.slice(0, 40))} is not a decimal byte count; request refused`,
    );
  }
  return length;
}

/** How `createInput` knows where the body ends. */
export interface InputOptions {
  /** CONTENT_LENGTH as a number: the input yields exactly this many bytes, then end of body. */
  contentLength?: number;
  /**
   * Without `contentLength`: true when the source itself ends at end of body (FastCGI STDIN, a de-chunked
   * upload), so the input reads to its end. False (the default) means an empty body: RFC 3875 §4.2 sends a
   * body only with CONTENT_LENGTH, and a CGI stdin may never reach EOF.
   */
  inputTerminated?: boolean;
}

/**
 * Creates `tsgi.input` over a byte source. It pulls from `source` only when the application reads (so a large
 * upload never sits in memory), never yields more than `contentLength` bytes, and rejects with RequestError
 * `ERR_BODY_TRUNCATED` when the source ends before `contentLength` bytes arrived (client gone, lying length).
 */
export function createInput(
  source: AsyncIterable<Uint8Array> | undefined,
  options: InputOptions = {},
): Input {
  return new BodyReader(source, options);
}

class BodyReader implements Input {
  #source: AsyncIterable<Uint8Array> | undefined;
  #iterator: AsyncIterator<Uint8Array> | undefined;
  #leftover: Uint8Array = EMPTY;
  #remaining: number;
  #received = 0;
  #expected: number | undefined;
  #failure: Error | undefined;
  // The last read queued; none until the app reads (a promise per request costs, and most hellos never read).
  #queue: Promise<unknown> | undefined;

  constructor(source: AsyncIterable<Uint8Array> | undefined, options: InputOptions) {
    this.#source = source;
    this.#expected = options.contentLength;
    this.#remaining = options.contentLength ?? (options.inputTerminated ? Infinity : 0);
  }

  read(size?: number): Promise<Uint8Array> {
    if (size !== undefined && (typeof size !== 'number' || Number.isNaN(size))) {
      return Promise.reject(
        new TypeError(`tsgi: input.read(size) takes a number of bytes, got ${String(size)}`),
      );
    }
    // PEP 3333 lets read() take no size (or a negative one, as file.read does) for "the rest of the body".
    const limit = size === undefined || size < 0 ? Infinity : Math.floor(size);
    return this.#serialize(() => this.#readUpTo(limit));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      const chunk = await this.#serialize(() => this.#nextChunk(Infinity));
      if (chunk.byteLength === 0) return;
      yield chunk;
    }
  }

  // Reads run one after another, so two concurrent `read()` calls never interleave bytes.
  #serialize<T>(task: () => Promise<T>): Promise<T> {
    const result = (this.#queue ?? SETTLED).then(task);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  async #readUpTo(limit: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    while (total < limit) {
      const chunk = await this.#nextChunk(limit - total);
      if (chunk.byteLength === 0) break;
      parts.push(chunk);
      total += chunk.byteLength;
    }
    if (parts.length <= 1) return parts[0] ?? EMPTY;
    return Buffer.concat(parts, total);
  }

  // The next piece of body, at most `max` bytes; empty at end of body. Pulls the source only when needed.
  async #nextChunk(max: number): Promise<Uint8Array> {
    if (this.#failure) throw this.#failure;
    if (this.#leftover.byteLength === 0) {
      if (this.#remaining === 0) return EMPTY;
      this.#leftover = await this.#pull();
      if (this.#leftover.byteLength === 0) return EMPTY;
    }
    const take = Math.min(max, this.#leftover.byteLength);
    const chunk = take === this.#leftover.byteLength ? this.#leftover : this.#leftover.subarray(0, take);
    this.#leftover = this.#leftover.subarray(take);
    return chunk;
  }

  // One non-empty source chunk cut to what is left of the body; empty at end of body.
  async #pull(): Promise<Uint8Array> {
    this.#iterator ??= this.#source?.[Symbol.asyncIterator]();
    while (this.#iterator) {
      const iterator = this.#iterator;
      // Wrapped so that a source whose next() throws, or returns a plain result, is handled like a promise.
      const step = await new Promise<IteratorResult<Uint8Array>>((resolve) => resolve(iterator.next())).catch(
        (error: unknown) => this.#fail(error),
      );
      if (step.done) break;
      if (!(step.value instanceof Uint8Array)) {
        this.#failure = new TypeError(
          `tsgi: a request body source yielded ${typeof step.value}; sources yield Uint8Array chunks`,
        );
        throw this.#failure;
      }
      if (step.value.byteLength === 0) continue;
      const chunk =
        step.value.byteLength > this.#remaining ? step.value.subarray(0, this.#remaining) : step.value;
      this.#remaining -= chunk.byteLength;
      this.#received += chunk.byteLength;
      if (this.#remaining === 0) this.#release();
      return chunk;
    }
    this.#iterator = undefined;
    if (this.#remaining !== Infinity && this.#remaining > 0) this.#fail(undefined);
    this.#remaining = 0;
    return EMPTY;
  }

  // The whole body has arrived: tell the source no more is wanted (a push queue then stops buffering).
  #release(): void {
    const iterator = this.#iterator;
    this.#iterator = undefined;
    try {
      Promise.resolve(iterator?.return?.()).catch(() => undefined);
    } catch {
      // A source that cannot be released is simply no longer read.
    }
  }

  #fail(cause: unknown): never {
    const message =
      this.#expected === undefined
        ? `tsgi: the request body ended with an error after ${this.#received} bytes`
        : `tsgi: the request body ended after ${this.#received} of ${this.#expected} bytes (CONTENT_LENGTH)`;
    this.#failure = new RequestError('ERR_BODY_TRUNCATED', message, { cause });
    throw this.#failure;
  }
}

/** Options of `createInputQueue`: the producer's flow-control hooks. */
export interface InputQueueOptions {
  /** Buffered bytes above which `onPause` fires. */
  highWaterMark: number;
  /** Stop producing (e.g. `socket.pause()`): more than `highWaterMark` bytes wait for the application. */
  onPause(): void;
  /** Produce again: the application has read the buffer down to `highWaterMark` or below. */
  onResume(): void;
}

/** The push side of a request body (FastCGI STDIN records): a bounded queue the application drains. */
export interface InputQueue {
  /** The pull side, for `createInput`. Single consumer. */
  readonly source: AsyncIterable<Uint8Array>;
  /** Appends a chunk; fires `onPause` once the buffer exceeds `highWaterMark`. Ignored after `end`/`fail`. */
  push(chunk: Uint8Array): void;
  /** End of body: the source finishes once the buffer is drained. */
  end(): void;
  /**
   * The body failed (abort, connection lost): buffered bytes are dropped and the reader rejects with `error`.
   * A function is called only if something reads afterwards (an Error's stack costs ~2 µs; most requests whose
   * input is failed after their response never read it again).
   */
  fail(error: Error | (() => Error)): void;
  /** Bytes pushed and not yet taken by the reader. */
  readonly buffered: number;
}

/**
 * Creates the bounded push queue that carries a streamed request body (FastCGI STDIN) to `tsgi.input`. The
 * producer pauses when more than `highWaterMark` bytes wait and resumes when the reader has drained them, so a
 * slow application bounds memory at `highWaterMark` plus one producer chunk.
 */
export function createInputQueue(options: InputQueueOptions): InputQueue {
  return new PushQueue(options);
}

class PushQueue implements InputQueue, AsyncIterator<Uint8Array> {
  readonly source: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => this };
  #options: InputQueueOptions;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #paused = false;
  #ended = false;
  #failure: Error | (() => Error) | undefined;
  #wake: (() => void) | undefined;

  constructor(options: InputQueueOptions) {
    this.#options = options;
  }

  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Uint8Array): void {
    if (this.#ended || this.#failure || chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (!this.#paused && this.#buffered > this.#options.highWaterMark) {
      this.#paused = true;
      this.#options.onPause();
    }
    this.#wakeReader();
  }

  end(): void {
    this.#ended = true;
    this.#wakeReader();
  }

  fail(error: Error | (() => Error)): void {
    if (this.#failure) return;
    this.#failure = error;
    this.#drop();
    this.#wakeReader();
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    while (true) {
      if (this.#failure) {
        if (typeof this.#failure === 'function') this.#failure = this.#failure();
        throw this.#failure;
      }
      const chunk = this.#chunks.shift();
      if (chunk) return { done: false, value: this.#taken(chunk) };
      if (this.#ended) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  // The reader stopped early (`break`, or input done at CONTENT_LENGTH): drop what waits, never stall the producer.
  async return(): Promise<IteratorResult<Uint8Array>> {
    this.#ended = true;
    this.#drop();
    return { done: true, value: undefined };
  }

  #taken(chunk: Uint8Array): Uint8Array {
    this.#buffered -= chunk.byteLength;
    if (this.#paused && this.#buffered <= this.#options.highWaterMark) {
      this.#paused = false;
      this.#options.onResume();
    }
    return chunk;
  }

  #drop(): void {
    this.#chunks = [];
    this.#buffered = 0;
    if (this.#paused) {
      this.#paused = false;
      this.#options.onResume();
    }
  }

  #wakeReader(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
