// The write side of one FastCGI connection: responses gathered per chunk and per turn into few socket writes.
import type { Duplex } from 'node:stream';
import { drainedOrClosed } from '../shared/drained.js';

/** Bytes a chunk's responses may gather before they go to the socket (the rest of the chunk still parsing). */
const BATCH_LIMIT_BYTES = 64 * 1024;

/** A request whose small writes are coalesced until the end of the turn (FastCgiRequest). */
export interface Coalescing {
  /** Sends what it coalesced (nothing once it has ended). */
  flushPending(): void;
  /** True while it has something to send and has not ended. */
  readonly wantsFlush: boolean;
}

/**
 * Writes to the socket in as few calls as the requests allow (issue 13: the socket write is most of a small
 * request's cost). Responses made while a chunk is parsed (a synchronous app, the common case) leave when the
 * chunk is done, in one write and without a tick; later ones in the same turn (multiplexed requests, async apps)
 * are corked until the turn's one tick, which also sends the requests' coalesced small writes.
 */
export class ConnectionWriter {
  private readonly socket: Duplex;
  // True once nothing may be written any more (the connection is closing or closed).
  private readonly stopped: () => boolean;
  private corked = false;
  private tickScheduled = false;
  private flushes: Coalescing[] = [];
  // Defined while a chunk is parsed: what the requests write meanwhile.
  private batch: Uint8Array[] | undefined;
  private batchBytes = 0;
  private drainPromise: Promise<void> | undefined;

  constructor(socket: Duplex, stopped: () => boolean) {
    this.socket = socket;
    this.stopped = stopped;
  }

  write(bytes: Uint8Array): void {
    if (this.stopped() || this.socket.writableEnded) return;
    const batch = this.batch;
    if (batch !== undefined) {
      batch.push(bytes);
      this.batchBytes += bytes.length;
      // Past the limit they go now, so that the socket's buffer, and with it back-pressure, sees them.
      if (this.batchBytes >= BATCH_LIMIT_BYTES) this.writeBatch();
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.scheduleTick();
    }
    this.socket.write(bytes);
  }

  /** `request.flushPending()` in this turn's tick; inside a chunk, only if the request still wants it then. */
  flushSoon(request: Coalescing): void {
    this.flushes.push(request);
    if (this.batch === undefined) this.scheduleTick();
  }

  /** Runs `parse(chunk)`, then sends what the requests wrote meanwhile. Re-entrant: a nested chunk joins. */
  inChunk(chunk: Buffer, parse: (chunk: Buffer) => void): void {
    if (this.batch !== undefined) return parse(chunk);
    this.batch = [];
    try {
      parse(chunk);
      this.writeBatch();
    } finally {
      this.batch = undefined;
    }
    if (this.flushes.length > 0) {
      // Usually the response ended within the chunk (sendHead, write, end) and needs no tick.
      if (this.flushes.some(wantsFlush)) this.scheduleTick();
      else this.flushes.length = 0;
    }
  }

  /** What the requests wrote so far in this chunk, to the socket now (before a FIN: the last END_REQUEST). */
  writeBatch(): void {
    const batch = this.batch;
    if (batch === undefined || batch.length === 0) return;
    this.batch = [];
    this.batchBytes = 0;
    if (this.stopped() || this.socket.writableEnded) return;
    if (batch.length === 1) {
      this.socket.write(batch[0]!);
      return;
    }
    this.socket.cork();
    for (const bytes of batch) this.socket.write(bytes);
    this.socket.uncork();
  }

  get needDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Resolves when the socket's buffer drained or the socket closed (`closed`: it already has). */
  drained(closed: boolean): Promise<void> {
    if (closed || !this.socket.writableNeedDrain) return Promise.resolve();
    this.drainPromise ??= drainedOrClosed(this.socket).then(() => {
      this.drainPromise = undefined;
    });
    return this.drainPromise;
  }

  private scheduleTick(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    process.nextTick(this.onTick);
  }

  // Once per turn: the requests' coalesced writes, then everything corked this turn in one writev.
  private readonly onTick = (): void => {
    const flushes = this.flushes;
    if (flushes.length > 0) {
      this.flushes = [];
      for (const request of flushes) request.flushPending();
    }
    this.tickScheduled = false;
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  };
}

const wantsFlush = (request: Coalescing): boolean => request.wantsFlush;
