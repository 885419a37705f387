// The validator's checks of the application's return value, and the body wrapper that polices both sides.
import type { Body } from '../../shared/types.js';
import { fail, report, show } from './report.js';
import { countBody, type ResponseState } from './response.js';
import { isBodilessStatus } from '../../shared/constants.js';

interface Tracker {
  closed: boolean;
  readonly errors: ResponseState['errors'];
  readonly request: string;
}

// wsgiref's validator reports an iterator that was garbage-collected unclosed from `__del__`; a
// FinalizationRegistry is JavaScript's equivalent. It is a report, not an exception: no caller is left.
const abandoned = new FinalizationRegistry<Tracker>((tracker) => {
  if (tracker.closed) return;
  report(
    tracker.errors,
    'body.close-once',
    `the server dropped the body of ${tracker.request} without calling close()`,
  );
});

/** Checks what the application returned (after awaiting it) and narrows it to a Body. */
export function checkReturnValue(value: unknown): Body {
  /// SPEC: [call.return] An application MUST return, or resolve to, an iterable or async iterable of `Uint8Array`:
  /// SPEC: `[]` for no body. It MUST NOT return a string or a `Uint8Array` itself (they iterate as characters and
  /// SPEC: numbers): wrap a single chunk in an array.
  if (typeof value === 'string' || value instanceof Uint8Array) {
    fail(
      'call.return',
      `the application returned ${show(value)}: return an array of Uint8Array, e.g. [bytes]`,
    );
  }
  const candidate = value as
    { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null | undefined;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    (typeof candidate[Symbol.iterator] !== 'function' &&
      typeof candidate[Symbol.asyncIterator] !== 'function')
  ) {
    fail(
      'call.return',
      `the application returned ${show(value)}: return an iterable of Uint8Array, [] for no body`,
    );
  }
  return value as Body;
}

/**
 * Wraps the body: passes each chunk through as it comes and checks the application's chunks and the server's
 * iteration and close(). The wrapper is async-iterable and always has close(), so the server always calls it.
 */
export function wrapBody(body: Body, state: ResponseState, request: string): Body {
  const tracker: Tracker = { closed: false, errors: state.errors, request };
  let iterated = false;
  let pending = false;
  let inner: Iterator<unknown> | AsyncIterator<unknown> | undefined;
  let innerFinished = false;
  // A non-empty chunk the server took: when it comes back (next, return, close) it has sent the head.
  let chunkOut = false;

  function serverCameBack(): void {
    if (chunkOut) state.headSent = true;
    chunkOut = false;
  }

  async function finishInner(): Promise<void> {
    if (inner === undefined || innerFinished) return;
    innerFinished = true;
    const closing = Promise.resolve(inner.return?.());
    // With a next() pending (an abort), an async generator's return() waits for it: do not hang close() on it.
    if (pending) closing.catch(() => undefined);
    else await closing;
  }

  function ended(): void {
    /// SPEC: [body.start-first] An application MUST call startResponse before its body yields its first chunk, and
    /// SPEC: before the body ends.
    if (state.head === undefined) {
      fail('body.start-first', `the body ended but startResponse was never called: call it before returning`);
    }
    const { code, contentLength } = state.head;
    const exempt = state.method === 'HEAD' || isBodilessStatus(code);
    if (contentLength !== undefined && state.bytes < contentLength && !exempt) {
      fail(
        'body.content-length',
        `the body ended after ${state.bytes} bytes but its Content-Length is ${contentLength}: fix the header or the body`,
      );
    }
  }

  function checkChunk(chunk: unknown): Uint8Array {
    /// SPEC: [body.bytes] Every chunk of the body MUST be a `Uint8Array` (a `Buffer` is one); text MUST be
    /// SPEC: encoded first.
    if (!(chunk instanceof Uint8Array)) {
      const fix = typeof chunk === 'string' ? ': encode it, e.g. new TextEncoder().encode(text)' : '';
      fail('body.bytes', `the body yielded ${show(chunk)}, not a Uint8Array${fix}`);
    }
    if (state.head === undefined) {
      fail('body.start-first', `the body yielded a chunk before startResponse was called: call it first`);
    }
    countBody(state, chunk, 'the body');
    return chunk;
  }

  const iterator: AsyncIterator<Uint8Array> = {
    async next(): Promise<IteratorResult<Uint8Array>> {
      serverCameBack();
      /// SPEC: [body.after-close] The server MUST NOT iterate the body after calling its close().
      if (tracker.closed)
        fail('body.after-close', `the server asked for a chunk after close(): stop iterating`);
      /// SPEC: [body.one-next] The server MUST await each `next()` of the body before calling the next one.
      if (pending)
        fail('body.one-next', `the server called next() while the previous one was pending: await it`);
      if (innerFinished || inner === undefined) return { done: true, value: undefined };
      pending = true;
      let result: IteratorResult<unknown>;
      try {
        result = await inner.next();
      } catch (error) {
        innerFinished = true;
        throw error;
      } finally {
        pending = false;
      }
      if (result.done === true) {
        innerFinished = true;
        state.mayHaveSentHead = true;
        state.ended = true;
        ended();
        return { done: true, value: undefined };
      }
      const chunk = checkChunk(result.value);
      if (chunk.length > 0) {
        state.mayHaveSentHead = true;
        chunkOut = true;
      }
      return { done: false, value: chunk };
    },
    async return(): Promise<IteratorResult<Uint8Array>> {
      serverCameBack();
      await finishInner();
      return { done: true, value: undefined };
    },
  };

  const wrapper = {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      /// SPEC: [body.iterate-once] The server MUST iterate the body at most once, and not after close().
      if (iterated) fail('body.iterate-once', `the server iterated the body a second time: iterate it once`);
      if (tracker.closed) fail('body.iterate-once', `the server iterated the body after close()`);
      iterated = true;
      const source = body as Partial<AsyncIterable<unknown> & Iterable<unknown>>;
      inner = source[Symbol.asyncIterator]?.() ?? source[Symbol.iterator]?.();
      return iterator;
    },
    async close(): Promise<void> {
      serverCameBack();
      /// SPEC: [body.close-once] The server MUST call the body's `close()`, when it has one, exactly once: after the
      /// SPEC: last chunk, after an error from the application or the body, and when the client goes away. (The
      /// SPEC: validator reports a body dropped unclosed on `tsgi.errors` when it is garbage-collected.)
      if (tracker.closed) fail('body.close-once', `the server called the body's close() twice: call it once`);
      tracker.closed = true;
      state.ended = true;
      abandoned.unregister(wrapper);
      try {
        await finishInner();
      } finally {
        await body.close?.();
      }
    },
  };
  abandoned.register(wrapper, tracker, wrapper);
  return wrapper;
}
