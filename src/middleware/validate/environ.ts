// The validator's server-side checks of the environ: the shape of what a server passes to an application.
import { isLatin1 } from '../../shared/encoding.js';
import { isToken } from '../../shared/headers.js';
import { decimalLength } from '../../shared/input.js';
import type { Environ } from '../../shared/types.js';
import { fail, show } from './report.js';

const REQUIRED_CGI = [
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
] as const;

const REQUIRED_TSGI = [
  'tsgi.version',
  'tsgi.url_scheme',
  'tsgi.input',
  'tsgi.errors',
  'tsgi.multithread',
  'tsgi.multiprocess',
  'tsgi.run_once',
  'tsgi.input_terminated',
  'tsgi.signal',
] as const;

const FLAGS = ['tsgi.multithread', 'tsgi.multiprocess', 'tsgi.run_once', 'tsgi.input_terminated'] as const;

/**
 * Checks the arguments a server calls an application with, then the environ's keys and values. Throws a
 * ValidationError naming the clause; returns the environ, typed, when it conforms.
 */
export function checkCall(environ: unknown, startResponse: unknown, extraArguments: number): Environ {
  /// SPEC: [call.arguments] The server MUST call the application with exactly two arguments: the environ, a plain
  /// SPEC: object (not a `Map`, not `null`), and `startResponse`, a function.
  if (typeof environ !== 'object' || environ === null || Array.isArray(environ) || environ instanceof Map) {
    fail('call.arguments', `the environ must be a plain object, got ${show(environ)}`);
  }
  if (typeof startResponse !== 'function') {
    fail('call.arguments', `startResponse must be a function, got ${show(startResponse)}`);
  }
  if (extraArguments > 0) {
    fail(
      'call.arguments',
      `an application takes (environ, startResponse); it was given ${2 + extraArguments} arguments`,
    );
  }
  const env = environ as Record<string, unknown>;
  checkRequiredKeys(env);
  checkCgiValues(env);
  checkPaths(env);
  checkServerVariables(env);
  checkContentVariables(env);
  checkTsgiKeys(env);
  return env as Environ;
}

function checkRequiredKeys(env: Record<string, unknown>): void {
  /// SPEC: [environ.required] The environ MUST contain `REQUEST_METHOD`, `SCRIPT_NAME`, `PATH_INFO`, `QUERY_STRING`,
  /// SPEC: `SERVER_NAME`, `SERVER_PORT`, `SERVER_PROTOCOL` and every `tsgi.*` key of §4.2. `SCRIPT_NAME`,
  /// SPEC: `PATH_INFO` and `QUERY_STRING` may be empty strings but are never absent.
  for (const key of [...REQUIRED_CGI, ...REQUIRED_TSGI]) {
    if (!(key in env)) {
      const hint = key.startsWith('tsgi.') ? 'build the environ with buildEnviron()' : 'set it, "" if empty';
      fail('environ.required', `the environ has no ${key}: ${hint}`);
    }
  }
}

function checkCgiValues(env: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(env)) {
    if (key.includes('.')) continue;
    /// SPEC: [environ.cgi-strings] Every key without a dot (a CGI variable or `HTTP_*` header) MUST have a string
    /// SPEC: value. A variable that is not set MUST be absent from the environ, never present as `undefined`.
    if (typeof value !== 'string') {
      const fix =
        value === undefined ? 'delete the key instead of setting undefined' : 'convert it to a string';
      fail('environ.cgi-strings', `${key} must be a string, got ${show(value)}: ${fix}`);
    }
    /// SPEC: [environ.latin1] CGI values MUST be ISO-8859-1 strings: one character per byte of the request, no
    /// SPEC: character above U+00FF. Decode request bytes with `bytesToLatin1`, never as UTF-8 (§6).
    if (!isLatin1(value)) {
      fail(
        'environ.latin1',
        `${key} has a character above U+00FF (${show(value)}): decode request bytes as ISO-8859-1 (bytesToLatin1), not UTF-8`,
      );
    }
  }
  /// SPEC: [environ.http-content] `HTTP_CONTENT_TYPE` and `HTTP_CONTENT_LENGTH` MUST NOT be present: those headers
  /// SPEC: are `CONTENT_TYPE` and `CONTENT_LENGTH` (RFC 3875 §4.1.18).
  for (const key of ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH']) {
    if (key in env) fail('environ.http-content', `${key} must not be in the environ: use ${key.slice(5)}`);
  }
  /// SPEC: [environ.request-method] `REQUEST_METHOD` MUST be a non-empty HTTP token (RFC 9110 §9.1), as the client
  /// SPEC: sent it: methods are case-sensitive.
  const method = env.REQUEST_METHOD as string;
  if (!isToken(method)) {
    fail('environ.request-method', `REQUEST_METHOD ${show(method)} is not an HTTP token (e.g. "GET")`);
  }
}

function checkPaths(env: Record<string, unknown>): void {
  const scriptName = env.SCRIPT_NAME as string;
  const pathInfo = env.PATH_INFO as string;
  /// SPEC: [environ.script-name] `SCRIPT_NAME` MUST be empty or start with `/`, and MUST NOT be `/` itself: an
  /// SPEC: application at the root of the site has `SCRIPT_NAME` `""` and `PATH_INFO` `/` (PEP 3333, Rack).
  if (scriptName === '/')
    fail('environ.script-name', `SCRIPT_NAME cannot be '/', make it '' and PATH_INFO '/'`);
  if (scriptName !== '' && !scriptName.startsWith('/')) {
    fail('environ.script-name', `SCRIPT_NAME ${show(scriptName)} must be empty or start with '/'`);
  }
  /// SPEC: [environ.path-info] `PATH_INFO` MUST be empty or start with `/`; `*` is allowed for `OPTIONS` only. It
  /// SPEC: is URL-decoded (RFC 3875 §4.1.5).
  if (pathInfo === '*') {
    if (env.REQUEST_METHOD !== 'OPTIONS') {
      fail('environ.path-info', `PATH_INFO '*' is only for OPTIONS, not ${show(env.REQUEST_METHOD)}`);
    }
  } else if (pathInfo !== '' && !pathInfo.startsWith('/')) {
    fail('environ.path-info', `PATH_INFO ${show(pathInfo)} must be empty or start with '/'`);
  }
  /// SPEC: [environ.path-nonempty] `SCRIPT_NAME` and `PATH_INFO` MUST NOT both be empty: the request for the root
  /// SPEC: of the site is `SCRIPT_NAME` `""` with `PATH_INFO` `/`.
  if (scriptName === '' && pathInfo === '') {
    fail('environ.path-nonempty', `SCRIPT_NAME and PATH_INFO are both empty: make PATH_INFO '/'`);
  }
}

function checkServerVariables(env: Record<string, unknown>): void {
  /// SPEC: [environ.server-name] `SERVER_NAME` MUST NOT be empty.
  if (env.SERVER_NAME === '') fail('environ.server-name', `SERVER_NAME is empty: set the server's host name`);
  /// SPEC: [environ.server-port] `SERVER_PORT` MUST be decimal digits, even for the scheme's default port.
  if (!/^\d+$/.test(env.SERVER_PORT as string)) {
    fail('environ.server-port', `SERVER_PORT ${show(env.SERVER_PORT)} must be decimal digits, e.g. "80"`);
  }
  /// SPEC: [environ.server-protocol] `SERVER_PROTOCOL` MUST look like `HTTP/1.1` (`HTTP/` digit, optionally `.`
  /// SPEC: digit).
  if (!/^HTTP\/\d(\.\d)?$/.test(env.SERVER_PROTOCOL as string)) {
    fail('environ.server-protocol', `SERVER_PROTOCOL ${show(env.SERVER_PROTOCOL)} must look like "HTTP/1.1"`);
  }
}

function checkContentVariables(env: Record<string, unknown>): void {
  /// SPEC: [environ.content-length] `CONTENT_LENGTH`, when present, MUST be decimal digits, at most 2^53 - 1
  /// SPEC: (a byte count JavaScript holds exactly). When there is no body it is absent: an empty
  /// SPEC: `CONTENT_LENGTH` (nginx sends one) MUST be removed, not passed on.
  if ('CONTENT_LENGTH' in env) {
    const length = env.CONTENT_LENGTH as string;
    if (length === '') fail('environ.content-length', `CONTENT_LENGTH is empty: delete the key (no body)`);
    if (decimalLength(length) === undefined) {
      fail(
        'environ.content-length',
        `CONTENT_LENGTH ${show(length)} must be decimal digits, at most 2^53 - 1, or absent`,
      );
    }
  }
}

function checkTsgiKeys(env: Record<string, unknown>): void {
  /// SPEC: [environ.version] `tsgi.version` MUST be the array `[1, 0]`.
  const version = env['tsgi.version'];
  if (!Array.isArray(version) || version.length !== 2 || version[0] !== 1 || version[1] !== 0) {
    fail('environ.version', `tsgi.version must be [1, 0], got ${show(version)}`);
  }
  /// SPEC: [environ.url-scheme] `tsgi.url_scheme` MUST be `"http"` or `"https"`.
  const scheme = env['tsgi.url_scheme'];
  if (scheme !== 'http' && scheme !== 'https') {
    fail('environ.url-scheme', `tsgi.url_scheme must be "http" or "https", got ${show(scheme)}`);
  }
  /// SPEC: [environ.input] `tsgi.input` MUST be an object with a `read(size?)` method that is also async-iterable.
  const input = env['tsgi.input'] as { read?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  if (
    typeof input !== 'object' ||
    input === null ||
    typeof input.read !== 'function' ||
    typeof input[Symbol.asyncIterator] !== 'function'
  ) {
    fail('environ.input', `tsgi.input must have read(size?) and [Symbol.asyncIterator](): use createInput()`);
  }
  /// SPEC: [environ.errors] `tsgi.errors` MUST be an object with a `write(text)` method.
  const errors = env['tsgi.errors'] as { write?: unknown } | null;
  if (typeof errors !== 'object' || errors === null || typeof errors.write !== 'function') {
    fail('environ.errors', `tsgi.errors must have write(text), got ${show(errors)}`);
  }
  /// SPEC: [environ.flags] `tsgi.multithread`, `tsgi.multiprocess`, `tsgi.run_once` and `tsgi.input_terminated`
  /// SPEC: MUST be booleans.
  for (const key of FLAGS) {
    if (typeof env[key] !== 'boolean')
      fail('environ.flags', `${key} must be true or false, got ${show(env[key])}`);
  }
  /// SPEC: [environ.signal] `tsgi.signal` MUST be an `AbortSignal`.
  if (!(env['tsgi.signal'] instanceof AbortSignal)) {
    fail('environ.signal', `tsgi.signal must be an AbortSignal, got ${show(env['tsgi.signal'])}`);
  }
}
