// timeout(): a deadline per request: aborts the app's signal and ends the response (504, or a cut-off).
import { TsgiError } from '../shared/errors.js';
import { anySignal } from '../shared/signals.js';
import type { Application, Body, Environ, Middleware, StartResponse, Write } from '../shared/types.js';

const STATUS = '504 Gateway Timeout';
const PAGE = new TextEncoder().encode('Gateway Timeout\n');

/** The reason `tsgi.signal` carries when the deadline passed, and the error that cuts a started response off. */
export class RequestTimeoutError extends TsgiError {
  constructor(ms: number) {
    super('ERR_TIMEOUT', `tsgi timeout: the response did not end within ${ms} ms`);
  }
}

type AnyIterator = Iterator<Uint8Array> | AsyncIterator<Uint8Array>;

function openBody(body: Body): AnyIterator {
  const source = body as Partial<AsyncIterable<Uint8Array> & Iterable<Uint8Array>>;
  return (source[Symbol.asyncIterator]?.() ??
    source[Symbol.iterator]?.() ??
    [][Symbol.iterator]()) as AnyIterator;
}

/** Lets an abandoned call or iterator finish on its own; its late failure is nobody's business any more. */
function abandon(work: unknown): void {
  Promise.resolve(work).catch(() => undefined);
}

/**
 * Gives each request `ms` milliseconds, from the call to the end of the body. When they run out, the
 * application's `tsgi.signal` aborts (a well-behaved app stops its work), its body is abandoned, and the
 * response ends: `504 Gateway Timeout` if no body byte was sent yet (replacing a head the app had started), a
 * cut-off otherwise (the error goes to the response driver, which ends the response as incomplete). Nothing
 * the application writes afterwards reaches the client. One line goes to `tsgi.errors`.
 *
 * The application sees a new environ whose `tsgi.signal` aborts on the deadline or when the client goes away
 * (`AbortSignal.any`), since the server's signal is read-only.
 *
 * @example
 * compose(timeout(30_000))(app)
 */
export function timeout(ms: number): Middleware {
  if (!Number.isFinite(ms) || ms <= 0)
    throw new TypeError(`tsgi timeout: ms must be a positive number, got ${ms}`);
  return (app: Application): Application =>
    async function timed(environ: Environ, startResponse: StartResponse): Promise<Body> {
      const deadline = new AbortController();
      const error = new RequestTimeoutError(ms);
      let timedOut = false;
      let started = false;
      let bodySent = false;
      let expire!: () => void;
      const expired = new Promise<typeof deadline>((resolve) => {
        expire = () => {
          timedOut = true;
          const where = `${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO}`;
          environ['tsgi.errors'].write(`tsgi timeout: ${where} did not end within ${ms} ms\n`);
          deadline.abort(error);
          resolve(deadline);
        };
      });
      const timer = setTimeout(expire, ms);

      const gatewayTimeout = (): Uint8Array[] => {
        const headers = [
          ['Content-Type', 'text/plain; charset=utf-8'],
          ['Content-Length', String(PAGE.byteLength)],
        ] as const;
        if (started) startResponse(STATUS, headers, error);
        else startResponse(STATUS, headers);
        return [PAGE];
      };
      const start: StartResponse = (status, headers, ...excInfo: unknown[]): Write => {
        if (timedOut) throw error;
        const write = startResponse(status, headers, ...excInfo);
        started = true;
        return (chunk) => {
          if (timedOut) return Promise.reject(error);
          if (chunk.byteLength > 0) bodySent = true;
          return write(chunk);
        };
      };
      const inner: Environ = {
        ...environ,
        'tsgi.signal': anySignal([environ['tsgi.signal'], deadline.signal]),
      };

      const call = Promise.resolve().then(() => app(inner, start));
      let body: Body;
      try {
        const first = await Promise.race([call, expired]);
        if (first === deadline) {
          // The app never returned its body: whatever it returns later is closed unread.
          abandon(call.then((late) => (late as Body).close?.()));
          return gatewayTimeout();
        }
        body = first as Body;
      } catch (failure) {
        clearTimeout(timer);
        throw failure;
      }
      return timedBody(body, expired, deadline, {
        timedOut: () => timedOut,
        markSent: () => (bodySent = true),
        onTimeout: () => {
          if (bodySent) throw error;
          return gatewayTimeout();
        },
        stop: () => clearTimeout(timer),
      });
    };
}

interface TimedState {
  timedOut(): boolean;
  markSent(): void;
  /** The chunks that end the response in place of the app's, or a throw that cuts it off. */
  onTimeout(): Uint8Array[];
  stop(): void;
}

// The body, each next() raced against the deadline: a body stuck in an await cannot hold the response open.
function timedBody(body: Body, expired: Promise<unknown>, deadline: unknown, state: TimedState): Body {
  let iterator: AnyIterator | undefined;
  let finished = false;
  let replacement: Uint8Array[] | undefined;
  let closed = false;
  const stopInner = (): void => {
    if (finished || iterator === undefined) return;
    finished = true;
    // Not awaited: an async generator suspended in an await would queue return() behind it.
    abandon(iterator.return?.());
  };
  return {
    [Symbol.asyncIterator]: () => ({
      async next(): Promise<IteratorResult<Uint8Array>> {
        if (replacement === undefined && !finished) {
          iterator ??= openBody(body);
          const step = state.timedOut() ? deadline : await Promise.race([iterator.next(), expired]);
          if (step !== deadline) {
            const result = step as IteratorResult<Uint8Array>;
            if (result.done === true) finished = true;
            else if (result.value?.byteLength > 0) state.markSent();
            return result;
          }
          stopInner();
          replacement = state.onTimeout();
        }
        const chunk = replacement?.shift();
        return chunk === undefined ? { done: true, value: undefined } : { done: false, value: chunk };
      },
      async return(): Promise<IteratorResult<Uint8Array>> {
        stopInner();
        return { done: true, value: undefined };
      },
    }),
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      state.stop();
      stopInner();
      if (state.timedOut()) abandon(body.close?.());
      else await body.close?.();
    },
  };
}
