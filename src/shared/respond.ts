// The response driver: runs one application for one request against a ResponseSink (PEP 3333, server side).
import { ValidationError } from './errors.js';
import type { Cancellation } from './cancellation.js';
import { Disconnect, Exchange, isThenable } from './exchange.js';
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
    const completing = exchange.completeNow();
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

// The body's chunks to the exchange, synchronously while the iterator and the sink answer at once; at the first
// promise the rest continues in iterateLater. Undefined when the body ended at once.
function iterateBody(body: unknown, exchange: Exchange): Promise<void> | undefined {
  const iterator = openIterator(body);
  let pending = false;
  try {
    while (!exchange.aborted) {
      pending = true;
      const step = iterator.next();
      pending = false;
      // An abort during next() (the app's own code ran) stops here, as the guarded wait of iterateLater does.
      if (isThenable(step) || exchange.aborted) {
        return iterateLater(iterator, exchange, isThenable(step) ? step : Promise.resolve(step), undefined);
      }
      if (step.done) return undefined;
      const sent = exchange.sendNow(step.value);
      if (sent !== undefined) return iterateLater(iterator, exchange, undefined, sent);
    }
    return iterateLater(iterator, exchange, undefined, undefined);
  } catch (error) {
    return stopIterator(iterator, exchange, error, pending);
  }
}

// for-await over the rest of the body (from a pending next() or send), with `return()` called exactly once when
// the loop stops before `done`.
async function iterateLater(
  iterator: Iterator<unknown> | AsyncIterator<unknown>,
  exchange: Exchange,
  next: PromiseLike<IteratorResult<unknown>> | undefined,
  sent: Promise<void> | undefined,
): Promise<void> {
  let pending = false;
  try {
    if (sent !== undefined) await sent;
    while (true) {
      pending = true;
      const step = await exchange.guard(next ?? iterator.next());
      next = undefined;
      pending = false;
      if (step.done) return;
      const sending = exchange.sendNow(step.value);
      if (sending !== undefined) await sending;
    }
  } catch (error) {
    return stopIterator(iterator, exchange, error, pending);
  }
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
