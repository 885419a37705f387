// One FastCGI transport connection: records in, requests started/aborted/rejected, management answered, limits kept.
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProtocolError } from '../shared/errors.js';
import type { Application } from '../shared/types.js';
import {
  ALL_ROLES,
  answerGetValues,
  resolveManagementValues,
  type ConnectionOptions,
  type ManagementValues,
  type RequestCounters,
  type RequestGate,
} from './connection-options.js';
import { ConnectionWriter } from './connection-writer.js';
import { resolveLimits, type FastCgiLimits } from './limits.js';
import {
  FCGI_NULL_REQUEST_ID,
  Flags,
  ProtocolStatus,
  RecordParser,
  RecordType,
  Role,
  decodeBeginRequest,
  encodeEndRequest,
  encodeUnknownType,
} from './protocol.js';
import type { RefusalLog } from './refusals.js';
import { FastCgiRequest, type RequestHost } from './request.js';
import { RequestDeadlines } from './request-deadlines.js';
import { isClientGoneError } from '../shared/client-gone.js';
import { logToStderr } from '../shared/default-log.js';

/** Events: `'idle'` when the last active request settles, `'close'` once when the socket is gone. */
export interface FastCgiConnectionEvents {
  idle: [];
  close: [];
}

/** How long a closing connection waits for the peer to read the last records and close its side. */
export const CLOSE_LINGER_MS = 5000;

/**
 * Serves FastCGI 1.0 on one socket: parses records, runs `app` per request, answers management records, and
 * closes this connection alone (one log line) on bad bytes, an oversized params stream or a stalled peer.
 */
export class FastCgiConnection extends EventEmitter<FastCgiConnectionEvents> implements RequestHost {
  readonly app: Application;
  readonly limits: FastCgiLimits;
  readonly multiprocess: boolean;
  private readonly socket: Duplex;
  private readonly multiplex: boolean;
  private readonly roles: readonly Role[];
  private readonly values: ManagementValues;
  private readonly gate: RequestGate | undefined;
  private readonly logLine: (line: string) => void;
  private readonly parser: RecordParser;
  private readonly byId = new Map<number, FastCgiRequest>();
  private readonly live = new Set<FastCgiRequest>();
  private readPausers = 0;
  private waitingDrain = false;
  private readonly writer: ConnectionWriter;
  private draining = false;
  private stopping = false;
  private closing = false;
  private closed = false;
  private closingAt = 0;
  // When the connection last had no request: the idle and first-request deadlines count from here, and bytes
  // that are not a complete request do not move it (issue 10: one byte every 2 s kept a connection forever).
  private readonly openedAt = Date.now();
  private idleSince = this.openedAt;
  private begunAny = false;
  private firstRequest: FastCgiRequest | undefined;
  private readonly deadlines: RequestDeadlines;
  private readonly counters: RequestCounters;
  private readonly refusals: RefusalLog | undefined;
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(socket: Duplex | Socket, app: Application, options: ConnectionOptions = {}) {
    super();
    this.socket = socket;
    this.app = app;
    this.limits = resolveLimits(options.limits);
    this.multiplex = options.multiplex ?? true;
    this.multiprocess = options.multiprocess ?? false;
    this.roles = options.roles ?? ALL_ROLES;
    this.values = resolveManagementValues(options.values, this.multiplex, this.limits);
    this.gate = options.gate;
    this.logLine = options.log ?? logToStderr;
    const counters = options.counters ?? { accepted: 0, slow: 0 };
    this.counters = counters;
    this.deadlines = new RequestDeadlines(
      this.limits,
      options.requestTimeoutMs ?? 0,
      options.slowRequestMs ?? 0,
      counters,
      this.logLine,
    );
    this.refusals = options.refusals;
    this.parser = new RecordParser(this.onRecord);
    this.writer = new ConnectionWriter(socket, () => this.closing || this.closed);
    // Small records answer small requests: Nagle + delayed ACK would add 40 ms to each (PHP-FPM sets it too).
    (socket as Partial<Socket>).setNoDelay?.(true);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('end', this.onEnd);
    // One coarse timer per connection checks every deadline, instead of a timer armed per request.
    this.watchdog = setInterval(this.checkDeadlines, this.deadlines.period);
    this.watchdog.unref();
  }

  /** Requests begun and not yet settled (their application still running or their id still active). */
  get activeRequests(): number {
    return this.live.size;
  }

  /** The requests begun on this connection and not yet settled. */
  requests(): Iterable<FastCgiRequest> {
    return this.live;
  }

  /** True once the socket is closed. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Graceful stop: keep serving what is in flight, close the connection as soon as no request is active. */
  closeWhenIdle(): void {
    this.draining = true;
    // One accepted but not begun yet has its first request on the way (a web server writes it right after the
    // connect): closing now would lose it with no retry, as a pool stops workers under load (issue 10). It ends
    // when that request does, or at the params deadline.
    if (this.live.size === 0 && this.begunAny) this.endSocket();
  }

  /** Hard stop: every active request is aborted (END_REQUEST sent) and the connection closed. */
  shutdown(reason = 'server shutting down'): void {
    this.draining = this.stopping = true;
    for (const request of [...this.live]) request.abort(reason, true);
    this.endSocket();
  }

  // RequestHost -------------------------------------------------------------------------------------------

  write(bytes: Uint8Array): void {
    this.writer.write(bytes);
  }

  flushSoon(request: FastCgiRequest): void {
    this.writer.flushSoon(request);
  }

  get needDrain(): boolean {
    return this.writer.needDrain;
  }

  get writableLength(): number {
    return this.writer.writableLength;
  }

  drained(): Promise<void> {
    return this.writer.drained(this.closed);
  }

  pauseReading(): void {
    if (this.readPausers++ === 0) this.socket.pause();
  }

  resumeReading(): void {
    if (--this.readPausers === 0 && !this.closed) this.socket.resume();
  }

  requestEnded(request: FastCgiRequest): void {
    if (this.byId.get(request.id) === request) this.byId.delete(request.id);
    if (request.holdsGate) {
      request.holdsGate = false;
      this.gate?.release();
    }
    // §5.1: without FCGI_KEEP_CONN the application closes the connection after this request.
    if (!request.keepConn && !this.closing && !this.stopping) this.endSocket();
  }

  requestSettled(request: FastCgiRequest): void {
    if (!this.live.delete(request)) return;
    if (this.live.size === 0) this.idleSince = Date.now();
    if (this.live.size > 0) return;
    this.emit('idle');
    if (this.draining) this.endSocket();
  }

  log(line: string): void {
    this.logLine(line);
  }

  // Socket events ----------------------------------------------------------------------------------------

  private readonly onData = (chunk: Buffer): void => {
    this.writer.inChunk(chunk, this.parse);
    // Replies queued faster than the peer reads them: stop reading until they drain (bounded memory).
    if (!this.waitingDrain && !this.closing && this.socket.writableNeedDrain) {
      this.waitingDrain = true;
      this.pauseReading();
      void this.drained().then(() => {
        this.waitingDrain = false;
        this.resumeReading();
      });
    }
  };

  // Never throws: whatever a record does wrong closes this connection only, with one log line.
  private readonly parse = (chunk: Buffer): void => {
    try {
      this.parser.push(chunk);
    } catch (error) {
      this.fail(error);
    }
  };

  private readonly onError = (error: Error & { code?: string }): void => {
    // A peer that went away ends the connection quietly.
    if (!isClientGoneError(error)) this.log(`tsgi fastcgi: connection error: ${error.message}`);
  };

  // The web server closed the connection (its FIN; nginx does this when its client goes away): §3.3 and §5.4,
  // closing the transport aborts every request on it. Nothing more is written; the socket is ended.
  private readonly onEnd = (): void => {
    this.draining = true;
    this.endSocket();
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.parser.stop();
    clearInterval(this.watchdog);
    for (const request of [...this.live]) request.abort('connection closed', false);
    this.byId.clear();
    this.emit('close');
  };

  private readonly checkDeadlines = (): void => {
    const now = Date.now();
    if (this.closing) {
      if (now - this.closingAt >= CLOSE_LINGER_MS) this.socket.destroy();
      return;
    }
    if (this.live.size === 0) {
      const verdict = this.deadlines.checkIdle(now, this.idleSince, this.begunAny);
      if (verdict === 'end') this.endSocket();
      else if (verdict !== undefined) this.fail(verdict);
      return;
    }
    const late = this.deadlines.checkRequests(this.live, now, this.firstRequest, this.openedAt);
    if (late !== undefined) this.fail(late);
  };

  // Records ----------------------------------------------------------------------------------------------

  // One case per record type (spec §8); records for ids that are not active are ignored (§3.3).
  private readonly onRecord = (type: number, id: number, content: Uint8Array): void => {
    switch (type) {
      case RecordType.BeginRequest:
        return this.beginRequest(id, content);
      case RecordType.AbortRequest:
        return this.byId.get(id)?.abort('FCGI_ABORT_REQUEST', true);
      case RecordType.Params:
        return this.onParams(id, content);
      case RecordType.Stdin:
        return this.byId.get(id)?.onStdin(content);
      case RecordType.Data:
        return this.byId.get(id)?.onData(content);
      case RecordType.GetValues:
        return this.getValues(id, content);
      // Types only an application sends, and types from a later revision: "not understood" (§4.2).
      case RecordType.EndRequest:
      case RecordType.Stdout:
      case RecordType.Stderr:
      case RecordType.GetValuesResult:
      case RecordType.UnknownType:
      default:
        return this.write(encodeUnknownType(type));
    }
  };

  private beginRequest(id: number, content: Uint8Array): void {
    if (id === FCGI_NULL_REQUEST_ID) {
      throw new ProtocolError(
        'ERR_FCGI_NULL_ID',
        'tsgi fastcgi: FCGI_BEGIN_REQUEST with the null request id 0',
      );
    }
    if (this.byId.has(id)) {
      throw new ProtocolError(
        'ERR_FCGI_DUPLICATE_ID',
        `tsgi fastcgi: FCGI_BEGIN_REQUEST for request ${id}, which is active`,
      );
    }
    const { role, flags } = decodeBeginRequest(content);
    if (!this.roles.includes(role as Role)) return this.reject(id, ProtocolStatus.UnknownRole, flags);
    if (!this.multiplex && this.byId.size > 0) return this.reject(id, ProtocolStatus.CantMpxConn, flags);
    if (this.byId.size >= this.limits.maxRequestsPerConnection)
      return this.reject(id, ProtocolStatus.Overloaded, flags);
    const request = new FastCgiRequest(this, id, role as Role, (flags & Flags.KeepConn) !== 0);
    this.firstRequest ??= request;
    this.begunAny = true;
    this.byId.set(id, request);
    this.live.add(request);
  }

  // The listener-wide slot is taken when the params are complete, not at BEGIN_REQUEST: half-open requests
  // (BEGIN_REQUEST and no more) must not hold every slot until their params deadline (issue 10).
  private onParams(id: number, content: Uint8Array): void {
    const request = this.byId.get(id);
    if (request === undefined) return;
    if (content.length === 0 && request.awaitingParams) {
      if (this.gate !== undefined) {
        if (!this.gate.tryAcquire()) {
          this.refusals?.refuse(
            'a request',
            'the listener is at its concurrent request limit (FCGI_OVERLOADED)',
          );
          this.write(encodeEndRequest(id, 0, ProtocolStatus.Overloaded));
          request.abort('FCGI_OVERLOADED', false);
          return;
        }
        request.holdsGate = true;
      }
      this.counters.accepted++;
    }
    request.onParams(content);
  }

  // A request the application does not take: END_REQUEST with the reason; the id never becomes active (§5.5).
  private reject(id: number, status: ProtocolStatus, flags: number): void {
    this.write(encodeEndRequest(id, 0, status));
    if ((flags & Flags.KeepConn) === 0 && this.byId.size === 0) this.endSocket();
  }

  // §4.1: management records carry the null id; a GET_VALUES for a request id is not one (ignored).
  private getValues(id: number, content: Uint8Array): void {
    if (id !== FCGI_NULL_REQUEST_ID) return;
    this.write(answerGetValues(content, this.values, this.multiplex));
  }

  // Closing ----------------------------------------------------------------------------------------------

  // A ProtocolError (or a bug) closes this connection only: one log line, every request on it aborted.
  private fail(error: unknown): void {
    if (this.closed) return;
    const message = error instanceof Error ? error.message : String(error);
    const peer = (this.socket as Partial<Socket>).remoteAddress;
    this.log(`${message}; closing the connection${peer ? ` from ${peer}` : ''}`);
    this.parser.stop();
    this.closing = true;
    this.socket.destroy();
  }

  private endSocket(): void {
    if (this.closing) return;
    this.writer.writeBatch(); // the last END_REQUEST of a chunk, before the FIN
    this.closing = true;
    this.parser.stop();
    this.closingAt = Date.now();
    for (const request of [...this.live]) if (!request.isEnded) request.abort('connection closing', false);
    // end() flushes what is queued and sends FIN; the peer's FIN (or the linger deadline) then frees the socket.
    // Destroying at once could reset the connection before the peer has read the last END_REQUEST.
    this.socket.end();
  }
}

/** Serves FastCGI on `socket` with `app`; shorthand for `new FastCgiConnection(socket, app, options)`. */
export function serveConnection(
  socket: Duplex | Socket,
  app: Application,
  options?: ConnectionOptions,
): FastCgiConnection {
  return new FastCgiConnection(socket, app, options);
}
