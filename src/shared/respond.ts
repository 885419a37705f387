// The response driver: runs one application for one request against a ResponseSink (PEP 3333, server side).
import { INTERNAL_ERROR_BODY, INTERNAL_ERROR_STATUS, isBodilessStatus } from './constants.js';
import { TsgiError, ValidationError } from './errors.js';
import { normalizeStatus, parseStatus, validateHeaders } from './headers.js';
import type {
  Application,
  Body,
  Environ,
  Header,
  ResponseOutcome,
  ResponseSink,
  StartResponse,
  Write,
} from './types.js';

/** Options of `runApplication`. */
export interface RunOptions {
  /**
   * Called once with the error that ended a response badly (application error or SPEC breach), after its
   * stack went to `tsgi.errors`. Not called for aborts and transport failures, which are not the app's fault.
   */
  onError?: (error: unknown, environ: Environ) => void;
}

/** A failure of the transport (sink) or an abort: the client is gone, so no error page and no log line. */
class Disconnect extends TsgiError {}

/**
 * Runs `app` for one request and hands the response to `sink`. Enforces PEP 3333's server rules: startResponse
 * once (again only with `excInfo`), head sent lazily before the first non-empty chunk, byte chunks only, valid
 * status and headers, Content-Length kept, body `return()`/`close()` called exactly once. An error before the
 * head becomes a short 500; after it, the response is cut off (`sink.end(false)`); the stack goes to
 * `tsgi.errors`. Stops when `tsgi.signal` aborts. Never rejects.
 */
export async function runApplication(
  app: Application,
  environ: Environ,
  sink: ResponseSink,
  options: RunOptions = {},
): Promise<ResponseOutcome> {
  const exchange = new Exchange(environ, sink);
  try {
    await runBody(app, exchange);
    await exchange.complete();
  } catch (error) {
    return exchange.fail(error, options);
  }
  return exchange.end(true);
}

// Calls the app, iterates its body, and closes the body exactly once whatever happened.
async function runBody(app: Application, exchange: Exchange): Promise<void> {
  const body: unknown = await app(exchange.environ, exchange.startResponse);
  let failure: { error: unknown } | undefined;
  try {
    await iterateBody(body, exchange);
  } catch (error) {
    failure = { error };
  }
  try {
    if (isObject(body) && typeof body.close === 'function') await body.close();
  } catch (error) {
    if (failure) exchange.log(error, 'body.close() also failed');
    else failure = { error };
  }
  if (failure) throw failure.error;
}

function isObject(value: unknown): value is Record<string | symbol, unknown> & Partial<Body> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

function openIterator(body: unknown): Iterator<unknown> | AsyncIterator<unknown> {
  if (typeof body === 'string' || body instanceof Uint8Array) {
    throw new ValidationError(
      'ERR_BODY_NOT_ITERABLE',
      `tsgi: the application returned a ${typeof body === 'string' ? 'string' : 'Uint8Array'} as its body; return an iterable of chunks, e.g. [new TextEncoder().encode(text)]`,
    );
  }
  if (isObject(body) && typeof body[Symbol.asyncIterator] === 'function') {
    return (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }
  if (isObject(body) && typeof body[Symbol.iterator] === 'function') {
    return (body as Iterable<unknown>)[Symbol.iterator]();
  }
  throw new ValidationError(
    'ERR_BODY_NOT_ITERABLE',
    `tsgi: the application returned ${body === null ? 'null' : typeof body}, not an iterable body; return an array or (async) iterable of Uint8Array chunks ([] for no body)`,
  );
}

// for-await over the body, with `return()` called exactly once when the loop stops before `done`.
async function iterateBody(body: unknown, exchange: Exchange): Promise<void> {
  const iterator = openIterator(body);
  let pending = false;
  try {
    while (true) {
      pending = true;
      const step = await exchange.guard(iterator.next());
      pending = false;
      if (step.done) return;
      await exchange.send(step.value);
    }
  } catch (error) {
    // When an abort interrupted a pending next(), an async generator would queue return() behind it: don't wait.
    const closing = Promise.resolve(iterator.return?.()).catch((closeError: unknown) => {
      exchange.log(closeError, 'the body iterator return() failed');
    });
    if (!pending || !(error instanceof Disconnect)) await closing;
    throw error;
  }
}

// One request's response state: what startResponse recorded, what was sent, and the sink calls.
class Exchange {
  readonly environ: Environ;
  readonly #sink: ResponseSink;
  #status: string | undefined;
  #code = 0;
  #headers: readonly Header[] = [];
  #declaredLength: number | undefined;
  #headersSent = false;
  #bytes = 0;
  #ended = false;
  #done = false;
  #tail: Promise<void> = Promise.resolve();
  #broken: { error: unknown } | undefined;

  constructor(environ: Environ, sink: ResponseSink) {
    this.environ = environ;
    this.#sink = sink;
  }

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

  // Only reachable through startResponse, so a status is always recorded; the body-before-start case is in #emit.
  readonly write: Write = (chunk) => {
    const sent = this.send(chunk);
    sent.catch(() => undefined); // an app that ignores write()'s promise must not crash the process
    return sent;
  };

  // Validates and snapshots status and headers (a later mutation of the app's array cannot inject anything).
  #record(status: unknown, headers: unknown): void {
    this.#code = parseStatus(status);
    validateHeaders(headers);
    const copy = headers.map(([name, value]) => [name, value] as const);
    const lengths = copy.filter(([name]) => name.toLowerCase() === 'content-length');
    if (lengths.length > 1) {
      throw new ValidationError('ERR_CONTENT_LENGTH', 'tsgi: more than one Content-Length header; send one');
    }
    const declared = lengths[0] && declaredLength(lengths[0][1]);
    this.#status = normalizeStatus(status as string);
    this.#headers = copy;
    this.#declaredLength = declared;
  }

  /** Sends one body chunk in order with every other write; a failure sticks and fails the response. */
  send(chunk: unknown): Promise<void> {
    const sent = this.#tail.then(() => this.#emit(chunk));
    this.#tail = sent.then(undefined, (error: unknown) => {
      this.#broken ??= { error };
    });
    return sent;
  }

  async #emit(chunk: unknown): Promise<void> {
    if (this.#broken) throw this.#broken.error;
    if (this.#done)
      throw new ValidationError(
        'ERR_WRITE_AFTER_END',
        'tsgi: write() was called after the response ended; await your writes before returning',
      );
    if (!(chunk instanceof Uint8Array)) throw notBytes(chunk);
    if (this.#status === undefined) {
      throw new ValidationError(
        'ERR_WRITE_BEFORE_START',
        'tsgi: the body yielded a chunk before startResponse was called',
      );
    }
    if (chunk.byteLength === 0) return;
    if (this.#declaredLength !== undefined && this.#bytes + chunk.byteLength > this.#declaredLength) {
      throw new ValidationError(
        'ERR_CONTENT_LENGTH_EXCEEDED',
        `tsgi: the body is longer than its Content-Length ${this.#declaredLength}; fix the header or the body`,
      );
    }
    await this.#sendHead();
    await this.#transport(() => this.#sink.write(chunk));
    this.#bytes += chunk.byteLength;
  }

  async #sendHead(): Promise<void> {
    if (this.#headersSent) return;
    this.#headersSent = true;
    await this.#transport(() => this.#sink.sendHead(this.#status as string, this.#headers));
  }

  // A sink call; its failure means the client is gone (a Disconnect: no error page, no log line).
  async #transport(call: () => void | Promise<void>): Promise<void> {
    try {
      await this.guard(call());
    } catch (error) {
      if (error instanceof Disconnect) throw error;
      throw new Disconnect('ERR_TRANSPORT', 'tsgi: the transport failed while sending the response', {
        cause: error,
      });
    }
  }

  /** After the body: waits for pending writes, sends the head of an empty body, checks Content-Length. */
  async complete(): Promise<void> {
    await this.#tail;
    this.#done = true;
    if (this.#broken) throw this.#broken.error;
    if (this.#status === undefined) {
      throw new ValidationError(
        'ERR_NO_START_RESPONSE',
        'tsgi: the application returned without calling startResponse',
      );
    }
    const bodiless = isBodilessStatus(this.#code) || this.environ.REQUEST_METHOD === 'HEAD';
    if (this.#declaredLength !== undefined && this.#bytes < this.#declaredLength && !bodiless) {
      throw new ValidationError(
        'ERR_CONTENT_LENGTH_SHORT',
        `tsgi: the body has ${this.#bytes} bytes but Content-Length says ${this.#declaredLength}; fix the header or the body`,
      );
    }
    await this.#sendHead();
  }

  /**
   * Waits for `value` unless `tsgi.signal` aborts first. One listener per wait, removed when it settles
   * (a `Promise.race` against one shared abort promise would keep a reaction per chunk alive).
   */
  guard<T>(value: T | PromiseLike<T>): Promise<T> {
    const signal = this.environ['tsgi.signal'];
    if (signal.aborted) return Promise.reject(abortError(signal));
    if (!isThenable(value)) return Promise.resolve(value);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(abortError(signal));
      signal.addEventListener('abort', onAbort, { once: true });
      value.then(
        (result) => {
          signal.removeEventListener('abort', onAbort);
          resolve(result);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  /** Error path: log, then a 500 page before the head or a cut-off after it. */
  async fail(error: unknown, options: RunOptions): Promise<ResponseOutcome> {
    this.#done = true;
    await this.#tail; // a write already in flight finishes first; queued ones now fail with ERR_WRITE_AFTER_END
    const quiet = error instanceof Disconnect || this.environ['tsgi.signal'].aborted;
    if (!quiet) {
      this.log(error, 'application error');
      try {
        options.onError?.(error, this.environ);
      } catch (hookError) {
        this.log(hookError, 'RunOptions.onError failed');
      }
    }
    if (quiet || this.#headersSent) return this.end(false, error);
    try {
      await this.#sendErrorPage();
      return this.end(true, error);
    } catch (pageError) {
      return this.end(false, pageError instanceof Disconnect ? error : pageError);
    }
  }

  async #sendErrorPage(): Promise<void> {
    const body = Buffer.from(INTERNAL_ERROR_BODY, 'latin1');
    this.#code = 500;
    this.#status = INTERNAL_ERROR_STATUS;
    this.#headers = [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.byteLength)],
    ];
    await this.#sendHead();
    await this.#transport(() => this.#sink.write(body));
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

function abortError(signal: AbortSignal): Disconnect {
  return new Disconnect('ERR_ABORTED', 'tsgi: the request was aborted (client gone or server cancelled)', {
    cause: signal.reason,
  });
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

// The Content-Length an app declared; the same plain-decimal rule as CONTENT_LENGTH (RFC 9110 §8.6).
function declaredLength(value: string): number {
  const length = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (Number.isSafeInteger(length)) return length;
  throw new ValidationError(
    'ERR_CONTENT_LENGTH',
    `tsgi: Content-Length ${JSON.stringify(value)} is not a decimal byte count; send the body's length in bytes`,
  );
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
