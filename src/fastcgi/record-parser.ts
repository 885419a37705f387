// The incremental FastCGI record parser: bytes in at any chunk boundaries, whole records out, bounded memory.
import { ProtocolError } from '../shared/errors.js';

/** Called once per record. `content` may be a view into the pushed chunk: copy it to keep it past the call. */
export type RecordHandler = (type: number, requestId: number, content: Uint8Array) => void;

const HEADER = 0;
const CONTENT = 1;
const PADDING = 2;

const EMPTY = new Uint8Array(0);

/**
 * Push parser for the record layer (spec §3.3). It holds at most one partial record (8 + 65535 bytes), checks
 * the version byte, skips padding, and hands whole records to the handler; a record that arrives whole inside
 * one chunk is passed as a view, without copying.
 */
export class RecordParser {
  private state = HEADER;
  private readonly header = new Uint8Array(8);
  private headerFill = 0;
  private type = 0;
  private requestId = 0;
  private contentLength = 0;
  private paddingLength = 0;
  private content: Uint8Array = EMPTY;
  private contentFill = 0;
  private paddingLeft = 0;
  private stopped = false;
  private readonly onRecord: RecordHandler;

  constructor(onRecord: RecordHandler) {
    this.onRecord = onRecord;
  }

  /** True while part of a record is buffered (a connection closed now was closed mid-record). */
  get midRecord(): boolean {
    return this.state !== HEADER || this.headerFill !== 0;
  }

  /** Stops parsing: the rest of the current chunk and every later one is ignored (the connection is closing). */
  stop(): void {
    this.stopped = true;
  }

  /** Feeds bytes; throws ProtocolError on a bad version byte (and stops for good). */
  push(chunk: Uint8Array): void {
    const end = chunk.length;
    let at = 0;
    while (at < end && !this.stopped) {
      if (this.state === HEADER) {
        if (this.headerFill === 0 && end - at >= 8) {
          this.readHeader(chunk, at);
          at += 8;
        } else {
          const take = Math.min(8 - this.headerFill, end - at);
          this.header.set(chunk.subarray(at, at + take), this.headerFill);
          this.headerFill += take;
          at += take;
          if (this.headerFill < 8) return;
          this.headerFill = 0;
          this.readHeader(this.header, 0);
        }
        const length = this.contentLength;
        if (length === 0) {
          this.emit(EMPTY);
        } else if (end - at >= length) {
          this.emit(chunk.subarray(at, at + length));
          at += length;
        } else {
          this.content = new Uint8Array(length);
          this.contentFill = 0;
          this.state = CONTENT;
        }
      } else if (this.state === CONTENT) {
        const take = Math.min(this.contentLength - this.contentFill, end - at);
        this.content.set(chunk.subarray(at, at + take), this.contentFill);
        this.contentFill += take;
        at += take;
        if (this.contentFill === this.contentLength) {
          const content = this.content;
          this.content = EMPTY;
          this.emit(content);
        }
      } else {
        const skip = Math.min(this.paddingLeft, end - at);
        this.paddingLeft -= skip;
        at += skip;
        if (this.paddingLeft === 0) this.state = HEADER;
      }
    }
  }

  private readHeader(bytes: Uint8Array, at: number): void {
    const version = bytes[at]!;
    if (version !== 1) {
      this.stopped = true;
      throw new ProtocolError(
        'ERR_FCGI_VERSION',
        `tsgi fastcgi: record version ${version}, expected 1 (FCGI_VERSION_1): not a FastCGI peer or a corrupt stream`,
      );
    }
    this.type = bytes[at + 1]!;
    this.requestId = (bytes[at + 2]! << 8) | bytes[at + 3]!;
    this.contentLength = (bytes[at + 4]! << 8) | bytes[at + 5]!;
    this.paddingLength = bytes[at + 6]!;
  }

  // Sets the state for the padding first, so a handler that throws or stops leaves the parser consistent.
  private emit(content: Uint8Array): void {
    this.paddingLeft = this.paddingLength;
    this.state = this.paddingLength === 0 ? HEADER : PADDING;
    this.onRecord(this.type, this.requestId, content);
  }
}
