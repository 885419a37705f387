// The environment a CGI program is started with: RFC 3875 §4.1 meta-variables taken from a tsgi environ.
import type { Environ } from '../shared/types.js';

/** Where the program is and how the request path splits around it. */
export interface ProgramTarget {
  /** The executable (absolute). */
  readonly file: string;
  readonly scriptName: string;
  readonly pathInfo: string;
}

// Meta-variable names (§4.1) and protocol-specific ones (§4.1.18 HTTP_*, nginx's DOCUMENT_URI, HTTPS …);
// everything an environ holds under a lower-case or dotted name (tsgi.*) is the gateway's, not the program's.
const META_NAME = /^[A-Z][A-Z0-9_]*$/;
const NON_ASCII = /[\u0080-\u00ff]/;
const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * The program's environment: every meta-variable of `environ`, with SCRIPT_NAME, PATH_INFO, SCRIPT_FILENAME
 * and PATH_TRANSLATED (§4.1.6) for `target`, GATEWAY_INTERFACE CGI/1.1, and PATH from this process (a program
 * needs one to find `env`, `cat`, its interpreter). HTTP_PROXY is never passed (httpoxy, CVE-2016-5385).
 */
export function metaVariables(
  environ: Environ,
  target: ProgramTarget,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? DEFAULT_PATH };
  for (const name in environ) {
    const value = environ[name];
    if (typeof value !== 'string' || !META_NAME.test(name)) continue;
    // Environ values hold one byte per char (latin1); an environment variable is handed to exec as UTF-8, so
    // bytes that were UTF-8 on the wire must become those characters again, not be encoded twice.
    env[name] = !NON_ASCII.test(value) ? value : Buffer.from(value, 'latin1').toString('utf8');
  }
  delete env.HTTP_PROXY;
  env.GATEWAY_INTERFACE = 'CGI/1.1';
  env.SERVER_SOFTWARE ??= 'tsgi';
  // php-cgi refuses to run without it (its force-cgi-redirect guard); other programs ignore it.
  env.REDIRECT_STATUS ??= '200';
  env.SCRIPT_NAME = target.scriptName;
  env.SCRIPT_FILENAME = target.file;
  if (target.pathInfo !== '') {
    env.PATH_INFO = target.pathInfo;
    if (env.DOCUMENT_ROOT !== undefined) env.PATH_TRANSLATED = env.DOCUMENT_ROOT + target.pathInfo;
  } else {
    delete env.PATH_INFO;
    delete env.PATH_TRANSLATED;
  }
  return Object.assign(env, extra);
}
