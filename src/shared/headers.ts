// Status and header validation (response splitting, hop-by-hop) and the CGI `Status:` head block (RFC 3875 §6.3).
import { createRequire } from 'node:module';
import { HOP_BY_HOP_HEADERS } from './constants.js';
import { ValidationError } from './errors.js';
import { decimalLength } from './input.js';
import type { Header } from './types.js';

export { HOP_BY_HOP_HEADERS } from './constants.js';

// "NNN" or "NNN reason": 3 digits 100–999, then one space and a reason phrase of RFC 9110 §4 characters
// (HTAB, SP, VCHAR, obs-text). No CR, LF, NUL or other controls, so a status can never split a response.
const STATUS = /^([1-9][0-9]{2})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
// RFC 9110 §5.1 field-name = token; §5.6.2 tchar.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// RFC 9110 §5.5 field-value characters: HTAB, SP, VCHAR, obs-text. This refuses CR, LF and NUL (response
// splitting), the other controls and DEL (which node:http would refuse later, mid-response), and any char above
// U+00FF (not a byte, so it could not be sent as it is).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** True when `text` is an RFC 9110 §5.6.2 token: a valid header name or method. */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/**
 * True when `text` may stand in a header value or a status reason phrase (RFC 9110 §5.5, §4 of RFC 9112): HTAB,
 * SP, VCHAR and obs-text only, so it can neither split the head nor hold a char that is not one byte.
 */
export function isFieldValue(text: string): boolean {
  return FIELD_VALUE.test(text);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value;
}

/**
 * Parses a status line `"NNN Reason"` and returns the code; throws ValidationError `ERR_INVALID_STATUS`.
 * Choice: PEP 3333 requires the reason phrase, but a bare `"200"` is accepted here (and `normalizeStatus`
 * fills the standard phrase) because the phrase carries no meaning on the wire (RFC 9110 §15: clients
 * ignore it). Serving it costs nothing; the validator (`validate()`) still flags it, so apps get fixed in
 * development without failing requests in production.
 */
export function parseStatus(status: unknown): number {
  const match = typeof status === 'string' ? STATUS.exec(status) : null;
  if (!match) {
    throw new ValidationError(
      'ERR_INVALID_STATUS',
      `tsgi: invalid status ${describe(status)}; pass "NNN Reason" with a 3-digit code, e.g. "200 OK" (no control characters)`,
    );
  }
  return Number(match[1]);
}

/** The Content-Length an app declared; the same plain-decimal rule as CONTENT_LENGTH (RFC 9110 §8.6). */
export function declaredLength(value: string): number {
  const length = decimalLength(value);
  if (length !== undefined) return length;
  throw new ValidationError(
    'ERR_CONTENT_LENGTH',
    `tsgi: Content-Length ${JSON.stringify(value)} is not a decimal byte count; send the body's length in bytes`,
  );
}

/**
 * True for a status an application may answer with: 200–599. RFC 9110 §15 defines no class above 5xx (a client
 * treats 600–999 as a 500 at best) and 1xx are interim responses, the server's business (§15.2). The driver
 * refuses the others and the validator reports them: one rule, written here.
 */
export function isFinalStatus(code: number): boolean {
  return code >= 200 && code <= 599;
}

// node:http is loaded only when a bare code needs its standard phrase: on Node 24 an ESM `import` of node:http
// costs ~30 ms at start-up (vs ~3 ms through require), which every CGI request would otherwise pay.
let statusCodes: Record<number, string | undefined> | undefined;
function standardPhrase(code: number): string | undefined {
  statusCodes ??= (createRequire(import.meta.url)('node:http') as typeof import('node:http')).STATUS_CODES;
  return statusCodes[code];
}

/** The status with a reason phrase: `"200"` becomes `"200 OK"`, an unknown code gets `"Unknown"`. */
export function normalizeStatus(status: string): string {
  const code = parseStatus(status);
  return status.length === 3 ? `${status} ${standardPhrase(code) ?? 'Unknown'}` : status;
}

/**
 * Checks response headers: an array of `[name, value]` string pairs, names RFC 9110 tokens, values without CR,
 * LF, NUL or other controls, no hop-by-hop header (PEP 3333) and no `Status` header (that is the CGI status
 * line, not a header: wsgiref validate). Throws ValidationError whose message says the fix.
 */
export function validateHeaders(headers: unknown): asserts headers is readonly Header[] {
  if (!Array.isArray(headers)) {
    throw new ValidationError(
      'ERR_INVALID_HEADERS',
      `tsgi: headers must be an array of [name, value] pairs, got ${describe(headers)}`,
    );
  }
  for (const header of headers as unknown[]) {
    if (!Array.isArray(header) || header.length !== 2) {
      throw new ValidationError(
        'ERR_INVALID_HEADERS',
        `tsgi: each header must be a [name, value] pair, got ${describe(header)}`,
      );
    }
    validateHeader(header[0], header[1]);
  }
}

function validateHeader(name: unknown, value: unknown): void {
  if (typeof name !== 'string' || !TOKEN.test(name)) {
    throw new ValidationError(
      'ERR_INVALID_HEADER_NAME',
      `tsgi: invalid header name ${describe(name)}; use letters, digits and !#$%&'*+-.^_\`|~ only (RFC 9110 §5.1)`,
    );
  }
  const lower = name.toLowerCase();
  if (HOP_BY_HOP_HEADERS.has(lower)) {
    throw new ValidationError(
      'ERR_HOP_BY_HOP_HEADER',
      `tsgi: the application set the hop-by-hop header ${JSON.stringify(name)}; remove it, the server manages the connection (PEP 3333)`,
    );
  }
  if (lower === 'status') {
    throw new ValidationError(
      'ERR_STATUS_HEADER',
      'tsgi: a "Status" header is not allowed; pass the status to startResponse',
    );
  }
  if (typeof value !== 'string' || !FIELD_VALUE.test(value)) {
    throw new ValidationError(
      'ERR_INVALID_HEADER_VALUE',
      `tsgi: invalid value ${describe(value)} for header ${JSON.stringify(name)}; values are strings without CR, LF, NUL or other control characters, and only chars up to U+00FF (percent-encode or RFC 8187-encode anything else)`,
    );
  }
}

/**
 * Validates an app's headers (`validateHeaders`) and returns a copy (a later change to the app's array cannot
 * inject anything) with their one Content-Length as a number (`declaredLength`); two are a ValidationError.
 */
export function snapshotHeaders(headers: unknown): { copy: Header[]; declaredLength: number | undefined } {
  validateHeaders(headers);
  const copy: Header[] = [];
  let contentLength: string | undefined;
  for (const [name, value] of headers) {
    copy.push([name, value]);
    if (name.length !== 14 || name.toLowerCase() !== 'content-length') continue;
    if (contentLength !== undefined) {
      throw new ValidationError('ERR_CONTENT_LENGTH', 'tsgi: more than one Content-Length header; send one');
    }
    contentLength = value;
  }
  return { copy, declaredLength: contentLength === undefined ? undefined : declaredLength(contentLength) };
}

/**
 * The CGI response head (RFC 3875 §6.3): `Status: NNN Reason\r\n`, one `Name: value\r\n` per header, then an
 * empty line, as latin1 bytes. CGI and FastCGI both write it. Expects a status and headers
 * that passed `parseStatus` and `validateHeaders` (the response driver guarantees this).
 */
export function formatCgiHead(status: string, headers: readonly Header[]): Uint8Array {
  // One string and one latin1 write: a write per part cost a native call each (~10 per hello response).
  let head = `Status: ${status}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  return Buffer.from(`${head}\r\n`, 'latin1');
}
