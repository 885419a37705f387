// One request's response state for the driver: startResponse/write rules, the lazy head, sink calls, error page.
import {
  BAD_REQUEST_BODY,
  BAD_REQUEST_STATUS,
  INTERNAL_ERROR_BODY,
  INTERNAL_ERROR_STATUS,
  isBodilessStatus,
} from './constants.js';
import { RequestError, TsgiError, ValidationError } from './errors.js';
import { isFinalStatus, normalizeStatus, parseStatus, snapshotHeaders } from './headers.js';
import type { Environ, Header, ResponseOutcome, ResponseSink, StartResponse, Write } from './types.js';
import { signalCancellation, type Cancellation } from './cancellation.js';
import { isThenable } from './thenable.js';

export type { Cancellation } from './cancellation.js';

/** A failure of the transport (sink) or an abort: the client is gone, so no error page and no log line. */
export class Disconnect extends TsgiError {}

/** Reports the error that ended a response badly (see `RunOptions.onError`). */
export type ErrorHook = (error: unknown, environ: Environ) => void;

/**
 * What `runApplication` drives for one request: it records startResponse calls, sends body chunks in order
 * with the head before the first non-empty one, keeps Content-Length, and ends the sink exactly once.
 */
export class Exchange {
  readonly environ: Environ;
  readonly #sink: ResponseSink;
  readonly #cancellation: Cancellation;
  #status: string | undefined;
  #code = 0;
  #headers: readonly Header[] = [];
  #declaredLength: number | undefined;
  #headersSent = false;
  #bytes = 0;
  #ended = false;
  #done = false;
  // The last send in flight (none until a send has to wait: a promise per response costs, issue 13), and the
  // writes queued on it and not yet settled: while 0, a chunk may be sent at once.
  #tail: Promise<void> | undefined;
  #queued = 0;
  #broken: { error: unknown } | undefined;

  constructor(environ: Environ, sink: ResponseSink, cancellation?: Cancellation) {
    this.environ = environ;
    this.#sink = sink;
    if (cancellation !== undefined) this.#cancellation = cancellation;
    else {
      // A hand-built environ without a signal must not make the driver throw (it never rejects).
      const signal: unknown = environ['tsgi.signal'];
      this.#cancellation = signalCancellation(
        signal instanceof AbortSignal ? signal : new AbortController().signal,
      );
    }
  }

  get aborted(): boolean {
    return this.#cancellation.aborted;
  }

  /** Throws the Disconnect of an aborted request (the body loop checks before every step). */
  throwIfAborted(): void {
    if (this.#cancellation.aborted) throw abortError(this.#cancellation);
  }

  /** PEP 3333 start_response: once, again only with excInfo; with excInfo after the head, excInfo is re-thrown. */
  readonly startResponse: StartResponse = (status, headers, excInfo) => {
    if (this.#status !== undefined && excInfo === undefined) {
      throw new ValidationError(
        'ERR_START_RESPONSE_TWICE',
        'tsgi: startResponse was called twice; a second call must pass excInfo (the error being handled)',
      );
    }
    if (excInfo !== undefined && this.#headersSent) throw excInfo;
    this.#record(status, headers);
    return this.write;
  };

  // Only reachable through startResponse, so a status is always recorded; the body-before-start case is in #check.
  readonly write: Write = (chunk) => {
    let sent: Promise<void> | undefined;
    try {
      sent = this.send(chunk);
    } catch (error) {
      sent = Promise.reject(error);
    }
    if (sent === undefined) return SENT;
    sent.catch(() => undefined); // an app that ignores write()'s promise must not crash the process
    return sent;
  };

  // Validates and snapshots status and headers (a later mutation of the app's array cannot inject anything).
  #record(status: unknown, headers: unknown): void {
    const code = parseStatus(status);
    if (!isFinalStatus(code)) {
      // An interim (1xx) response sent as the final one leaves the client waiting forever (RFC 9110 §15.2); a
      // code past 599 is no HTTP status at all.
      throw new ValidationError(
        code < 200 ? 'ERR_INFORMATIONAL_STATUS' : 'ERR_STATUS_RANGE',
        code < 200
          ? `tsgi: status ${code} is informational (1xx) and cannot be the response; send a final status (200–599)`
          : `tsgi: status ${code} is out of range; send a status from 200 to 599`,
      );
    }
    const { copy, declaredLength } = snapshotHeaders(headers);
    this.#declaredLength = declaredLength;
    this.#code = code;
    // Only a bare code needs the phrase; normalizeStatus would parse the status a second time.
    this.#status = (status as string).length === 3 ? normalizeStatus(status as string) : (status as string);
    this.#headers = copy;
  }

  /**
   * Sends one body chunk, in order after every write still in flight. Synchronous while nothing is queued and the
   * sink takes the head and the chunk at once (the common case: a small body, a socket that keeps up): then it
   * returns undefined, and no promise is made. Otherwise it returns the promise of this chunk's sending. A failure
   * is thrown (or rejects), and it sticks: every later send and the end of the response fail with it.
   */
  send(chunk: unknown): Promise<void> | undefined {
    if (this.#queued > 0) return this.#queue(this.#tail!.then(() => this.#sendChunk(chunk)));
    let sending: Promise<void> | undefined;
    try {
      sending = this.#sendChunk(chunk);
    } catch (error) {
      this.#broken ??= { error };
      throw error;
    }
    return sending === undefined ? undefined : this.#queue(sending);
  }

  // Puts a send in flight on #tail: later writes wait for it, and its failure sticks (#broken).
  #queue(sent: Promise<void>): Promise<void> {
    this.#queued++;
    this.#tail = sent.then(
      () => {
        this.#queued--;
      },
      (error: unknown) => {
        this.#queued--;
        this.#broken ??= { error };
      },
    );
    return sent;
  }

  // The chunk's rules, then the lazy head, then the chunk: undefined when the sink took both at once.
  #sendChunk(chunk: unknown): Promise<void> | undefined {
    this.#check(chunk);
    if (chunk.byteLength === 0) return undefined;
    this.throwIfAborted();
    if (!this.#headersSent) {
      this.#headersSent = true;
      const head = this.#sinkHead();
      if (head !== undefined) return head.then(() => this.#writeChunk(chunk));
    }
    return this.#writeChunk(chunk);
  }

  #writeChunk(chunk: Uint8Array): Promise<void> | undefined {
    const written = this.#sinkWrite(chunk);
    if (written === undefined) {
      this.#bytes += chunk.byteLength;
      return undefined;
    }
    return written.then(() => {
      this.#bytes += chunk.byteLength;
    });
  }

  // The sink calls: undefined when the call finished at once, else its promise, given up when the request
  // aborts. A failure means the client is gone (a Disconnect: no error page, no log line). No closure per call:
  // these run for every response.
  #sinkHead(): Promise<void> | undefined {
    let result: void | Promise<void>;
    try {
      result = this.#sink.sendHead(this.#status as string, this.#headers);
    } catch (error) {
      throw transportError(error);
    }
    return isThenable(result) ? this.#settled(result) : undefined;
  }

  #sinkWrite(chunk: Uint8Array): Promise<void> | undefined {
    let result: void | Promise<void>;
    try {
      result = this.#sink.write(chunk);
    } catch (error) {
      throw transportError(error);
    }
    return isThenable(result) ? this.#settled(result) : undefined;
  }

  #settled(pending: PromiseLike<void>): Promise<void> {
    return this.guard(pending).catch((error: unknown) => {
      throw transportError(error);
    });
  }

  // The rules a chunk must pass before anything is sent (ValidationError otherwise).
  #check(chunk: unknown): asserts chunk is Uint8Array {
    if (this.#broken) throw this.#broken.error;
    if (this.#done) {
      throw new ValidationError(
        'ERR_WRITE_AFTER_END',
        'tsgi: write() was called after the response ended; await your writes before returning',
      );
    }
    if (!(chunk instanceof Uint8Array)) throw notBytes(chunk);
    if (this.#status === undefined) {
      throw new ValidationError(
        'ERR_WRITE_BEFORE_START',
        'tsgi: the body yielded a chunk before startResponse was called',
      );
    }
    if (this.#declaredLength !== undefined && this.#bytes + chunk.byteLength > this.#declaredLength) {
      throw new ValidationError(
        'ERR_CONTENT_LENGTH_EXCEEDED',
        `tsgi: the body is longer than its Content-Length ${this.#declaredLength}; fix the header or the body`,
      );
    }
  }

  /**
   * After the body: writes in flight first, then the rules an ended body must meet, then the head of an empty
   * body. Undefined when all of it was done at once.
   */
  complete(): Promise<void> | undefined {
    if (this.#queued > 0) return this.#tail!.then(() => this.#completeNow());
    return this.#completeNow();
  }

  #completeNow(): Promise<void> | undefined {
    this.#finish();
    if (this.#headersSent) return undefined;
    this.throwIfAborted();
    this.#headersSent = true;
    return this.#sinkHead();
  }

  // The response is over: later writes fail; the rules an ended body must meet.
  #finish(): void {
    this.#done = true;
    if (this.#broken) throw this.#broken.error;
    if (this.#status === undefined) {
      throw new ValidationError(
        'ERR_NO_START_RESPONSE',
        'tsgi: the application returned without calling startResponse',
      );
    }
    // RFC 9110 §8.6: a HEAD, 1xx, 204 or 304 response declares a length it does not send.
    const bodiless = isBodilessStatus(this.#code) || this.environ.REQUEST_METHOD === 'HEAD';
    if (this.#declaredLength !== undefined && this.#bytes < this.#declaredLength && !bodiless) {
      throw new ValidationError(
        'ERR_CONTENT_LENGTH_SHORT',
        `tsgi: the body has ${this.#bytes} bytes but Content-Length says ${this.#declaredLength}; fix the header or the body`,
      );
    }
  }

  /**
   * Waits for `value` unless `tsgi.signal` aborts first. One listener per wait, removed when it settles
   * (a `Promise.race` against one shared abort promise would keep a reaction per chunk alive).
   */
  guard<T>(value: T | PromiseLike<T>): Promise<T> {
    const cancellation = this.#cancellation;
    if (!isThenable(value))
      return cancellation.aborted ? Promise.reject(abortError(cancellation)) : Promise.resolve(value);
    if (cancellation.aborted) {
      // Nobody waits for it any more; its failure must not surface as an unhandled rejection (a crash).
      value.then(undefined, () => undefined);
      return Promise.reject(abortError(cancellation));
    }
    return new Promise<T>((resolve, reject) => {
      const unsubscribe = cancellation.subscribe(() => reject(abortError(cancellation)));
      value.then(
        (result) => {
          unsubscribe();
          resolve(result);
        },
        (error: unknown) => {
          unsubscribe();
          reject(error);
        },
      );
    });
  }

  /**
   * Error path: log and report, then an error page before the head (400 for a RequestError such as a
   * truncated body, else 500) or a cut-off after it. Aborts and transport failures stay quiet.
   */
  async fail(error: unknown, onError?: ErrorHook): Promise<ResponseOutcome> {
    this.#done = true;
    await this.#tail; // a write already in flight finishes first; queued ones now fail with ERR_WRITE_AFTER_END
    const quiet = error instanceof Disconnect || this.aborted;
    if (!quiet) this.#report(error, onError);
    if (quiet || this.#headersSent) return this.end(false, error);
    try {
      await this.#sendErrorPage(error instanceof RequestError);
      return await this.end(true, error);
    } catch (pageError) {
      return this.end(false, pageError instanceof Disconnect ? error : pageError);
    }
  }

  #report(error: unknown, onError?: ErrorHook): void {
    if (error instanceof RequestError) this.log(error.message, 'bad request');
    else this.log(error, 'application error');
    try {
      onError?.(error, this.environ);
    } catch (hookError) {
      this.log(hookError, 'RunOptions.onError failed');
    }
  }

  async #sendErrorPage(badRequest: boolean): Promise<void> {
    const body = Buffer.from(badRequest ? BAD_REQUEST_BODY : INTERNAL_ERROR_BODY, 'latin1');
    this.#code = badRequest ? 400 : 500;
    this.#status = badRequest ? BAD_REQUEST_STATUS : INTERNAL_ERROR_STATUS;
    this.#headers = [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.byteLength)],
    ];
    this.#headersSent = true;
    await this.#sinkHead();
    await this.#sinkWrite(body);
    this.#bytes += body.byteLength;
  }

  /** Calls `sink.end(ok)` exactly once and reports the outcome. */
  async end(ok: boolean, error?: unknown): Promise<ResponseOutcome> {
    if (!this.#ended) {
      this.#ended = true;
      try {
        await this.#sink.end(ok);
      } catch (endError) {
        ok = false;
        error ??= endError;
      }
    }
    const outcome: ResponseOutcome = { ok, bytes: this.#bytes, headersSent: this.#headersSent };
    if (this.#headersSent) outcome.status = this.#code;
    if (error !== undefined) outcome.error = error;
    return outcome;
  }

  /** One entry in `tsgi.errors`: what failed, for which request, and the stack. Never throws. */
  log(error: unknown, what: string): void {
    const target = `${this.environ.REQUEST_METHOD} ${this.environ.REQUEST_URI ?? this.environ.PATH_INFO}`;
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    try {
      this.environ['tsgi.errors'].write(`tsgi: ${what} in ${target}: ${detail}\n`);
    } catch {
      // The error stream itself failed: nothing else can be told.
    }
  }
}

// What write() returns for a chunk that went out at once (one promise for all of them: it carries nothing).
const SENT: Promise<void> = Promise.resolve();

function abortError(cancellation: Cancellation): Disconnect {
  return new Disconnect('ERR_ABORTED', 'tsgi: the request was aborted (client gone or server cancelled)', {
    cause: cancellation.reason,
  });
}

// A sink failure: the client is gone (a Disconnect: no error page, no log line).
function transportError(error: unknown): Disconnect {
  if (error instanceof Disconnect) return error;
  return new Disconnect('ERR_TRANSPORT', 'tsgi: the transport failed while sending the response', {
    cause: error,
  });
}

function notBytes(chunk: unknown): ValidationError {
  const kind =
    chunk === null
      ? 'null'
      : typeof chunk === 'object'
        ? (chunk.constructor?.name ?? 'object')
        : typeof chunk;
  const fix =
    typeof chunk === 'string'
      ? 'encode it first: new TextEncoder().encode(text) or Buffer.from(text)'
      : chunk instanceof ArrayBuffer
        ? 'wrap it: new Uint8Array(buffer)'
        : 'yield Uint8Array chunks only';
  return new ValidationError(
    'ERR_CHUNK_NOT_BYTES',
    `tsgi: a body chunk is a ${kind}, not a Uint8Array; ${fix}`,
  );
}
