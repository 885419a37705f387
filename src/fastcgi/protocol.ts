// The FastCGI 1.0 wire codec: spec constants, record headers, name-value pairs and an incremental record parser. Pure, no I/O.
import { ProtocolError } from '../shared/errors.js';

// The name-value pair codec and the record parser live in their own files; the codec is imported from here
// (and is the `tsgi/fastcgi/protocol` subpath).
export {
  FCGI_SHORT_LENGTH_MAX,
  ParamsDecoder,
  decodePairs,
  encodePairs,
  type PairPart,
} from './name-value.js';
export { RecordParser, type RecordHandler } from './record-parser.js';

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S8 (8. Types and Constants)

/** `FCGI_VERSION_1`: the only version byte a record may carry. */
export const FCGI_VERSION_1 = 1;
/** `FCGI_HEADER_LEN`: every record starts with an 8-byte header. */
export const FCGI_HEADER_LEN = 8;
/** `FCGI_NULL_REQUEST_ID`: the request id of management records. */
export const FCGI_NULL_REQUEST_ID = 0;
/** Largest content length a record header can carry (16 bits, spec §3.3). */
export const FCGI_MAX_CONTENT_LENGTH = 65535;
/** Largest name or value length in a name-value pair (31 bits, spec §3.4). */
export const FCGI_MAX_PAIR_LENGTH = 0x7fffffff;

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S3.3 (Records) and #S8

/** Record types: the `type` byte of a record header. */
export const RecordType = {
  /** `FCGI_BEGIN_REQUEST` (§5.1): web server → app, starts a request. */
  BeginRequest: 1,
  /** `FCGI_ABORT_REQUEST` (§5.4): web server → app, the client went away. */
  AbortRequest: 2,
  /** `FCGI_END_REQUEST` (§5.5): app → web server, the request is over. */
  EndRequest: 3,
  /** `FCGI_PARAMS` (§5.2): stream of name-value pairs (the CGI variables). */
  Params: 4,
  /** `FCGI_STDIN` (§5.3): stream, the request body. */
  Stdin: 5,
  /** `FCGI_STDOUT` (§5.3): stream, the CGI response. */
  Stdout: 6,
  /** `FCGI_STDERR` (§5.3): stream, the application's diagnostics. */
  Stderr: 7,
  /** `FCGI_DATA` (§5.3): stream, the Filter role's file data. */
  Data: 8,
  /** `FCGI_GET_VALUES` (§4.1): management, the web server asks for variables. */
  GetValues: 9,
  /** `FCGI_GET_VALUES_RESULT` (§4.1): management, the app's answer. */
  GetValuesResult: 10,
  /** `FCGI_UNKNOWN_TYPE` (§4.2): management, "I do not understand record type T". */
  UnknownType: 11,
} as const;
/** One of the eleven record types. */
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S5.1 (FCGI_BEGIN_REQUEST)

/** Bits of FCGI_BEGIN_REQUEST's `flags` byte. */
export const Flags = {
  /** `FCGI_KEEP_CONN`: keep the connection open after this request (else the app closes it). */
  KeepConn: 1,
} as const;
/** A flag bit of FCGI_BEGIN_REQUEST. */
export type Flags = (typeof Flags)[keyof typeof Flags];

/** Roles: what the web server wants the application to do (§6). */
export const Role = {
  /** `FCGI_RESPONDER` (§6.2): a CGI/1.1 program. */
  Responder: 1,
  /** `FCGI_AUTHORIZER` (§6.3): 200 allows (with `Variable-*` headers), anything else goes to the client. */
  Authorizer: 2,
  /** `FCGI_FILTER` (§6.4): a Responder that also receives a file on FCGI_DATA. */
  Filter: 3,
} as const;
/** One of the three roles. */
export type Role = (typeof Role)[keyof typeof Role];

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S5.5 (FCGI_END_REQUEST)

/** FCGI_END_REQUEST's `protocolStatus`. */
export const ProtocolStatus = {
  /** `FCGI_REQUEST_COMPLETE`: normal end of request. */
  RequestComplete: 0,
  /** `FCGI_CANT_MPX_CONN`: a second request on a connection that handles one at a time. */
  CantMpxConn: 1,
  /** `FCGI_OVERLOADED`: the application ran out of a resource (here: the request limit). */
  Overloaded: 2,
  /** `FCGI_UNKNOWN_ROLE`: the role is not one the application serves. */
  UnknownRole: 3,
} as const;
/** One of the four protocol statuses. */
export type ProtocolStatus = (typeof ProtocolStatus)[keyof typeof ProtocolStatus];

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S4.1 (FCGI_GET_VALUES)

/** The management variables FCGI_GET_VALUES may ask for. */
export const ManagementVariable = {
  /** `FCGI_MAX_CONNS`: concurrent transport connections the application accepts. */
  MaxConns: 'FCGI_MAX_CONNS',
  /** `FCGI_MAX_REQS`: concurrent requests the application accepts. */
  MaxReqs: 'FCGI_MAX_REQS',
  /** `FCGI_MPXS_CONNS`: "1" when the application multiplexes connections, else "0". */
  MpxsConns: 'FCGI_MPXS_CONNS',
} as const;
/** One management variable name. */
export type ManagementVariable = (typeof ManagementVariable)[keyof typeof ManagementVariable];

/** A decoded record header (spec §3.3, `FCGI_Header`). */
export interface RecordHeader {
  version: number;
  type: number;
  requestId: number;
  contentLength: number;
  paddingLength: number;
}

/** Padding that aligns a record of `contentLength` bytes to 8 bytes, as §3.3 recommends. */
export function paddingFor(contentLength: number): number {
  return (8 - (contentLength & 7)) & 7;
}

/** Bytes a record with `contentLength` bytes of content takes on the wire, padding included. */
export function recordSize(contentLength: number): number {
  return FCGI_HEADER_LEN + contentLength + paddingFor(contentLength);
}

/** Writes a record header at `offset` of `target`; returns the offset after it. */
export function encodeHeader(
  target: Uint8Array,
  offset: number,
  type: number,
  requestId: number,
  contentLength: number,
  paddingLength: number,
): number {
  if (contentLength > FCGI_MAX_CONTENT_LENGTH || contentLength < 0) {
    throw new RangeError(`tsgi fastcgi: record content length ${contentLength} is over 65535`);
  }
  target[offset] = FCGI_VERSION_1;
  target[offset + 1] = type;
  target[offset + 2] = requestId >>> 8;
  target[offset + 3] = requestId & 0xff;
  target[offset + 4] = contentLength >>> 8;
  target[offset + 5] = contentLength & 0xff;
  target[offset + 6] = paddingLength;
  target[offset + 7] = 0;
  return offset + FCGI_HEADER_LEN;
}

/** Reads the 8-byte record header at `offset` (the caller checks that 8 bytes are there). */
export function decodeHeader(bytes: Uint8Array, offset = 0): RecordHeader {
  return {
    version: bytes[offset]!,
    type: bytes[offset + 1]!,
    requestId: (bytes[offset + 2]! << 8) | bytes[offset + 3]!,
    contentLength: (bytes[offset + 4]! << 8) | bytes[offset + 5]!,
    paddingLength: bytes[offset + 6]!,
  };
}

/** Writes one whole record (header, content, zero padding) at `offset`; returns the offset after it. */
export function writeRecord(
  target: Uint8Array,
  offset: number,
  type: number,
  requestId: number,
  content?: Uint8Array,
): number {
  const length = content === undefined ? 0 : content.length;
  const padding = paddingFor(length);
  let at = encodeHeader(target, offset, type, requestId, length, padding);
  if (content !== undefined) {
    target.set(content, at);
    at += length;
  }
  target.fill(0, at, at + padding);
  return at + padding;
}

/** One record (header, content, padding) in one buffer. */
export function encodeRecord(type: number, requestId: number, content?: Uint8Array): Buffer {
  const target = Buffer.allocUnsafe(recordSize(content === undefined ? 0 : content.length));
  writeRecord(target, 0, type, requestId, content);
  return target;
}

/** Bytes that `writeStream` produces for `length` bytes of stream data in records of at most `maxContent`. */
export function streamSize(length: number, maxContent: number): number {
  const full = Math.floor(length / maxContent);
  const rest = length - full * maxContent;
  return full * recordSize(maxContent) + (rest === 0 ? 0 : recordSize(rest));
}

/**
 * Writes `length` bytes taken in order from `chunks` as stream records of at most `maxContent` bytes each,
 * into `target` at `offset` (sized with `streamSize`). Chunk boundaries need not match record boundaries.
 * Returns the offset after the last record. Writes nothing for zero bytes (the empty record ends a stream).
 */
export function writeStream(
  target: Uint8Array,
  offset: number,
  type: number,
  requestId: number,
  chunks: readonly Uint8Array[],
  length: number,
  maxContent: number,
): number {
  let at = offset;
  let chunkIndex = 0;
  let chunkOffset = 0;
  let left = length;
  while (left > 0) {
    const content = left < maxContent ? left : maxContent;
    const padding = paddingFor(content);
    at = encodeHeader(target, at, type, requestId, content, padding);
    let need = content;
    while (need > 0) {
      const chunk = chunks[chunkIndex]!;
      const take = Math.min(need, chunk.length - chunkOffset);
      target.set(
        chunkOffset === 0 && take === chunk.length ? chunk : chunk.subarray(chunkOffset, chunkOffset + take),
        at,
      );
      at += take;
      need -= take;
      chunkOffset += take;
      if (chunkOffset === chunk.length) {
        chunkIndex++;
        chunkOffset = 0;
      }
    }
    target.fill(0, at, at + padding);
    at += padding;
    left -= content;
  }
  return at;
}

/** A whole stream in one buffer: `data` as records of at most `maxContent` bytes, then the empty record if `terminate`. */
export function encodeStream(
  type: number,
  requestId: number,
  data: Uint8Array,
  maxContent = 65528,
  terminate = true,
): Buffer {
  const size = streamSize(data.length, maxContent) + (terminate ? FCGI_HEADER_LEN : 0);
  const target = Buffer.allocUnsafe(size);
  const at = writeStream(target, 0, type, requestId, [data], data.length, maxContent);
  if (terminate) encodeHeader(target, at, type, requestId, 0, 0);
  return target;
}

/** Size of an FCGI_BEGIN_REQUEST or FCGI_END_REQUEST record (8-byte header + 8-byte body). */
export const FIXED_RECORD_SIZE = 16;

/** Writes FCGI_BEGIN_REQUEST (`FCGI_BeginRequestBody`: role, flags, 5 reserved bytes) at `offset`. */
export function writeBeginRequest(
  target: Uint8Array,
  offset: number,
  requestId: number,
  role: number,
  flags: number,
): number {
  const at = encodeHeader(target, offset, RecordType.BeginRequest, requestId, 8, 0);
  target[at] = role >>> 8;
  target[at + 1] = role & 0xff;
  target[at + 2] = flags;
  target.fill(0, at + 3, at + 8);
  return at + 8;
}

/** FCGI_BEGIN_REQUEST for `requestId` in one buffer. */
export function encodeBeginRequest(requestId: number, role: number, flags: number): Buffer {
  const target = Buffer.allocUnsafe(FIXED_RECORD_SIZE);
  writeBeginRequest(target, 0, requestId, role, flags);
  return target;
}

/** Writes FCGI_END_REQUEST (`FCGI_EndRequestBody`: appStatus 32 bits, protocolStatus, 3 reserved) at `offset`. */
export function writeEndRequest(
  target: Uint8Array,
  offset: number,
  requestId: number,
  appStatus: number,
  protocolStatus: ProtocolStatus,
): number {
  const at = encodeHeader(target, offset, RecordType.EndRequest, requestId, 8, 0);
  target[at] = (appStatus >>> 24) & 0xff;
  target[at + 1] = (appStatus >>> 16) & 0xff;
  target[at + 2] = (appStatus >>> 8) & 0xff;
  target[at + 3] = appStatus & 0xff;
  target[at + 4] = protocolStatus;
  target.fill(0, at + 5, at + 8);
  return at + 8;
}

/** FCGI_END_REQUEST for `requestId` in one buffer. */
export function encodeEndRequest(
  requestId: number,
  appStatus: number,
  protocolStatus: ProtocolStatus,
): Buffer {
  const target = Buffer.allocUnsafe(FIXED_RECORD_SIZE);
  writeEndRequest(target, 0, requestId, appStatus, protocolStatus);
  return target;
}

/** FCGI_UNKNOWN_TYPE (`FCGI_UnknownTypeBody`: the type, 7 reserved bytes), a management record. */
export function encodeUnknownType(type: number): Buffer {
  const target = Buffer.alloc(FIXED_RECORD_SIZE);
  encodeHeader(target, 0, RecordType.UnknownType, FCGI_NULL_REQUEST_ID, 8, 0);
  target[FCGI_HEADER_LEN] = type;
  return target;
}

/** The decoded body of FCGI_BEGIN_REQUEST. */
export interface BeginRequestBody {
  role: number;
  flags: number;
}

/** Reads FCGI_BEGIN_REQUEST's body; a body shorter than 8 bytes is a protocol error. */
export function decodeBeginRequest(content: Uint8Array): BeginRequestBody {
  if (content.length < 8) {
    throw new ProtocolError(
      'ERR_FCGI_BEGIN_REQUEST',
      `tsgi fastcgi: FCGI_BEGIN_REQUEST body is ${content.length} bytes, not 8`,
    );
  }
  return { role: (content[0]! << 8) | content[1]!, flags: content[2]! };
}

/** The decoded body of FCGI_END_REQUEST. */
export interface EndRequestBody {
  appStatus: number;
  protocolStatus: number;
}

/** Reads FCGI_END_REQUEST's body (the client side of the codec). */
export function decodeEndRequest(content: Uint8Array): EndRequestBody {
  if (content.length < 8) {
    throw new ProtocolError(
      'ERR_FCGI_END_REQUEST',
      `tsgi fastcgi: FCGI_END_REQUEST body is ${content.length} bytes, not 8`,
    );
  }
  const appStatus = ((content[0]! << 24) | (content[1]! << 16) | (content[2]! << 8) | content[3]!) >>> 0;
  return { appStatus, protocolStatus: content[4]! };
}
