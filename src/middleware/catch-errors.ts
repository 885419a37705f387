// catchErrors(app): the error catcher as an application (wsgiref's error_output, Rack's ShowExceptions).
import { inspect } from 'node:util';
import type { Application, Body, Environ, StartResponse, Write } from '../shared/types.js';
import { isClientGoneError } from '../shared/client-gone.js';
import { wrapBody } from './_wrap-body.js';

/** Options of {@link catchErrors}. */
export interface CatchErrorsOptions {
  /**
   * Put the error and its stack in the 500 page. DEVELOPMENT ONLY: never turn this on in production — it shows
   * file paths, code and sometimes secrets to whoever sent the request (wsgiref's error_output warns the same).
   */
  readonly debug?: boolean;
  /** With `debug`: the page is HTML (the message, then the stack without Node's and tsgi's own frames). */
  readonly html?: boolean;
}

const STATUS = '500 Internal Server Error';
const PLAIN = 'A server error occurred. The details are in the server error log.\n';
/** True when the error only says that the client went away: not the application's fault, nothing to log. */
export function isClientGone(error: unknown, environ: Environ): boolean {
  return environ['tsgi.signal']?.aborted === true || isClientGoneError(error);
}

/**
 * Wraps an application so that an error it throws — from the call, from `startResponse`, or from its body —
 * becomes a short `text/plain` 500 while no body byte has been sent, with the error and stack written to
 * `tsgi.errors`. After the first body byte the head is on the wire: the error is re-thrown, unlogged, so that
 * the server cuts the response off and logs it once. Errors that only mean the client went away (`tsgi.signal`
 * aborted, EPIPE, ECONNRESET) are re-thrown without a log line or a page.
 *
 * The body's `close()` is still called, exactly once, when the error page replaces it.
 */
export function catchErrors(app: Application, options: CatchErrorsOptions = {}): Application {
  const debug = options.debug === true;
  return async function caught(environ: Environ, startResponse: StartResponse): Promise<Body> {
    // Once a body byte went out the server may have sent the head: replacing it is no longer possible.
    let bodySent = false;
    const start: StartResponse = (status, headers, ...excInfo: unknown[]): Write => {
      const write = startResponse(status, headers, ...excInfo);
      return (chunk) => {
        if (chunk.length > 0) bodySent = true;
        return write(chunk);
      };
    };

    function errorPage(error: unknown): Uint8Array {
      if (bodySent || isClientGone(error, environ)) throw error;
      const where = `${environ.REQUEST_METHOD} ${environ.SCRIPT_NAME}${environ.PATH_INFO}`;
      environ['tsgi.errors'].write(`tsgi: error in application (${where}): ${inspect(error)}\n`);
      const html = debug && options.html === true;
      const page = new TextEncoder().encode(
        html ? debugPage(error, where) : debug ? `${STATUS}\n\n${inspect(error)}\n` : PLAIN,
      );
      // excInfo lets the application's earlier startResponse be replaced (PEP 3333); a server that already sent
      // the head re-throws it, which is what we want to propagate then.
      const excInfo = error ?? new Error(`the application threw ${String(error)}`);
      const headers = [
        ['Content-Type', html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8'],
        ['Content-Length', String(page.length)],
      ] as const;
      startResponse(STATUS, headers, excInfo);
      return page;
    }

    let body: Body;
    try {
      body = await app(environ, start);
    } catch (error) {
      return [errorPage(error)];
    }
    // Not a body at all: the server (or validate()) refuses it with its own, precise message.
    if (!isIterable(body)) return body;
    // The body passed through; an error from it becomes the error page, or is re-thrown (errorPage throws).
    return wrapBody(body, {
      chunk(chunk) {
        if (chunk?.length > 0) bodySent = true;
        return chunk;
      },
      recover: (error) => [errorPage(error)],
    });
  };
}

function isIterable(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || body instanceof Uint8Array) return false;
  const candidate = body as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown };
  return (
    typeof candidate[Symbol.asyncIterator] === 'function' || typeof candidate[Symbol.iterator] === 'function'
  );
}
const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

// Frames of Node's internals and of tsgi itself say nothing about the application's bug (issue 11).
const OWN_FRAME =
  /\(node:|at (async )?node:|\/tsgi\/dist\/|\/dist\/(_chunks|cli|http|middleware|adapters)\/|\/src\/(shared|http|middleware|adapters)\//;

/** The development error page: the error's first line as the title, then its stack, the app's frames only. */
function debugPage(error: unknown, where: string): string {
  const stack = error instanceof Error ? (error.stack ?? String(error)) : inspect(error);
  const [first = '', ...frames] = stack.split('\n');
  const kept = frames.filter((line) => !OWN_FRAME.test(line));
  const hidden = frames.length - kept.length;
  const note = hidden > 0 ? `\n    (${hidden} frames of Node and tsgi left out)` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>500: ${escapeHtml(first)}</title></head>
<body>
<h1>500 Internal Server Error</h1>
<p>${escapeHtml(where)} (development server only: tsgi serve; never shown under CGI or FastCGI)</p>
<pre>${escapeHtml(first)}\n${escapeHtml(kept.join('\n'))}${note}</pre>
</body>
</html>
`;
}
