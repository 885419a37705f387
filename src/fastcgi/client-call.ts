// One request made by the FastCGI client: its STDOUT/STDERR streams, END_REQUEST, and the parsed CGI response.
import { CgiHeadParser } from '../shared/cgi-head.js';
import type { EndRequestBody } from './protocol.js';

/** A response as `tsgi call` and the tests see it: the CGI head parsed out of STDOUT, plus the raw streams. */
export interface FastCgiResponse {
  /** From the `Status:` line; 200 when there is none (RFC 3875 §6.3.3), 302 for a bare `Location`. */
  statusCode: number;
  /** `"200 OK"`: the whole status line value. */
  status: string;
  /** Response headers in order, `Status` left out. */
  headers: [string, string][];
  /** STDOUT after the head. */
  body: Buffer;
  /** All of STDOUT, head included. */
  stdout: Buffer;
  /** All of STDERR. */
  stderr: Buffer;
  appStatus: number;
  protocolStatus: number;
}

/** A CGI response head split from its body. */
export interface CgiResponse {
  statusCode: number;
  status: string;
  headers: [string, string][];
  body: Buffer;
}

/**
 * Splits a CGI response (RFC 3875 §6) into status, headers (all of them, as sent) and body, by the rule of
 * src/shared/cgi-head.ts. Lines may end in CRLF or LF. Throws when no blank line ends the head or the head is
 * not a valid one.
 */
export function parseCgiResponse(stdout: Uint8Array): CgiResponse {
  const bytes = Buffer.isBuffer(stdout)
    ? stdout
    : Buffer.from(stdout.buffer, stdout.byteOffset, stdout.length);
  let head;
  try {
    // The whole output is in hand already: no size limit to protect.
    head = new CgiHeadParser(Infinity).push(bytes);
  } catch (error) {
    throw new Error(`tsgi fastcgi client: ${(error as Error).message}`);
  }
  if (head === undefined)
    throw new Error('tsgi fastcgi client: the response has no blank line after its head');
  const body = head.rest as Buffer;
  return { statusCode: head.statusCode, status: head.status, headers: head.headers, body };
}

/** A byte stream the client fills from records and the caller reads; it pauses the socket when it gets full. */
export class ByteChannel implements AsyncIterable<Uint8Array> {
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private paused = false;
  private readonly highWaterMark: number;
  private readonly onPause: () => void;
  private readonly onResume: () => void;

  constructor(highWaterMark: number, onPause: () => void, onResume: () => void) {
    this.highWaterMark = highWaterMark;
    this.onPause = onPause;
    this.onResume = onResume;
  }

  push(chunk: Uint8Array): void {
    if (this.done || chunk.length === 0) return;
    // Records may be views into a socket chunk; keeping them is fine (Node never reuses read buffers).
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (!this.paused && this.buffered > this.highWaterMark) {
      this.paused = true;
      this.onPause();
    }
    this.notify();
  }

  end(error?: Error): void {
    if (this.done) return;
    this.done = true;
    this.failure = error;
    this.notify();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    try {
      while (true) {
        const chunk = this.chunks.shift();
        if (chunk !== undefined) {
          this.buffered -= chunk.length;
          this.resumeIfLow();
          yield chunk;
          continue;
        }
        if (this.done) {
          if (this.failure) throw this.failure;
          return;
        }
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
    } finally {
      // A reader that stops early must not leave the socket paused.
      this.chunks.length = 0;
      this.buffered = 0;
      this.resumeIfLow();
    }
  }

  /** Everything that is left, once the stream has ended. */
  async collect(): Promise<Buffer> {
    const parts: Uint8Array[] = [];
    for await (const chunk of this) parts.push(chunk);
    return Buffer.concat(parts);
  }

  private resumeIfLow(): void {
    if (this.paused && this.buffered <= this.highWaterMark) {
      this.paused = false;
      this.onResume();
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** One request in flight on a FastCgiClient. */
export class FastCgiCall {
  readonly requestId: number;
  /** FCGI_STDOUT as it arrives. Read it (or call `response()`): unread output pauses the connection. */
  readonly stdout: ByteChannel;
  /** FCGI_STDERR as it arrives. */
  readonly stderr: ByteChannel;
  /** Resolves with FCGI_END_REQUEST's body; rejects when the connection closes first. */
  readonly ended: Promise<EndRequestBody>;
  private settle!: (body: EndRequestBody) => void;
  private reject!: (error: Error) => void;
  private readonly sendAbort: () => void;
  private finished = false;

  constructor(requestId: number, stdout: ByteChannel, stderr: ByteChannel, sendAbort: () => void) {
    this.requestId = requestId;
    this.stdout = stdout;
    this.stderr = stderr;
    this.sendAbort = sendAbort;
    this.ended = new Promise<EndRequestBody>((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
    // Callers that only read stdout must not get an unhandled rejection when the connection drops.
    this.ended.catch(() => undefined);
  }

  /** True once END_REQUEST arrived or the connection closed. */
  get isFinished(): boolean {
    return this.finished;
  }

  /** Sends FCGI_ABORT_REQUEST for this request (§5.4); `ended` still waits for the application's END_REQUEST. */
  abort(): void {
    if (!this.finished) this.sendAbort();
  }

  /** Reads both streams to their end and parses STDOUT's CGI head. */
  async response(): Promise<FastCgiResponse> {
    const [stdout, stderr, end] = await Promise.all([
      this.stdout.collect(),
      this.stderr.collect(),
      this.ended,
    ]);
    const parsed = stdout.length === 0 ? undefined : parseCgiResponse(stdout);
    return {
      statusCode: parsed?.statusCode ?? 0,
      status: parsed?.status ?? '',
      headers: parsed?.headers ?? [],
      body: parsed?.body ?? stdout,
      stdout,
      stderr,
      appStatus: end.appStatus,
      protocolStatus: end.protocolStatus,
    };
  }

  /** @internal END_REQUEST arrived. */
  finish(body: EndRequestBody): void {
    if (this.finished) return;
    this.finished = true;
    this.stdout.end();
    this.stderr.end();
    this.settle(body);
  }

  /** @internal The connection closed before END_REQUEST. */
  fail(error: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.stdout.end(error);
    this.stderr.end(error);
    this.reject(error);
  }
}
