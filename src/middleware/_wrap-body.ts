// The body pass-through every response-side middleware needs: see or change each chunk, know when it is closed.
import type { Body } from '../shared/types.js';

/** What a middleware wants to know about the body it passes on. */
export interface BodyHooks {
  /** Sees each chunk; returns the chunk to pass on (possibly another one), or undefined to drop it. */
  chunk?(chunk: Uint8Array): Uint8Array | undefined;
  /** Called when the inner body ended normally (its iterator said `done`). */
  end?(): void;
  /** Sees an error the inner body's iterator threw; the error still propagates unless `recover` replaces it. */
  error?(error: unknown): void;
  /** May turn an error of the inner body into replacement chunks (an error page); undefined re-throws it. */
  recover?(error: unknown): readonly Uint8Array[] | undefined;
  /** Called once when the server closes the body (after the inner body's close()), however it ended. */
  close?(): void;
  /** Asked before each step of the inner body: true ends this body and stops the inner one (its `return()`). */
  stopWhen?(): boolean;
}

type AnyIterator = Iterator<Uint8Array> | AsyncIterator<Uint8Array>;

function open(body: Body): AnyIterator {
  const source = body as Partial<AsyncIterable<Uint8Array> & Iterable<Uint8Array>>;
  const iterator = source[Symbol.asyncIterator]?.() ?? source[Symbol.iterator]?.();
  // Not iterable: let the response driver report it when it iterates (it names the fault best).
  if (iterator === undefined) return (body as unknown as Iterable<Uint8Array>)[Symbol.iterator]();
  return iterator;
}

/**
 * Wraps `body` so that every chunk passes through `hooks.chunk` and `hooks.close` runs once at the end. The
 * wrapper is a plain async iterator, not a generator: a server stopping it early (client gone) gets the inner
 * iterator's `return()` at once, even while an inner `next()` is still pending. `close()` calls the inner
 * body's `return()` (when it did not finish) and its `close()`, exactly once (PEP 3333 "close").
 */
export function wrapBody(body: Body, hooks: BodyHooks): Body {
  let iterator: AnyIterator | undefined;
  let finished = false;
  let replacement: Uint8Array[] | undefined;
  let closed = false;
  // True while an inner next() is awaited: an async generator queues return() behind it, so stopping a hung
  // application's body (client gone) must not wait for that return().
  let pending = false;

  const stop = async (): Promise<void> => {
    if (finished || iterator === undefined) return;
    finished = true;
    const closing = Promise.resolve(iterator.return?.());
    if (pending) closing.catch(() => undefined);
    else await closing;
  };

  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Uint8Array>> {
        if (replacement !== undefined) {
          const chunk = replacement.shift();
          return chunk === undefined ? { done: true, value: undefined } : { done: false, value: chunk };
        }
        while (!finished) {
          if (hooks.stopWhen?.() === true) {
            await stop();
            break;
          }
          let step: IteratorResult<Uint8Array>;
          pending = true;
          try {
            // Opened on the first step, inside the try: a body whose iterator fails to open is an error of it.
            iterator ??= open(body);
            step = await iterator.next();
          } catch (error) {
            finished = true;
            hooks.error?.(error);
            const chunks = hooks.recover?.(error);
            if (chunks === undefined) throw error;
            replacement = [...chunks];
            const chunk = replacement.shift();
            return chunk === undefined ? { done: true, value: undefined } : { done: false, value: chunk };
          } finally {
            pending = false;
          }
          if (step.done === true) {
            finished = true;
            hooks.end?.();
            break;
          }
          const chunk = hooks.chunk ? hooks.chunk(step.value) : step.value;
          if (chunk !== undefined) return { done: false, value: chunk };
        }
        return { done: true, value: undefined };
      },
      async return(): Promise<IteratorResult<Uint8Array>> {
        await stop();
        return { done: true, value: undefined };
      },
    }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      try {
        await stop();
        await body.close?.();
      } finally {
        hooks.close?.();
      }
    },
  };
}
