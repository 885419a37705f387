// The validator's checks of what an application passes to startResponse: status, headers and excInfo.
import { HOP_BY_HOP_HEADERS, isBodilessStatus } from '../../shared/constants.js';
import { isFieldValue, isFinalStatus, isToken } from '../../shared/headers.js';
import { decimalLength } from '../../shared/input.js';
import type { ErrorStream, Header } from '../../shared/types.js';
import { fail, show, warn } from './report.js';

/** What the validator keeps from one startResponse call. */
export interface Head {
  readonly code: number;
  readonly contentLength: number | undefined;
  readonly hasContentType: boolean;
}

/** Checks the arguments of one startResponse call; returns what the body checks need. */
export function checkStartResponse(args: readonly unknown[], errors: ErrorStream): Head {
  /// SPEC: [start.arguments] An application MUST call `startResponse(status, headers)` or
  /// SPEC: `startResponse(status, headers, excInfo)`: a string and an array, plus the error being handled.
  if (args.length < 2 || args.length > 3) {
    fail(
      'start.arguments',
      `startResponse takes (status, headers, excInfo?), it was given ${args.length} arguments`,
    );
  }
  const code = checkStatus(args[0], errors);
  const headers = checkHeaderList(args[1]);
  return checkHeadersForStatus(code, headers);
}

function checkStatus(status: unknown, errors: ErrorStream): number {
  if (typeof status !== 'string') {
    fail('start.arguments', `the status must be a string like "200 OK", got ${show(status)}`);
  }
  /// SPEC: [status.chars] The status MUST NOT contain CR, LF, NUL or another control character other than
  /// SPEC: HTAB, nor a character above U+00FF: it is written into the head as one line of bytes.
  if (!isFieldValue(status)) {
    fail('status.chars', `the status ${show(status)} has a control or non-ISO-8859-1 character: remove it`);
  }
  /// SPEC: [status.format] The status MUST be a three-digit code from 200 to 599, then a space and the reason
  /// SPEC: phrase: `"200 OK"`. An application cannot send a 1xx response.
  const match = /^(\d{3})(?: (.*))?$/.exec(status);
  if (match === null) {
    fail('status.format', `the status ${show(status)} must be three digits, a space and a reason: "200 OK"`);
  }
  const code = Number(match[1]);
  if (!isFinalStatus(code)) {
    fail(
      'status.format',
      `the status code ${code} is out of range: use 200 to 599 (1xx is the server's business)`,
    );
  }
  /// SPEC: [status.reason] The status SHOULD carry a reason phrase after the code (`"404 Not Found"`, not `"404"`);
  /// SPEC: the validator warns on `tsgi.errors` when it is missing.
  if (match[2] === undefined || match[2].trim() === '') {
    warn(errors, 'status.reason', `the status ${show(status)} has no reason phrase: write e.g. "${code} OK"`);
  }
  return code;
}

function checkHeaderList(headers: unknown): Header[] {
  /// SPEC: [headers.list] The headers MUST be an array of `[name, value]` pairs, both strings.
  if (!Array.isArray(headers)) {
    fail('headers.list', `the headers must be an array of [name, value] pairs, got ${show(headers)}`);
  }
  for (const [index, header] of headers.entries()) {
    if (!Array.isArray(header) || header.length !== 2) {
      fail('headers.list', `header ${index} must be a [name, value] pair, got ${show(header)}`);
    }
    const [name, value] = header as unknown[];
    if (typeof name !== 'string' || typeof value !== 'string') {
      fail('headers.list', `header ${index} must be two strings, got [${show(name)}, ${show(value)}]`);
    }
    checkHeader(name, value);
  }
  return headers as Header[];
}

function checkHeader(name: string, value: string): void {
  /// SPEC: [headers.name] A header name MUST be an HTTP token (RFC 9110 §5.1): no space, colon, CR, LF or NUL.
  if (!isToken(name))
    fail('headers.name', `the header name ${show(name)} is not an HTTP token: fix its spelling`);
  /// SPEC: [headers.value] A header value MUST NOT contain CR, LF, NUL or another control character other than
  /// SPEC: HTAB, nor a character above U+00FF (response splitting, RFC 9110 §5.5). Encode such data first
  /// SPEC: (percent-encoding, RFC 8187).
  if (!isFieldValue(value)) {
    fail(
      'headers.value',
      `the ${name} header value ${show(value)} has a control or non-ISO-8859-1 character: encode it (e.g. encodeURIComponent)`,
    );
  }
  const lower = name.toLowerCase();
  /// SPEC: [headers.hop-by-hop] An application MUST NOT set hop-by-hop headers (`Connection`, `Keep-Alive`,
  /// SPEC: `Proxy-Authenticate`, `Proxy-Authorization`, `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`): the connection belongs to the server (PEP 3333).
  if (HOP_BY_HOP_HEADERS.has(lower)) {
    fail(
      'headers.hop-by-hop',
      `${name} is a hop-by-hop header: remove it, the server manages the connection`,
    );
  }
  /// SPEC: [headers.status] An application MUST NOT set a `Status` header: the status is startResponse's first
  /// SPEC: argument (the `Status:` line is CGI's wire format, not tsgi's).
  if (lower === 'status')
    fail('headers.status', `remove the Status header: pass the status to startResponse`);
}

function checkHeadersForStatus(code: number, headers: readonly Header[]): Head {
  let contentLength: number | undefined;
  let contentTypes = 0;
  let lengths = 0;
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type') contentTypes += 1;
    if (lower !== 'content-length') continue;
    lengths += 1;
    /// SPEC: [headers.content-length] `Content-Length`, when set, MUST appear once and be decimal digits, at most
    /// SPEC: 2^53 - 1 (the response driver refuses anything else).
    const length = decimalLength(value);
    if (length === undefined) {
      fail(
        'headers.content-length',
        `Content-Length ${show(value)} must be decimal digits, at most 2^53 - 1 (the body's byte count)`,
      );
    }
    contentLength = length;
  }
  if (lengths > 1) fail('headers.content-length', `Content-Length appears ${lengths} times: send it once`);
  /// SPEC: [headers.content-type] `Content-Type` MUST appear at most once, and not at all with a 1xx, 204 or 304
  /// SPEC: status. A response with a non-empty body SHOULD have one (the validator warns).
  if (contentTypes > 1)
    fail('headers.content-type', `Content-Type appears ${contentTypes} times: send it once`);
  if (contentTypes > 0 && isBodilessStatus(code)) {
    fail('headers.content-type', `a ${code} response has no content: remove Content-Type`);
  }
  /// SPEC: [headers.no-content] A 204 response MUST NOT have a `Content-Length` (RFC 9110 §8.6); a 304 may carry
  /// SPEC: the length of the representation it stands for.
  if (code === 204 && contentLength !== undefined) {
    fail('headers.no-content', `a 204 response has no content: remove Content-Length`);
  }
  return { code, contentLength, hasContentType: contentTypes > 0 };
}
