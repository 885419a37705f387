// Golden-bytes builders and a strict record splitter for the conformance kit and the tests (in the style of
// Go's makeRecord). Written out from the spec by hand, independently of ../protocol.ts, so that the codec is
// checked against FastCGI 1.0 rather than against itself.

/** One record (§3.3): version 1, type, id, content, then `padding` zero bytes (default: align to 8). */
export function record(
  type: number,
  id: number,
  content: Uint8Array | string = '',
  padding?: number,
): Buffer {
  const body = typeof content === 'string' ? Buffer.from(content, 'latin1') : Buffer.from(content);
  const pad = padding ?? (8 - (body.length % 8)) % 8;
  const header = Buffer.from([1, type, id >> 8, id & 0xff, body.length >> 8, body.length & 0xff, pad, 0]);
  return Buffer.concat([header, body, Buffer.alloc(pad)]);
}

/** A name-value length (§3.4): 1 byte up to 127, else 4 bytes with the high bit set. */
export function pairLength(length: number): Buffer {
  if (length <= 127) return Buffer.from([length]);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE((length | 0x80000000) >>> 0);
  return bytes;
}

/** Name-value pairs as bytes (latin1 strings). */
export function pairs(...list: (readonly [string, string])[]): Buffer {
  return Buffer.concat(
    list.flatMap(([name, value]) => [
      pairLength(name.length),
      pairLength(value.length),
      Buffer.from(name, 'latin1'),
      Buffer.from(value, 'latin1'),
    ]),
  );
}

/** FCGI_BEGIN_REQUEST (§5.1) with a role (default Responder) and flags (default FCGI_KEEP_CONN). */
export function beginRequest(id: number, role = 1, flags = 1): Buffer {
  return record(1, id, Buffer.from([role >> 8, role & 0xff, flags, 0, 0, 0, 0, 0]));
}

/** The minimal variables of a GET request. */
export const GET_VARS: Readonly<Record<string, string>> = Object.freeze({
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
});

/** A whole request: BEGIN_REQUEST, one PARAMS record + its end, the body in one STDIN record + its end. */
export function wholeRequest(
  id: number,
  vars: Readonly<Record<string, string>> = GET_VARS,
  body = '',
  flags = 1,
): Buffer {
  const parts = [beginRequest(id, 1, flags), record(4, id, pairs(...Object.entries(vars))), record(4, id)];
  if (body.length > 0) parts.push(record(5, id, body));
  parts.push(record(5, id));
  return Buffer.concat(parts);
}

/** A record read back from the wire. */
export interface ParsedRecord {
  type: number;
  id: number;
  content: Buffer;
  padding: number;
}

/** Splits bytes into records; throws on a bad version or a truncated record (a responder must write neither). */
export function parseRecords(bytes: Uint8Array): ParsedRecord[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const out: ParsedRecord[] = [];
  let at = 0;
  while (at < buffer.length) {
    if (at + 8 > buffer.length) throw new Error(`truncated header at byte ${at}`);
    if (buffer[at] !== 1) throw new Error(`bad version ${buffer[at]} at byte ${at}`);
    const length = buffer.readUInt16BE(at + 4);
    const padding = buffer[at + 6]!;
    if (at + 8 + length + padding > buffer.length) throw new Error(`truncated record at byte ${at}`);
    out.push({
      type: buffer[at + 1]!,
      id: buffer.readUInt16BE(at + 2),
      content: buffer.subarray(at + 8, at + 8 + length),
      padding,
    });
    at += 8 + length + padding;
  }
  return out;
}

/** The STDOUT (or `type`) bytes of request `id` concatenated. */
export function stdoutOf(records: readonly ParsedRecord[], id: number, type = 6): Buffer {
  return Buffer.concat(records.filter((r) => r.type === type && r.id === id).map((r) => r.content));
}
