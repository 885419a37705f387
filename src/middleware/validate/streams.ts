// The validator's wrappers of tsgi.input and tsgi.errors: they police both sides' use of the two streams.
import type { Environ, ErrorStream, Input } from '../../shared/types.js';
import { fail, show } from './report.js';

/**
 * Wraps `tsgi.input`: checks the application's calls and the bytes the server produces, passing every chunk
 * through as it comes (nothing is buffered).
 */
export function wrapInput(input: Input, environ: Environ): Input {
  const declared = environ.CONTENT_LENGTH === undefined ? undefined : Number(environ.CONTENT_LENGTH);
  // Without CONTENT_LENGTH there is a body only when the server says its input ends by itself (RFC 3875 §4.2).
  const limit = declared ?? (environ['tsgi.input_terminated'] ? Number.POSITIVE_INFINITY : 0);
  let total = 0;
  let busy = false;

  function enter(what: string): void {
    /// SPEC: [input.one-reader] An application MUST await each `read()` or `next()` on `tsgi.input` before it
    /// SPEC: starts another: the body is one stream, and a second reader would get an arbitrary part of it.
    if (busy)
      fail(
        'input.one-reader',
        `${what} was called while another read of tsgi.input is pending: await it first`,
      );
    busy = true;
  }

  function received(chunk: unknown, size: number | undefined, what: string): Uint8Array {
    /// SPEC: [input.bytes] The server's `read()` and iteration of `tsgi.input` MUST produce `Uint8Array`s, and
    /// SPEC: `read(size)` at most `size` bytes.
    if (!(chunk instanceof Uint8Array)) {
      fail('input.bytes', `the server's tsgi.input ${what} produced ${show(chunk)}, not a Uint8Array`);
    }
    if (size !== undefined && chunk.length > size) {
      fail(
        'input.bytes',
        `the server's tsgi.input.read(${size}) returned ${chunk.length} bytes, more than asked`,
      );
    }
    total += chunk.length;
    /// SPEC: [input.content-length] The server MUST NOT produce more than `CONTENT_LENGTH` bytes in all, and none
    /// SPEC: when `CONTENT_LENGTH` is absent and `tsgi.input_terminated` is false (there is no body). Reading past
    /// SPEC: the end is not an error: it resolves to an empty array.
    if (total > limit) {
      const bound =
        declared === undefined ? 'there is no CONTENT_LENGTH (no body)' : `CONTENT_LENGTH is ${declared}`;
      fail(
        'input.content-length',
        `the server's tsgi.input produced ${total} bytes but ${bound}: stop there`,
      );
    }
    return chunk;
  }

  function ended(): void {
    /// SPEC: [input.eof] The server MUST NOT report the end of the body before `CONTENT_LENGTH` bytes: when the
    /// SPEC: client sends fewer, `read()` and `next()` MUST reject with a `RequestError` (`ERR_BODY_TRUNCATED`).
    if (declared !== undefined && total < declared) {
      fail(
        'input.eof',
        `the server's tsgi.input ended after ${total} of CONTENT_LENGTH ${declared} bytes: reject with RequestError ERR_BODY_TRUNCATED instead`,
      );
    }
  }

  return delegate(input, {
    async read(...args: unknown[]): Promise<Uint8Array> {
      const size = args[0];
      /// SPEC: [input.read-size] An application MUST call `read()` with no argument (the rest of the body) or with
      /// SPEC: one non-negative integer `size`.
      if (args.length > 1 || (size !== undefined && (!Number.isSafeInteger(size) || (size as number) < 0))) {
        fail(
          'input.read-size',
          `read(size) takes one non-negative integer, or nothing for the rest of the body`,
        );
      }
      enter('read()');
      let chunk: Uint8Array;
      try {
        chunk = received(
          await (size === undefined ? input.read() : input.read(size as number)),
          size as number,
          'read()',
        );
      } finally {
        busy = false;
      }
      if (chunk.length === 0 && size !== 0) ended();
      if (size === undefined && chunk.length > 0 && declared !== undefined && total < declared) {
        fail(
          'input.eof',
          `the server's tsgi.input.read() returned ${chunk.length} bytes, not the rest (${declared - total} more)`,
        );
      }
      return chunk;
    },
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const inner = input[Symbol.asyncIterator]();
      return {
        async next(): Promise<IteratorResult<Uint8Array>> {
          enter('next()');
          let result: IteratorResult<Uint8Array>;
          try {
            result = await inner.next();
          } finally {
            busy = false;
          }
          if (result.done === true) {
            ended();
            return result;
          }
          return { done: false, value: received(result.value, undefined, 'iteration') };
        },
        async return(value?: unknown): Promise<IteratorResult<Uint8Array>> {
          await inner.return?.(value);
          return { done: true, value: undefined };
        },
      };
    },
  });
}

/** Wraps `tsgi.errors`: checks what the application writes, then writes it through. */
export function wrapErrors(errors: ErrorStream): ErrorStream {
  return delegate(errors, {
    write(...args: unknown[]): void {
      /// SPEC: [errors.write] An application MUST call `tsgi.errors.write(text)` with one string or `Uint8Array`.
      const text = args[0];
      if (args.length !== 1 || !(typeof text === 'string' || text instanceof Uint8Array)) {
        fail('errors.write', `tsgi.errors.write takes one string or Uint8Array, got ${show(text)}`);
      }
      errors.write(text);
    },
  });
}

/**
 * The checking methods over the original object: members the interface does not name (a test stream's `text`,
 * an input's counters) stay reachable through the prototype, so wrapping hides nothing from the server.
 */
function delegate<T extends object>(original: T, methods: Partial<T>): T {
  const wrapper = Object.create(original) as T;
  for (const key of Reflect.ownKeys(methods)) {
    Object.defineProperty(wrapper, key, { value: methods[key as keyof T], enumerable: true, writable: true });
  }
  return wrapper;
}
