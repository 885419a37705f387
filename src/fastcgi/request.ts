// One FastCGI request: PARAMS → environ, STDIN/DATA → inputs, the app's response → STDOUT/STDERR records → END_REQUEST.
import { LazyCancellation } from '../shared/cancellation.js';
import { RequestError } from '../shared/errors.js';
import { formatCgiHead } from '../shared/headers.js';
import { createInput, createInputQueue, parseContentLength, type InputQueue } from '../shared/input.js';
import { serveRequest } from '../shared/serve-request.js';
import type { Application, Header, ResponseSink } from '../shared/types.js';
import type { FastCgiLimits } from './limits.js';
import {
  FCGI_HEADER_LEN,
  FIXED_RECORD_SIZE,
  ParamsDecoder,
  ProtocolStatus,
  RecordType,
  Role,
  encodeHeader,
  encodeStream,
  streamSize,
  writeEndRequest,
  writeStream,
} from './protocol.js';

/** FCGI_END_REQUEST appStatus of a complete response (§6.2: what a CGI program would `exit()` with). */
export const APP_STATUS_OK = 0;
/** FCGI_END_REQUEST appStatus of a response that was cut off, aborted or never produced. */
export const APP_STATUS_FAILED = 1;

/** `tsgi.fastcgi.role` in the environ: the FastCGI role of the request, in lower case. */
export type RoleName = 'responder' | 'authorizer' | 'filter';

const ROLE_NAMES: Readonly<Record<number, RoleName>> = {
  [Role.Responder]: 'responder',
  [Role.Authorizer]: 'authorizer',
  [Role.Filter]: 'filter',
};

/** What a request needs from its connection: the app, the socket's write side and flow control, bookkeeping. */
export interface RequestHost {
  readonly app: Application;
  readonly limits: FastCgiLimits;
  readonly multiprocess: boolean;
  /** Writes bytes to the socket (dropped once it is closed). */
  write(bytes: Uint8Array): void;
  /** Calls `request.flushPending()` once this turn's other work is done (one tick per connection, not per request). */
  flushSoon(request: FastCgiRequest): void;
  /** True while the socket's write buffer is over its high-water mark. */
  readonly needDrain: boolean;
  /** Bytes waiting in the socket's write buffer. */
  readonly writableLength: number;
  /** Resolves when the socket drained or closed. */
  drained(): Promise<void>;
  pauseReading(): void;
  resumeReading(): void;
  /** END_REQUEST was written or the request was dropped: the id is free again. */
  requestEnded(request: FastCgiRequest): void;
  /** The application finished and the id is free: the request is gone. */
  requestSettled(request: FastCgiRequest): void;
  log(line: string): void;
}

/**
 * The state of one request id: it collects FCGI_PARAMS, starts the application at the empty PARAMS record, feeds
 * STDIN (and DATA for the Filter role) to bounded input queues, and is the application's ResponseSink. Once it
 * has ended (END_REQUEST written, or the request aborted) it writes nothing more, whatever the app still does.
 */
export class FastCgiRequest implements ResponseSink {
  readonly id: number;
  readonly role: Role;
  readonly keepConn: boolean;
  /** True while the request holds a slot of the listener-wide gate (released at END_REQUEST). */
  holdsGate = false;
  /** `Date.now()` at FCGI_BEGIN_REQUEST, for the params deadline, the request timeout and the slow log. */
  readonly beganAt: number;
  /** Set once the slow log has a line for this request. */
  slowLogged = false;
  /** The request's FCGI_PARAMS once complete (the slow log and the status page name the request by them). */
  vars: Readonly<Record<string, string>> | undefined;
  // True once STDOUT bytes went to the socket: a timeout can then only cut the response off, not answer 504.
  private flushedOutput = false;
  private readonly host: RequestHost;
  private params: ParamsDecoder | undefined;
  // tsgi.signal is created only when read (an AbortSignal costs ~3 µs on Node 20); the driver watches this.
  private readonly cancellation = new LazyCancellation();
  private readonly stdin: InputQueue;
  private readonly data: InputQueue | undefined;
  private stdinDone = false;
  private dataDone = false;
  private running = false;
  private ended = false;
  private stderrUsed = false;
  private stdoutUsed = false;
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private flushScheduled = false;

  constructor(host: RequestHost, id: number, role: Role, keepConn: boolean) {
    this.host = host;
    this.id = id;
    this.role = role;
    this.keepConn = keepConn;
    this.beganAt = Date.now();
    this.params = new ParamsDecoder(host.limits.maxParamsBytes);
    this.stdin = this.createQueue();
    this.data = role === Role.Filter ? this.createQueue() : undefined;
  }

  /** True until the empty FCGI_PARAMS record arrived. */
  get awaitingParams(): boolean {
    return this.params !== undefined;
  }

  /** True once END_REQUEST was written or the request was dropped: nothing more is written for it. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** One FCGI_PARAMS record; the empty one starts the application. Throws ProtocolError past the limit. */
  onParams(content: Uint8Array): void {
    const params = this.params;
    if (params === undefined) return; // PARAMS after the stream ended: ignored, like a second empty record.
    if (content.length > 0) return params.push(content);
    this.params = undefined;
    this.start(params.finish());
  }

  /** One FCGI_STDIN record; the empty one ends the body (a second one is ignored: erlyaws/yaws#283). */
  onStdin(content: Uint8Array): void {
    if (this.stdinDone) return;
    if (content.length > 0) return this.stdin.push(content);
    this.stdinDone = true;
    this.stdin.end();
  }

  /** One FCGI_DATA record (Filter role only; ignored for the others, which have no DATA stream). */
  onData(content: Uint8Array): void {
    if (this.data === undefined || this.dataDone) return;
    if (content.length > 0) return this.data.push(content);
    this.dataDone = true;
    this.data.end();
  }

  /**
   * Cancels the request: `tsgi.signal` aborts, the inputs fail, and unless `sendEnd` is false (the socket is
   * gone) END_REQUEST goes out now (§5.4: "as soon as possible"). The app winds down on its own; its writes are
   * dropped.
   */
  abort(reason: string, sendEnd: boolean): void {
    const error = new RequestError(
      'ERR_REQUEST_ABORTED',
      `tsgi fastcgi: request ${this.id} aborted (${reason})`,
    );
    this.cancellation.abort(error);
    this.stdin.fail(error);
    this.data?.fail(error);
    if (this.ended) return;
    if (sendEnd) this.writeEnd(APP_STATUS_FAILED);
    else this.markEnded();
    if (!this.running) this.host.requestSettled(this);
  }

  /** `METHOD URI` for log lines (the URI as the web server sent it, else SCRIPT_NAME + PATH_INFO). */
  describe(): string {
    const vars = this.vars ?? {};
    const uri = vars.REQUEST_URI ?? `${vars.SCRIPT_NAME ?? ''}${vars.PATH_INFO ?? ''}`;
    return `${vars.REQUEST_METHOD ?? '-'} ${uri}`;
  }

  /**
   * The request ran past --request-timeout (FPM request_terminate_timeout): its signal aborts and the client
   * gets a 504 when no byte of the response has left yet, else the response is cut off (non-zero appStatus).
   */
  timeOut(timeoutMs: number): void {
    if (this.ended) return;
    if (this.flushedOutput) return this.abort(`request timeout after ${timeoutMs} ms`, true);
    const error = new RequestError(
      'ERR_REQUEST_TIMEOUT',
      `tsgi fastcgi: request ${this.id} timed out after ${timeoutMs} ms`,
    );
    this.cancellation.abort(error);
    this.stdin.fail(error);
    this.data?.fail(error);
    this.pending.length = 0;
    this.pendingBytes = 0;
    const body = Buffer.from('Gateway Timeout\n');
    this.sendHead('504 Gateway Timeout', [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(body.length)],
    ]);
    this.pending.push(body);
    this.pendingBytes += body.length;
    this.writeEnd(APP_STATUS_FAILED);
    if (!this.running) this.host.requestSettled(this);
  }

  private createQueue(): InputQueue {
    let paused = false;
    return createInputQueue({
      highWaterMark: this.host.limits.maxStdinBufferBytes,
      onPause: () => {
        if (paused) return;
        paused = true;
        this.host.pauseReading();
      },
      onResume: () => {
        if (!paused) return;
        paused = false;
        this.host.resumeReading();
      },
    });
  }

  private start(vars: Record<string, string>): void {
    this.vars = vars;
    this.running = true;
    void serveRequest(this.host.app, {
      variables: vars,
      body: this.stdin.source,
      errors: { write: (text) => this.writeStderr(text) },
      sink: this,
      environ: {
        multithread: false,
        multiprocess: this.host.multiprocess,
        signal: this.cancellation.signal,
        // STDIN always ends with its empty record, so a body without CONTENT_LENGTH (a chunked upload with nginx
        // fastcgi_request_buffering off) reads to that end: input_terminated (php/php-src#7509).
        inputTerminated: true,
        extra: {
          'tsgi.fastcgi.role': ROLE_NAMES[this.role],
          'tsgi.fastcgi.request_id': this.id,
          'tsgi.fastcgi.keep_conn': this.keepConn,
        },
      },
      extra: this.data === undefined ? undefined : (vars) => this.dataInput(vars),
      cancellation: this.cancellation,
    }).then(() => {
      this.running = false;
      if (!this.ended) this.end(false);
      this.releaseInputs();
      this.host.requestSettled(this);
    });
  }

  // §6.4 (Filter role): FCGI_DATA_LENGTH is the file's size; the data input ends there like the body at
  // CONTENT_LENGTH (a bad one refuses the request as a bad CONTENT_LENGTH does).
  private dataInput(vars: Readonly<Record<string, string | undefined>>): Record<string, unknown> {
    return {
      'tsgi.fastcgi.data': createInput(this.data?.source, {
        contentLength: parseContentLength(vars.FCGI_DATA_LENGTH),
        inputTerminated: true,
      }),
    };
  }

  // The response is over: body bytes nobody read are dropped (resuming a paused socket), and a late reader
  // gets an error. Skipped when the inputs were read to their end, the common case (an Error costs a stack).
  private releaseInputs(): void {
    const stdinOpen = !this.stdinDone || this.stdin.buffered > 0;
    const dataOpen = this.data !== undefined && (!this.dataDone || this.data.buffered > 0);
    if (!stdinOpen && !dataOpen) return;
    // Created only if the app reads again: a response sent before STDIN's empty record (an app that does not
    // read its body, answered at once) is common, and an Error's stack would cost more than the request.
    let error: RequestError | undefined;
    const ended = (): RequestError =>
      (error ??= new RequestError('ERR_REQUEST_ENDED', `tsgi fastcgi: request ${this.id} has ended`));
    if (stdinOpen) this.stdin.fail(ended);
    if (dataOpen) this.data?.fail(ended);
  }

  /** ResponseSink: the CGI head (`Status:` + headers) is queued and goes out with the first body bytes. */
  sendHead(status: string, headers: readonly Header[]): void {
    if (this.ended) return;
    const head = formatCgiHead(status, headers);
    this.stdoutUsed = true;
    this.pending.push(head);
    this.pendingBytes += head.length;
  }

  /**
   * ResponseSink: small chunks are coalesced until this turn's microtasks are done (or a full record), so a
   * body of many small pieces costs few records and one socket write. Resolves after a drain when the socket's
   * buffer is full, which stops the driver from pulling more from the app (a client that never reads).
   */
  write(chunk: Uint8Array): void | Promise<void> {
    if (this.ended || chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.host.limits.maxRecordContent) this.flush();
    else if (!this.flushScheduled) {
      // Later in this turn: a body produced without real waits is coalesced, and no immediate is queued (a
      // pending setImmediate makes libuv poll without blocking: one extra epoll per request). The connection's
      // one tick does it, and none when the response ends first (a whole body: sendHead, write, end).
      this.flushScheduled = true;
      this.host.flushSoon(this);
    }
    if (this.host.needDrain) return this.host.drained();
  }

  /** ResponseSink: the rest of STDOUT, its empty record, STDERR's end if it was used, and END_REQUEST, in one write. */
  end(ok: boolean): void {
    if (this.ended) return;
    this.writeEnd(ok ? APP_STATUS_OK : APP_STATUS_FAILED);
  }

  /** The small writes coalesced since `flushSoon` go out now (nothing once the request has ended). */
  flushPending(): void {
    if (!this.flushScheduled) return;
    this.flushScheduled = false;
    this.flush();
  }

  /** True while a flush asked for with `flushSoon` has not happened and the request has not ended. */
  get wantsFlush(): boolean {
    return this.flushScheduled && !this.ended;
  }

  private flush(): void {
    if (this.pendingBytes === 0 || this.ended) return;
    const max = this.host.limits.maxRecordContent;
    const out = Buffer.allocUnsafe(streamSize(this.pendingBytes, max));
    writeStream(out, 0, RecordType.Stdout, this.id, this.pending, this.pendingBytes, max);
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.flushedOutput = true;
    this.host.write(out);
  }

  private writeEnd(appStatus: number): void {
    const max = this.host.limits.maxRecordContent;
    // A request aborted before any output gets END_REQUEST alone; otherwise STDOUT is ended first (§3.3).
    const stdoutEnd = this.stdoutUsed ? FCGI_HEADER_LEN : 0;
    const stderrEnd = this.stderrUsed ? FCGI_HEADER_LEN : 0;
    const size = streamSize(this.pendingBytes, max) + stdoutEnd + stderrEnd + FIXED_RECORD_SIZE;
    const out = Buffer.allocUnsafe(size);
    let at = writeStream(out, 0, RecordType.Stdout, this.id, this.pending, this.pendingBytes, max);
    if (this.stdoutUsed) at = encodeHeader(out, at, RecordType.Stdout, this.id, 0, 0);
    if (this.stderrUsed) at = encodeHeader(out, at, RecordType.Stderr, this.id, 0, 0);
    writeEndRequest(out, at, this.id, appStatus, ProtocolStatus.RequestComplete);
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.host.write(out);
    this.markEnded();
  }

  private markEnded(): void {
    this.ended = true;
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.host.requestEnded(this);
  }

  // tsgi.errors → FCGI_STDERR records, written at once (web servers log them). Bounded: past the backlog limit
  // (a peer that does not read) diagnostics are dropped rather than buffered without end.
  private writeStderr(text: string | Uint8Array): void {
    if (this.ended) return;
    const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    if (bytes.length === 0) return;
    if (this.host.writableLength > this.host.limits.maxStderrBacklogBytes) return;
    this.stderrUsed = true;
    this.host.write(
      encodeStream(RecordType.Stderr, this.id, bytes, this.host.limits.maxRecordContent, false),
    );
  }
}
