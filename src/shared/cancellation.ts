// How the response driver learns that a request was cancelled: the Cancellation view, from a signal or lazy.

/**
 * How the driver learns that its request was cancelled: `tsgi.signal` itself, or a front end's cheaper view of
 * the same state (see `RunOptions.cancellation`), which spares creating the signal when the app never reads it.
 */
export interface Cancellation {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `listener` once when the request is cancelled; returns the function that removes it. */
  subscribe(listener: () => void): () => void;
}

/** The Cancellation of a plain `tsgi.signal` (an environ built without a front end's own). */
export function signalCancellation(signal: AbortSignal): Cancellation {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason as unknown;
    },
    subscribe(listener) {
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
}

/**
 * A request's cancellation for front ends, with `tsgi.signal` created only when read: pass `signal` as the
 * environ's lazy signal and the object itself as `RunOptions.cancellation`. An AbortController costs ~3 µs on
 * Node 20, more than the rest of a small response; most apps never read the signal.
 */
export class LazyCancellation implements Cancellation {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;
  #listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  /** `tsgi.signal`, created on first call (already aborted when the request was cancelled before). */
  readonly signal = (): AbortSignal => {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  };

  subscribe(listener: () => void): () => void {
    if (this.#aborted) return () => undefined;
    const listeners = (this.#listeners ??= []);
    listeners.push(listener);
    return () => {
      const at = listeners.indexOf(listener);
      if (at >= 0) listeners.splice(at, 1);
    };
  }

  /** Cancels the request once: the signal (if created) aborts with `reason`, then each listener runs. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }
}
