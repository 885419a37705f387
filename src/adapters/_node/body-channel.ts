// The response body between a push side (socket writes) and a pull side (the tsgi body iterator), one chunk deep.

interface Pending {
  readonly chunk: Uint8Array;
  readonly done: (error?: Error | null) => void;
}

/**
 * Socket writes are pushed in with a completion callback; the tsgi server pulls them as a body iterator. A
 * chunk's callback runs only when the server asks for the next chunk (it has written this one), so Node's own
 * write back-pressure (`res.write()` returning false, 'drain') follows the front end's pace. After `close()`
 * every push is dropped: nothing reaches the transport once the response is over or the client is gone.
 */
export class BodyChannel implements AsyncIterator<Uint8Array> {
  #queue: Pending[] = [];
  #handedOut: Pending | undefined;
  #ended = false;
  #closed = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;
  #drained: (() => boolean) | undefined;
  #completed = false;

  /** True once the iterator ended because the whole response was handed out (not closed, not failed). */
  get completed(): boolean {
    return this.#completed;
  }

  push(chunk: Uint8Array, done: (error?: Error | null) => void): void {
    if (this.#closed || this.#ended || this.#failure) {
      done();
      return;
    }
    this.#queue.push({ chunk, done });
    this.#notify();
  }

  /** The response finished: the iterator ends once the queue is drained. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /**
   * The handler ended the response: the iterator may end as soon as the queue is empty and `drained()` says
   * no write is still on its way, without waiting for 'finish' (which Node emits a tick after the last write
   * completes). The driver then sends the last chunk and the end of the response in one socket write.
   */
  endWhenDrained(drained: () => boolean): void {
    this.#drained = drained;
    this.#notify();
  }

  /** The response failed: the iterator throws `error` (before the queued chunks: they belong to a broken body). */
  fail(error: unknown): void {
    if (this.#failure || this.#closed) return;
    this.#failure = { error };
    this.#notify();
  }

  /** Stops for good: pending writes complete (their bytes are dropped) and later pushes are ignored. */
  close(): void {
    this.#closed = true;
    this.#release();
    for (const pending of this.#queue.splice(0)) pending.done();
    this.#notify();
  }

  async next(): Promise<IteratorResult<Uint8Array>> {
    this.#release();
    while (true) {
      if (this.#failure) throw this.#failure.error;
      if (this.#closed) return { done: true, value: undefined };
      const pending = this.#queue.shift();
      if (pending) {
        this.#handedOut = pending;
        return { done: false, value: pending.chunk };
      }
      if (this.#ended || this.#drained?.()) {
        this.#completed = true;
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.close();
    return { done: true, value: undefined };
  }

  #release(): void {
    const handedOut = this.#handedOut;
    this.#handedOut = undefined;
    handedOut?.done();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
