// The validator's startResponse and write wrappers, and the per-response state the body checks share.
import type { ErrorStream, Header, StartResponse, Write } from '../../shared/types.js';
import { isBodilessStatus } from '../../shared/constants.js';
import { checkStartResponse, type Head } from './head.js';
import { isThenable } from '../../shared/thenable.js';
import { fail, show, warn } from './report.js';

/** What the validator knows about one response while it is being produced. */
export interface ResponseState {
  /** The server's own `tsgi.errors` (warnings go there, not through the application's wrapper). */
  readonly errors: ErrorStream;
  readonly method: string;
  /** The head of the last startResponse call; undefined until the first. */
  head: Head | undefined;
  /** Body bytes produced so far, through write() and the body together. */
  bytes: number;
  /** The server was allowed to send the head (a write, a non-empty chunk, the end of the body, Content-Length 0). */
  mayHaveSentHead: boolean;
  /** The server has certainly sent the head (it took a non-empty chunk and came back for more). */
  headSent: boolean;
  /** The body ended or was closed: no more write() or startResponse. */
  ended: boolean;
  warnedContentType: boolean;
}

/** A fresh state for one request. */
export function createResponseState(errors: ErrorStream, method: string): ResponseState {
  return {
    errors,
    method,
    head: undefined,
    bytes: 0,
    mayHaveSentHead: false,
    headSent: false,
    ended: false,
    warnedContentType: false,
  };
}

/** Counts body bytes from write() or the body against the head; `where` names the source in messages. */
export function countBody(state: ResponseState, chunk: Uint8Array, where: string): void {
  const head = state.head;
  if (chunk.length === 0 || head === undefined) return;
  /// SPEC: [body.no-content] An application MUST NOT send body bytes with a 204 or 304 status (RFC 9110 §6.4.1).
  /// SPEC: (For a HEAD request it may: the server discards them.)
  if (isBodilessStatus(head.code)) {
    fail(
      'body.no-content',
      `${where} sent ${chunk.length} bytes with a ${head.code} status, which has no content`,
    );
  }
  state.bytes += chunk.length;
  /// SPEC: [body.content-length] An application that sets `Content-Length` MUST send exactly that many body bytes:
  /// SPEC: never more, and not fewer when the body ends (a HEAD response may send none).
  if (head.contentLength !== undefined && state.bytes > head.contentLength) {
    fail(
      'body.content-length',
      `${state.bytes} body bytes (the last ${chunk.length} from ${where}) exceed the Content-Length ${head.contentLength}: fix the header or the body`,
    );
  }
  if (!head.hasContentType && !state.warnedContentType) {
    state.warnedContentType = true;
    warn(
      state.errors,
      'headers.content-type',
      `a ${head.code} response with a body has no Content-Type: add one`,
    );
  }
}

/** Wraps the server's startResponse: checks the application's arguments and the server's answers. */
export function wrapStartResponse(server: StartResponse, state: ResponseState): StartResponse {
  return function startResponse(...args: unknown[]): Write {
    const head = checkStartResponse(args, state.errors);
    const excInfo = args[2];
    /// SPEC: [start.once] An application MUST call startResponse once, and again only with `excInfo` (the error it
    /// SPEC: is handling) to replace the head; never after its body has ended.
    if (state.ended)
      fail('start.once', `startResponse was called after the body ended: the response is over`);
    if (state.head !== undefined && excInfo === undefined) {
      fail(
        'start.once',
        `startResponse was already called: call it again only with excInfo, the error you handle`,
      );
    }
    let write: unknown;
    try {
      write = server(args[0] as string, args[1] as readonly Header[], ...(args.length > 2 ? [excInfo] : []));
    } catch (error) {
      /// SPEC: [start.lazy-head] The server MUST NOT send the head before the first non-empty chunk (from write()
      /// SPEC: or the body) or the end of the body; the one exception is a head with `Content-Length: 0`. Until
      /// SPEC: then, startResponse with `excInfo` MUST replace the head, not throw.
      if (excInfo !== undefined && error === excInfo && !state.mayHaveSentHead) {
        fail(
          'start.lazy-head',
          `the server re-threw excInfo although no body byte was sent yet: hold the head until the first non-empty chunk (PEP 3333)`,
        );
      }
      throw error;
    }
    /// SPEC: [start.exc-info] Once the head is sent, the server's startResponse MUST throw when called with
    /// SPEC: `excInfo`, re-throwing it: a second head cannot be sent.
    if (excInfo !== undefined && state.headSent) {
      fail(
        'start.exc-info',
        `the server accepted a new head after sending the first: it must re-throw excInfo`,
      );
    }
    /// SPEC: [start.write] The server's startResponse MUST return a `write(chunk)` function.
    if (typeof write !== 'function')
      fail('start.write', `the server's startResponse returned ${show(write)}`);
    state.head = head;
    // PEP 3333's one exception to lazy headers: with Content-Length 0 the server may send the head at once.
    if (head.contentLength === 0) state.mayHaveSentHead = true;
    return wrapWrite(write as Write, state);
  };
}

function wrapWrite(server: Write, state: ResponseState): Write {
  return function write(...args: unknown[]): Promise<void> {
    const chunk = args[0];
    /// SPEC: [write.bytes] An application MUST call write(chunk) with one `Uint8Array` (encode text first, e.g.
    /// SPEC: `new TextEncoder().encode(text)`), and SHOULD await the Promise it returns.
    if (args.length !== 1 || !(chunk instanceof Uint8Array)) {
      const fix = typeof chunk === 'string' ? ': encode it, e.g. new TextEncoder().encode(text)' : '';
      fail('write.bytes', `write() takes one Uint8Array, got ${show(chunk)}${fix}`);
    }
    /// SPEC: [write.after-end] An application MUST NOT call write() after its body has ended or been closed.
    if (state.ended) fail('write.after-end', `write() was called after the body ended: the response is over`);
    countBody(state, chunk, 'write()');
    state.mayHaveSentHead = true;
    const result: unknown = server(chunk);
    /// SPEC: [write.promise] The server's write() MUST return a Promise that resolves once the chunk is handed to
    /// SPEC: the transport: that is the application's back-pressure.
    if (!isThenable(result))
      fail('write.promise', `the server's write() returned ${show(result)}, not a Promise`);
    return Promise.resolve(result).then(() => {
      if (chunk.length > 0) state.headSent = true;
    });
  };
}
