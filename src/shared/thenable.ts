// One test for "a promise or anything `await` would wait for", used wherever a value may or may not be one.

/** True for a promise or any other object with a `then` method (what `await` would wait for). */
export function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}
