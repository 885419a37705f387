// The response body between a push side (the handler's writes) and a pull side (the tsgi body iterator).

/** Called once a written chunk has been taken by the front end (or dropped), as a socket write callback is. */
export type WriteCallback = (error?: Error | null) => void;

/** What the channel tells the bridge; methods, not closures, so a request allocates no functions for them. */
export interface ChannelOwner {
  /** The queued bytes fell below the high-water mark after a push had said they were above it. */
  drained(): void;
  /** The handler ended the response and every chunk has been taken: the body is complete. */
  delivered(): void;
}

// net.Socket's writable highWaterMark: res.write() returns false above it, as it does on node:http.
const HIGH_WATER_MARK = 16 * 1024;
const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

/** A step of the iterator: at once when a chunk or the end is already there, else a promise of it. */
export type ChannelStep = IteratorResult<Uint8Array> | Promise<IteratorResult<Uint8Array>>;

/**
 * Chunks are pushed with an optional completion callback; the tsgi server pulls them as a body iterator. A
 * chunk counts as written when the server asks for the next one (it has written this one): then its callback
 * runs, and `push()` returning false and the owner's `drained()` follow the front end's pace as a socket's
 * write() and 'drain' do. After `close()` every push is dropped: nothing reaches the transport once the
 * response is over or the client is gone.
 *
 * `next()` returns its step itself, not a promise, when the chunk or the end is already there (the response
 * driver, `for await` and `await` all take a plain step from an async iterator): a response the handler wrote
 * in one go then costs the driver no promise, where each awaited step cost it a guarded promise (issue 13).
 */
export class BodyChannel {
  readonly #owner: ChannelOwner;
  #queue: Uint8Array[] = [];
  #callbacks: (WriteCallback | undefined)[] | undefined;
  #queuedBytes = 0;
  #handedOut: Uint8Array | undefined;
  #handedOutCallback: WriteCallback | undefined;
  #full = false;
  #ended = false;
  #closed = false;
  #completed = false;
  #failure: { error: unknown } | undefined;
  #waiting:
    ((step: IteratorResult<Uint8Array> | PromiseLike<IteratorResult<Uint8Array>>) => void) | undefined;

  constructor(owner: ChannelOwner) {
    this.#owner = owner;
  }

  /** True once the iterator ended because the whole response was handed out (not closed, not failed). */
  get completed(): boolean {
    return this.#completed;
  }

  /** True once no more chunks are taken (ended by the handler, closed or failed). */
  get shut(): boolean {
    return this.#ended || this.#closed || this.#failure !== undefined;
  }

  /** Queues a chunk; false when the queue is at its high-water mark (the writer should wait for drained()). */
  push(chunk: Uint8Array, callback?: WriteCallback): boolean {
    if (this.shut) {
      if (callback) process.nextTick(callback);
      return false;
    }
    this.#queue.push(chunk);
    if (callback !== undefined || this.#callbacks !== undefined) {
      this.#callbacks ??= new Array<WriteCallback | undefined>(this.#queue.length - 1).fill(undefined);
      this.#callbacks.push(callback);
    }
    this.#queuedBytes += chunk.byteLength;
    this.#notify();
    if (this.#queuedBytes < HIGH_WATER_MARK) return true;
    this.#full = true;
    return false;
  }

  /** The handler ended the response: the iterator ends once the queue is drained. */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  /** The response failed: the iterator throws `error` (before the queued chunks: they belong to a broken body). */
  fail(error: unknown): void {
    if (this.#failure || this.#closed || this.#completed) return;
    this.#failure = { error };
    this.#notify();
  }

  /** Stops for good: pending writes complete (their bytes are dropped) and later pushes are ignored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    const callbacks = this.#callbacks;
    this.#queue = [];
    this.#callbacks = undefined;
    this.#queuedBytes = 0;
    if (callbacks) for (const callback of callbacks) if (callback) process.nextTick(callback);
    this.#notify();
  }

  next(): ChannelStep {
    this.#release();
    const step = this.#step();
    if (step !== undefined) return step;
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  async return(): Promise<IteratorResult<Uint8Array>> {
    this.close();
    return DONE;
  }

  // The next step if there is one now, else undefined (the iterator waits for a push, an end or a failure).
  #step(): ChannelStep | undefined {
    if (this.#completed) return DONE;
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#closed) return DONE;
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#handedOut = chunk;
      this.#handedOutCallback = this.#callbacks?.shift();
      return { done: false, value: chunk };
    }
    if (this.#ended) {
      this.#completed = true;
      this.#owner.delivered();
      return DONE;
    }
    return undefined;
  }

  // The chunk handed out last has been written: its callback, then 'drain' when the queue emptied enough.
  #release(): void {
    const chunk = this.#handedOut;
    if (chunk === undefined) return;
    this.#handedOut = undefined;
    this.#queuedBytes -= chunk.byteLength;
    const callback = this.#handedOutCallback;
    this.#handedOutCallback = undefined;
    // As a socket calls write callbacks: never from inside the writer's own call (here: the server's next()).
    if (callback) process.nextTick(callback);
    if (this.#full && this.#queuedBytes < HIGH_WATER_MARK && !this.#closed) {
      this.#full = false;
      this.#owner.drained();
    }
  }

  #notify(): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    const step = this.#step();
    if (step === undefined) return;
    this.#waiting = undefined;
    waiting(step);
  }
}
