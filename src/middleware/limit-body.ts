// limitBody(): a 413 before the application reads more request body than allowed, with or without CONTENT_LENGTH.
import { RequestError } from '../shared/errors.js';
import { parseContentLength } from '../shared/input.js';
import type { Application, Body, Environ, Input, Middleware, StartResponse, Write } from '../shared/types.js';
import { wrapBody } from './_wrap-body.js';

const STATUS = '413 Content Too Large';
const PAGE = new TextEncoder().encode('Content Too Large\n');

/**
 * The error `tsgi.input` throws when the application reads past the limit. It carries `status`/`statusCode`
 * 413 and `expose`, the http-errors convention, so a framework that catches it (Express's finalhandler, Koa,
 * Fastify) answers 413 too.
 */
export class ContentTooLargeError extends RequestError {
  readonly status = 413;
  readonly statusCode = 413;
  readonly expose = true;
  constructor(limit: number) {
    super('ERR_BODY_TOO_LARGE', `tsgi limitBody: the request body is larger than ${limit} bytes`);
  }
}

/**
 * tsgi.input that never hands over a byte past `limit`: at the limit it looks one byte ahead, and if the body
 * goes on, it throws instead. It counts what the input really yields, so a CONTENT_LENGTH that lies (or an
 * input that ignores it) changes nothing.
 */
class LimitedInput implements Input {
  readonly #inner: Input;
  readonly #limit: number;
  #seen = 0;

  constructor(inner: Input, limit: number) {
    this.#inner = inner;
    this.#limit = limit;
  }

  async read(size?: number): Promise<Uint8Array> {
    // As tsgi.input: no size (or a negative one) means the whole rest of the body.
    const all = size === undefined || size < 0;
    if (size === 0) return new Uint8Array(0);
    const allowance = this.#limit - this.#seen;
    if (allowance === 0) {
      await this.#checkEnd();
      return new Uint8Array(0);
    }
    const chunk = await this.#inner.read(all ? allowance : Math.min(size, allowance));
    this.#seen += chunk.byteLength;
    // The whole rest was asked for: make sure there is no rest beyond the limit.
    if (all && this.#seen === this.#limit) await this.#checkEnd();
    return chunk;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for await (const chunk of this.#inner) {
      if (this.#seen + chunk.byteLength > this.#limit) throw new ContentTooLargeError(this.#limit);
      this.#seen += chunk.byteLength;
      yield chunk;
    }
  }

  async #checkEnd(): Promise<void> {
    const more = await this.#inner.read(1);
    if (more.byteLength > 0) throw new ContentTooLargeError(this.#limit);
  }
}

function isTooLarge(error: unknown): boolean {
  return error instanceof ContentTooLargeError;
}

/**
 * Refuses request bodies over `maxBytes` with `413 Content Too Large` (RFC 9110 §15.5.14): at once, without
 * calling the application, when CONTENT_LENGTH says so; otherwise (no CONTENT_LENGTH, a chunked or FastCGI
 * body) when the application reads past the limit, through a `tsgi.input` that throws
 * {@link ContentTooLargeError} instead of handing over the extra bytes. The application may catch that error
 * and answer itself; if it lets it through before sending a body byte, the 413 replaces its response.
 * One line goes to `tsgi.errors` per refused request.
 *
 * @example
 * compose(limitBody(1024 * 1024))(app)
 */
export function limitBody(maxBytes: number): Middleware {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new TypeError(`tsgi limitBody: maxBytes must be a whole number of bytes, got ${String(maxBytes)}`);
  }
  return (app: Application): Application =>
    async function limited(environ: Environ, startResponse: StartResponse): Promise<Body> {
      let started = false;
      let bodySent = false;
      const refuse = (error?: unknown): Uint8Array[] => {
        const where = `${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO}`;
        environ['tsgi.errors'].write(`tsgi limitBody: 413 for ${where}: body over ${maxBytes} bytes\n`);
        const headers = [
          ['Content-Type', 'text/plain; charset=utf-8'],
          ['Content-Length', String(PAGE.byteLength)],
        ] as const;
        // excInfo replaces a head the application had started but not sent (PEP 3333).
        if (started) startResponse(STATUS, headers, error ?? new ContentTooLargeError(maxBytes));
        else startResponse(STATUS, headers);
        return [PAGE];
      };
      const declared = parseContentLength(environ.CONTENT_LENGTH);
      if (declared !== undefined && declared > maxBytes) return refuse();

      const inner: Environ = { ...environ, 'tsgi.input': new LimitedInput(environ['tsgi.input'], maxBytes) };
      const start: StartResponse = (status, headers, ...excInfo: unknown[]): Write => {
        const write = startResponse(status, headers, ...excInfo);
        started = true;
        return (chunk) => {
          if (chunk.byteLength > 0) bodySent = true;
          return write(chunk);
        };
      };
      let body: Body;
      try {
        body = await app(inner, start);
      } catch (error) {
        if (isTooLarge(error) && !bodySent) return refuse(error);
        throw error;
      }
      return wrapBody(body, {
        chunk(chunk) {
          if (chunk.byteLength > 0) bodySent = true;
          return chunk;
        },
        recover: (error) => (isTooLarge(error) && !bodySent ? refuse(error) : undefined),
      });
    };
}
