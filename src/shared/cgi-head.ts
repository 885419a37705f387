// The head of a CGI response (RFC 3875 §6), read incrementally from a program's stdout or a FastCGI responder's
// FCGI_STDOUT: the one rule the CGI host, fromFastCgi and the FastCGI client share.
import { HOP_BY_HOP_HEADERS } from './constants.js';
import { isFieldValue, isToken, normalizeStatus } from './headers.js';
import { decimalLength } from './input.js';
import type { Header } from './types.js';

/** A head is at most this long by default: output with no blank line in the first 64 KiB has no valid head. */
export const MAX_CGI_HEAD_BYTES = 64 * 1024;

/** A parsed head, and the body bytes that came after its blank line in the same chunk. */
export interface CgiHead {
  /** `"NNN Reason"`: from `Status` (a bare code gets the standard phrase), else 302 with `Location`, else 200. */
  readonly status: string;
  readonly statusCode: number;
  /** Every header field in order, `Status` left out (see {@link gatewayHeaders} for what a gateway passes on). */
  readonly headers: [string, string][];
  /**
   * `Location` without `Status`: `local` for an abs-path (§6.2.2 local redirect, which tsgi answers as a 302,
   * as nginx does for fcgiwrap), `client` for an absolute URI (§6.2.3); undefined otherwise.
   */
  readonly redirect: 'local' | 'client' | undefined;
  readonly rest: Uint8Array;
}

/** Why output is not a CGI head; `field` names the header whose value was refused. */
export class CgiHeadError extends Error {
  readonly kind: 'too-long' | 'empty' | 'line' | 'fold' | 'value' | 'status';
  readonly field: string | undefined;
  constructor(kind: CgiHeadError['kind'], message: string, field?: string) {
    super(message);
    this.name = 'CgiHeadError';
    this.kind = kind;
    this.field = field;
  }
}

// Where the scan stands: at the start of a line, after a CR that started a line, or inside a line.
const LINE_START = 0;
const LINE_START_CR = 1;
const IN_LINE = 2;
const LF = 0x0a;
const CR = 0x0d;
// RFC 9110 §15: 100–599; a Status outside it cannot be sent on, so the gateway refuses it (502) here.
const STATUS = /^([1-5][0-9]{2})(?: (.*))?$/;

/**
 * Reads a CGI head chunk by chunk: each byte is scanned once, the chunks are joined once the blank line is
 * found, and no more than `maxHeadBytes` of head is ever held. Lines end in CRLF or bare LF (§6.2: a server
 * must accept both), mixed too. `push` returns the head once its blank line came, undefined while more is
 * needed, and throws {@link CgiHeadError} when the output cannot be a CGI head.
 */
export class CgiHeadParser {
  private readonly maxHeadBytes: number;
  private readonly chunks: Uint8Array[] = [];
  private length = 0;
  private state = LINE_START;

  constructor(maxHeadBytes = MAX_CGI_HEAD_BYTES) {
    this.maxHeadBytes = maxHeadBytes;
  }

  /** Bytes taken so far (for the log line of output that ended before its head did). */
  get received(): number {
    return this.length;
  }

  push(chunk: Uint8Array): CgiHead | undefined {
    const end = this.scan(chunk);
    if (end === undefined) {
      this.length += chunk.length;
      if (this.length > this.maxHeadBytes) throw tooLong(this.maxHeadBytes);
      this.chunks.push(chunk);
      return undefined;
    }
    if (this.length + end.headEnd > this.maxHeadBytes) throw tooLong(this.maxHeadBytes);
    this.chunks.push(chunk.subarray(0, end.headEnd));
    this.length += chunk.length;
    const text = Buffer.concat(this.chunks).toString('latin1');
    return { ...parseFields(text), rest: chunk.subarray(end.bodyStart) };
  }

  // The offsets in `chunk` where the head ends (its last line's terminator included) and the body starts.
  private scan(chunk: Uint8Array): { headEnd: number; bodyStart: number } | undefined {
    let state = this.state;
    let i = 0;
    while (i < chunk.length) {
      if (state === IN_LINE) {
        const lf = chunk.indexOf(LF, i);
        if (lf < 0) break;
        state = LINE_START;
        i = lf + 1;
        continue;
      }
      const byte = chunk[i]!;
      // The blank line's CR (possibly the previous chunk's last byte) stays in the head; the line split drops it.
      if (byte === LF) return { headEnd: i, bodyStart: i + 1 };
      state = byte === CR && state === LINE_START ? LINE_START_CR : IN_LINE;
      i++;
    }
    this.state = state;
    return undefined;
  }
}

const tooLong = (max: number): CgiHeadError =>
  new CgiHeadError('too-long', `no end of header block in the first ${max} bytes`);

const trimOws = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, '');

/** The header lines of a head (the text before its blank line), as §6.3 reads them. */
function parseFields(text: string): Omit<CgiHead, 'rest'> {
  const headers: [string, string][] = [];
  let status: string | undefined;
  let location: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') continue;
    // RFC 9112 §5.2: a recipient may refuse obs-fold; a program that folds is too old to trust with the rest.
    if (line[0] === ' ' || line[0] === '\t')
      throw new CgiHeadError('fold', `folded header line (obs-fold) ${JSON.stringify(line.slice(0, 80))}`);
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!isToken(name))
      throw new CgiHeadError('line', `bad header line ${JSON.stringify(line.slice(0, 80))}`);
    const value = trimOws(line.slice(colon + 1));
    // A NUL, a bare CR or another control in a value could split the response the gateway writes.
    if (!isFieldValue(value)) throw new CgiHeadError('value', `bad value for header ${name}`, name);
    const lower = name.toLowerCase();
    if (lower === 'status') {
      if (status !== undefined) throw new CgiHeadError('status', 'two Status header fields');
      status = parseStatus(value);
      continue;
    }
    if (lower === 'location') location = value;
    headers.push([name, value]);
  }
  // §6.2: a response has at least one header field (Content-Type, Location or Status).
  if (status === undefined && headers.length === 0) throw new CgiHeadError('empty', 'empty header block');
  const redirect =
    status !== undefined || location === undefined
      ? undefined
      : location.startsWith('/')
        ? 'local'
        : 'client';
  const final = status ?? (location !== undefined ? '302 Found' : '200 OK');
  return { status: final, statusCode: Number(final.slice(0, 3)), headers, redirect };
}

// §6.3.3 Status = status-code SP reason-phrase; a bare code (common, and accepted by nginx) gets a phrase.
function parseStatus(value: string): string {
  const match = STATUS.exec(value);
  if (match === null) throw new CgiHeadError('status', `bad Status ${JSON.stringify(value.slice(0, 40))}`);
  return match[2] === undefined || match[2] === '' ? normalizeStatus(match[1]!) : value;
}

/**
 * The fields a gateway passes on: hop-by-hop ones are the server's own (RFC 9110 §7.6.1), and a Content-Length
 * that is not a decimal byte count is dropped (the server frames the body itself then).
 */
export function gatewayHeaders<T extends Header>(headers: readonly T[]): T[] {
  const out: T[] = [];
  for (const header of headers) {
    const lower = header[0].toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(lower)) continue;
    if (lower === 'content-length' && decimalLength(header[1]) === undefined) continue;
    out.push(header);
  }
  return out;
}
