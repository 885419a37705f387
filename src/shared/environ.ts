// The one environ builder: request variables (latin1 strings) + input + errors + options → Environ (PEP 3333).
import { TSGI_VERSION } from './constants.js';
import { quotePath } from './encoding.js';
import { RequestError } from './errors.js';
import { parseContentLength } from './input.js';
import { DEFAULT_QUIRKS, isHttps, type RequestVars } from './quirks.js';
import type { Environ, ErrorStream, Input } from './types.js';

/** What the front end knows about itself and the request, beyond the request variables. */
export interface EnvironOptions {
  /** `tsgi.multithread`: the app may be called concurrently in this process (default false). */
  multithread?: boolean;
  /** `tsgi.multiprocess`: other processes serve the same app (default false). */
  multiprocess?: boolean;
  /** `tsgi.run_once`: this process serves one request only, as CGI does (default false). */
  runOnce?: boolean;
  /**
   * `tsgi.signal`: aborted when the client goes away or the server cancels. Default: one that never aborts.
   * A function makes it lazy: called when something reads `tsgi.signal` (creating an AbortSignal costs ~3 µs on
   * Node 20, most of a small request's budget); it must return the same signal every time.
   */
  signal?: AbortSignal | (() => AbortSignal);
  /** `tsgi.input_terminated`: the input ends at end of body even without CONTENT_LENGTH (default false). */
  inputTerminated?: boolean;
  /** Front-end specific keys (e.g. `tsgi.fastcgi.role`); they never replace a CGI variable or a core key. */
  extra?: Readonly<Record<string, unknown>>;
  /** Receives one note per fix-up applied to the variables (what `tsgi explain` prints). */
  onStep?: (note: string) => void;
}

// RFC 3875 §4.1 requires these (QUERY_STRING as "" when there is none, §4.1.7); a missing one becomes "", with
// a note, so the environ type holds and the validator can still point at the server's configuration.
const REQUIRED_VARS = [
  'SCRIPT_NAME',
  'QUERY_STRING',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
] as const;

// Environs are made by a constructor rather than as `{}`: V8 then sizes them for the keys a request has (in-object
// slack tracking), so the ~30 keys are stored in the object itself, and adding variables by computed name past
// ~20 properties no longer turns it into a slow dictionary (which a `{}` becomes: ~1 µs per request to build,
// and every read by the app a hash lookup). Its prototype is Object.prototype: an environ still is a plain object.
const EnvironObject = function EnvironObject() {} as unknown as new () => Record<string, unknown>;
EnvironObject.prototype = Object.prototype;

/**
 * Builds the environ for one request. Pure: no `process.env`, no sockets. `vars` are ISO-8859-1 strings, one
 * char per byte (decode raw bytes with `bytesToLatin1`); every value is kept as it came, except for the fix-ups
 * of `DEFAULT_QUIRKS`, applied in order and each reported through `options.onStep`.
 * Throws RequestError `ERR_NO_METHOD` without REQUEST_METHOD and `ERR_BAD_CONTENT_LENGTH` for a CONTENT_LENGTH
 * that is not a plain decimal number (both answerable with a 400).
 */
export function buildEnviron(
  vars: Readonly<Record<string, string | undefined>>,
  input: Input,
  errors: ErrorStream,
  options: EnvironOptions = {},
): Environ {
  if (!vars.REQUEST_METHOD) {
    throw new RequestError(
      'ERR_NO_METHOD',
      'tsgi: REQUEST_METHOD is missing; the web server must set it (RFC 3875 §4.1.12)',
    );
  }
  // One copy of the variables, which the quirks then edit in place (the caller's map is never changed).
  const environ = new EnvironObject();
  // nginx's fastcgi_params send an empty CONTENT_TYPE and CONTENT_LENGTH with every GET, which the quirk
  // dropEmptyContentVars deletes; a delete turns the environ into a V8 dictionary (every later store, and every
  // read by the app, a hash lookup: ~2 µs per request). Unless a caller wants the quirk's note, they are left
  // out while copying instead, which ends with the same keys.
  const skipEmptyContent = options.onStep === undefined;
  for (const name in vars) {
    const value = vars[name];
    if (value === undefined) continue;
    if (skipEmptyContent && value === '' && (name === 'CONTENT_TYPE' || name === 'CONTENT_LENGTH')) continue;
    // A variable literally named "__proto__" (FastCGI params may carry any name) stays a plain key.
    if (name === '__proto__')
      Object.defineProperty(environ, name, { value, enumerable: true, writable: true });
    else environ[name] = value;
  }
  const cgi = normalizeVars(environ as RequestVars, options.onStep);
  for (const name in options.extra) if (!Object.hasOwn(environ, name)) environ[name] = options.extra[name];
  environ['tsgi.version'] = TSGI_VERSION;
  environ['tsgi.url_scheme'] = isHttps(cgi) ? 'https' : 'http';
  environ['tsgi.input'] = input;
  environ['tsgi.errors'] = errors;
  environ['tsgi.multithread'] = options.multithread ?? false;
  environ['tsgi.multiprocess'] = options.multiprocess ?? false;
  environ['tsgi.run_once'] = options.runOnce ?? false;
  environ['tsgi.input_terminated'] = options.inputTerminated ?? false;
  const signal = options.signal;
  if (typeof signal === 'function') {
    lazySignals.set(environ, signal);
    Object.defineProperty(environ, 'tsgi.signal', LAZY_SIGNAL);
  } else environ['tsgi.signal'] = signal ?? new AbortController().signal;
  return environ as Environ;
}

// A lazy tsgi.signal is one getter shared by every environ, which finds the request's function here. A getter per
// request (the front end's own function) made every environ a V8 dictionary: each new accessor pair forbids
// sharing the map, and a dictionary costs ~4 KiB and a hash lookup per key read (issue 13).
const lazySignals = new WeakMap<object, () => AbortSignal>();
const LAZY_SIGNAL: PropertyDescriptor = {
  get(this: object): AbortSignal | undefined {
    return lazySignalOf(this)?.();
  },
  enumerable: true,
  configurable: true,
};

// The environ's own function, or, read through an object that inherits from it (Object.create(environ)), the
// function of the environ up its prototype chain.
function lazySignalOf(start: object): (() => AbortSignal) | undefined {
  for (
    let owner: object | null = start;
    owner !== null;
    owner = Object.getPrototypeOf(owner) as object | null
  ) {
    const signal = lazySignals.get(owner);
    if (signal !== undefined) return signal;
  }
  return undefined;
}

// Applies the quirks in place, checks CONTENT_LENGTH and fills the required variables that are missing.
function normalizeVars(cgi: RequestVars, onStep?: (note: string) => void): RequestVars {
  for (const quirk of DEFAULT_QUIRKS) {
    const note = quirk(cgi);
    if (note !== undefined) onStep?.(note);
  }
  parseContentLength(cgi.CONTENT_LENGTH);
  for (const name of REQUIRED_VARS) {
    if (cgi[name] !== undefined) continue;
    cgi[name] = '';
    if (name !== 'QUERY_STRING')
      onStep?.(`requiredVars: ${name} missing, set to "" (RFC 3875 §4.1 requires it)`);
  }
  return cgi;
}

/** A string-valued environ key (a CGI variable or an `HTTP_*` header), or undefined. */
export function getVar(environ: Environ, name: string): string | undefined {
  const value = Object.hasOwn(environ, name) ? environ[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** PEP 3333 "URL Reconstruction": the scheme, then HTTP_HOST when present, else SERVER_NAME plus a non-default SERVER_PORT. */
export function requestOrigin(environ: Environ): string {
  const scheme = environ['tsgi.url_scheme'];
  const host = getVar(environ, 'HTTP_HOST');
  if (host) return `${scheme}://${host}`;
  const port = environ.SERVER_PORT;
  const defaultPort = scheme === 'https' ? '443' : '80';
  return `${scheme}://${environ.SERVER_NAME}${port && port !== defaultPort ? `:${port}` : ''}`;
}

/**
 * The full request URL, as PEP 3333 "URL Reconstruction": scheme, host, `quote(SCRIPT_NAME)`,
 * `quote(PATH_INFO)`, then `?QUERY_STRING` when not empty. Non-ASCII path bytes come out percent-encoded.
 */
export function requestUrl(environ: Environ): string {
  const query = environ.QUERY_STRING ? `?${environ.QUERY_STRING}` : '';
  return `${requestOrigin(environ)}${quotePath(environ.SCRIPT_NAME)}${quotePath(environ.PATH_INFO)}${query}`;
}

/** The URL the application is mounted at: scheme, host and `quote(SCRIPT_NAME)` or "/" (wsgiref application_uri). */
export function applicationUri(environ: Environ): string {
  return `${requestOrigin(environ)}${quotePath(environ.SCRIPT_NAME || '/')}`;
}
