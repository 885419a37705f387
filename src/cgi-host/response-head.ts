// Reading a CGI program's response head (RFC 3875 §6.2–6.3) from its stdout, as it arrives.
import { HOP_BY_HOP_HEADERS } from '../shared/constants.js';
import { isFieldValue, isToken } from '../shared/headers.js';
import type { Header } from '../shared/types.js';

/** A head is at most this long: a program printing a megabyte without a blank line has no valid head. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** The parsed head, and the body bytes that came in the same chunk after it. */
export interface CgiHead {
  readonly status: string;
  readonly headers: Header[];
  readonly rest: Uint8Array;
}

const STATUS = /^([1-9][0-9]{2})(?: (.*))?$/;

/**
 * Collects stdout chunks until the blank line that ends the head (CRLF or bare LF, §6.2: servers must accept
 * both), then parses it. `push` returns the head once complete, undefined while more is needed, and throws
 * `Error` with the reason when the output cannot be a CGI head (the host answers 502).
 */
export class ResponseHeadReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): CgiHead | undefined {
    const scanFrom = Math.max(0, this.buffered.length - 3);
    this.buffered = this.buffered.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffered, chunk]);
    const end = findHeadEnd(this.buffered, scanFrom);
    if (end === undefined) {
      if (this.buffered.length > MAX_HEAD_BYTES)
        throw new Error(`no end of header block in the first ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const head = parseHead(this.buffered.toString('latin1', 0, end.headEnd));
    return { ...head, rest: this.buffered.subarray(end.bodyStart) };
  }

  /** What was read when stdout ended (for the log line of a program that printed no head). */
  get received(): number {
    return this.buffered.length;
  }
}

function findHeadEnd(buffer: Buffer, from: number): { headEnd: number; bodyStart: number } | undefined {
  // An empty head ("\n" or "\r\n" first) has no header fields, which §6.2 does not allow: it is refused below.
  for (let i = from; i < buffer.length; i++) {
    if (buffer[i] !== 0x0a) continue;
    if (i === 0) return { headEnd: 0, bodyStart: 1 };
    if (buffer[i - 1] === 0x0a) return { headEnd: i - 1, bodyStart: i + 1 };
    if (buffer[i - 1] !== 0x0d) continue;
    if (i === 1) return { headEnd: 0, bodyStart: 2 };
    if (buffer[i - 2] === 0x0a) return { headEnd: i - 2, bodyStart: i + 1 };
  }
  return undefined;
}

/**
 * The header fields of a head: `Status` becomes the status (§6.3.3), `Location` without `Status` a 302
 * (§6.2.3 client redirect; a local `/path` redirect is handed on the same way, as nginx does with fcgiwrap);
 * hop-by-hop fields are the server's business, not the program's, and are dropped.
 */
function parseHead(text: string): { status: string; headers: Header[] } {
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  const headers: Header[] = [];
  let status: string | undefined;
  let location = false;
  for (const line of lines) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!isToken(name)) throw new Error(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const value = line.slice(colon + 1).trim();
    if (!isFieldValue(value)) throw new Error(`bad value for header ${name}`);
    const lower = name.toLowerCase();
    if (lower === 'status') {
      const match = STATUS.exec(value);
      if (match === null) throw new Error(`bad Status ${JSON.stringify(value.slice(0, 40))}`);
      status = match[2] === undefined || match[2] === '' ? match[1]! : value;
      continue;
    }
    if (lower === 'location') location = true;
    if (HOP_BY_HOP_HEADERS.has(lower) || lower === 'content-length') {
      if (lower === 'content-length' && /^\d+$/.test(value)) headers.push([name, value]);
      continue;
    }
    headers.push([name, value]);
  }
  if (status === undefined && headers.length === 0) throw new Error('empty header block');
  return { status: status ?? (location ? '302 Found' : '200 OK'), headers };
}
