// The response driver: runs one application for one request against a ResponseSink (PEP 3333, server side).
import { ValidationError } from './errors.js';
import type { Cancellation } from './cancellation.js';
import { Disconnect, Exchange } from './exchange.js';
import { isThenable } from './thenable.js';
import type { Application, Body, Environ, ResponseOutcome, ResponseSink } from './types.js';

/** Options of `runApplication`. */
export interface RunOptions {
  /**
   * Called once with the error that ended a response badly (application error or SPEC breach), after its
   * stack went to `tsgi.errors`. Not called for aborts and transport failures, which are not the app's fault.
   */
  onError?: (error: unknown, environ: Environ) => void;
  /**
   * The request's cancellation state, for a front end that creates `tsgi.signal` lazily: the driver watches
   * this instead of the signal, so a request whose app never reads the signal never creates one. It must
   * report the same aborts as `tsgi.signal`.
   */
  cancellation?: Cancellation;
}

export type { Cancellation } from './cancellation.js';
export { LazyCancellation } from './cancellation.js';

/**
 * Runs `app` for one request and hands the response to `sink`. Enforces PEP 3333's server rules: startResponse
 * once (again only with `excInfo`), head sent lazily before the first non-empty chunk, byte chunks only, valid
 * status and headers, Content-Length kept, body `return()`/`close()` called exactly once. An error before the
 * head becomes a short text/plain 500 (400 for a RequestError, e.g. a truncated request body); after it, the
 * response is cut off (`sink.end(false)`); the stack goes to `tsgi.errors`. Stops when `tsgi.signal` aborts
 * (quietly: no log, no error page). Never rejects.
 */
export async function runApplication(
  app: Application,
  environ: Environ,
  sink: ResponseSink,
  options: RunOptions = {},
): Promise<ResponseOutcome> {
  const exchange = new Exchange(environ, sink, options.cancellation);
  try {
    // Each step returns undefined when it finished at once: a hello app (an array body, a sink that keeps up)
    // then costs no await until end(), instead of a dozen promise hops per request.
    const running = runBody(app, exchange);
    if (running !== undefined) await running;
    const completing = exchange.complete();
    if (completing !== undefined) await completing;
  } catch (error) {
    return exchange.fail(error, options.onError).catch(() => exchange.end(false, error));
  }
  return exchange.end(true);
}

// Calls the app, iterates its body, and closes the body exactly once whatever happened.
function runBody(app: Application, exchange: Exchange): Promise<void> | undefined {
  const result = app(exchange.environ, exchange.startResponse);
  if (isThenable(result) || exchange.aborted) {
    return awaitBody(result, exchange).then((body) => iterateAndClose(body, exchange));
  }
  return iterateAndClose(result, exchange);
}

// Undefined when the body was iterated to its end at once and has no close() to call.
function iterateAndClose(body: unknown, exchange: Exchange): Promise<void> | undefined {
  let iterating: Promise<void> | undefined;
  try {
    iterating = iterateBody(body, exchange);
  } catch (error) {
    iterating = Promise.reject(error);
  }
  if (iterating === undefined && !(isObject(body) && typeof body.close === 'function')) return undefined;
  return closeAfter(body, iterating, exchange);
}

async function closeAfter(
  body: unknown,
  iterating: Promise<void> | undefined,
  exchange: Exchange,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  try {
    if (iterating !== undefined) await iterating;
  } catch (error) {
    failure = { error };
  }
  try {
    // Called in every case; after an abort it is not waited for (a close() that hangs must not hold the request).
    await exchange.guard(closeBody(body));
  } catch (error) {
    if (!failure) failure = { error };
    else if (!(error instanceof Disconnect)) exchange.log(error, 'body.close() also failed');
  }
  if (failure) throw failure.error;
}

// Waits for an async app's body unless the request aborts first; a body that arrives later still gets closed.
async function awaitBody(result: Body | Promise<Body>, exchange: Exchange): Promise<unknown> {
  try {
    return await exchange.guard(result);
  } catch (error) {
    if (error instanceof Disconnect) {
      // The request is over, but PEP 3333's close() contract holds for the body, now or whenever it arrives.
      Promise.resolve(result)
        .then(closeBody)
        .catch((lateError: unknown) =>
          exchange.log(lateError, 'a body returned after the abort failed to close'),
        );
    }
    throw error;
  }
}

async function closeBody(body: unknown): Promise<void> {
  if (isObject(body) && typeof body.close === 'function') await body.close();
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

/** Whether the iterator's next() is being waited for: an abort then does not wait for return() (see stopIterator). */
interface Cursor {
  pending: boolean;
}

// The body's chunks to the exchange. One loop (pump) does the work; it runs synchronously while the iterator and
// the sink answer at once, and at the first promise iterateLater awaits it and runs the same loop again.
// Undefined when the body ended at once.
function iterateBody(body: unknown, exchange: Exchange): Promise<void> | undefined {
  const iterator = openIterator(body);
  const cursor: Cursor = { pending: false };
  try {
    const inFlight = pump(iterator, exchange, cursor);
    return inFlight === true ? undefined : iterateLater(iterator, exchange, cursor, inFlight);
  } catch (error) {
    return stopIterator(iterator, exchange, error, cursor.pending);
  }
}

async function iterateLater(
  iterator: Iterator<unknown> | AsyncIterator<unknown>,
  exchange: Exchange,
  cursor: Cursor,
  inFlight: Promise<boolean>,
): Promise<void> {
  try {
    // An await per wait, not a promise chain per chunk: an endless stream must not build an endless chain.
    let ended = await inFlight;
    while (!ended) {
      const next = pump(iterator, exchange, cursor);
      ended = next === true || (await next);
    }
  } catch (error) {
    return stopIterator(iterator, exchange, error, cursor.pending);
  }
}

// Takes steps while they come at once; true when the body ended, else the promise of the step in flight (true
// when that step ended the body). Stops before every next() once the request aborted.
function pump(
  iterator: Iterator<unknown> | AsyncIterator<unknown>,
  exchange: Exchange,
  cursor: Cursor,
): true | Promise<boolean> {
  while (true) {
    exchange.throwIfAborted();
    cursor.pending = true;
    const step = iterator.next();
    if (isThenable(step)) return exchange.guard(step).then((settled) => deliver(settled, exchange, cursor));
    const delivered = deliver(step, exchange, cursor);
    if (delivered !== false) return delivered;
  }
}

// One step's chunk to the exchange: true when the body ended, false when the chunk went out at once, else the
// promise of its sending.
function deliver(
  step: IteratorResult<unknown>,
  exchange: Exchange,
  cursor: Cursor,
): boolean | Promise<boolean> {
  cursor.pending = false;
  if (step.done === true) return true;
  const sent = exchange.send(step.value);
  return sent === undefined ? false : sent.then(() => false);
}

// The loop stopped early: return() once, rethrow. When an abort interrupted a pending next(), an async
// generator would queue return() behind it: don't wait.
async function stopIterator(
  iterator: Iterator<unknown> | AsyncIterator<unknown>,
  exchange: Exchange,
  error: unknown,
  pending: boolean,
): Promise<never> {
  const closing = new Promise((resolve) => resolve(iterator.return?.())).catch((closeError: unknown) => {
    exchange.log(closeError, 'the body iterator return() failed');
  });
  if (!pending || !(error instanceof Disconnect)) await closing;
  throw error;
}
