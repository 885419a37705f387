// What `tsgi explain` may show a client: the request, never the rest of the process environment, and no
// credential values (issue 11: installed as a CGI program it answered any client with DB_PASSWORD, AWS keys and
// the client's own Authorization and Cookie).
import { isSecretName, redactedValue } from '../shared/secrets.js';
import type { Explanation, VariableChange } from './explain.js';

// RFC 3875 §4.1 meta-variables, and the ones web servers add for the request (Apache, nginx fastcgi_params,
// lighttpd, PHP-FPM's conventions). Anything else in a CGI program's environment is the server's or the
// system's (PATH, HOME, a SetEnv'd DB_PASSWORD): not part of the request, so not shown.
const REQUEST_VARIABLES = new Set([
  'AUTH_TYPE',
  'CONTENT_LENGTH',
  'CONTENT_TYPE',
  'GATEWAY_INTERFACE',
  'PATH_INFO',
  'PATH_TRANSLATED',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REMOTE_IDENT',
  'REMOTE_USER',
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'SERVER_SOFTWARE',
  'REQUEST_URI',
  'DOCUMENT_URI',
  'SCRIPT_FILENAME',
  'SCRIPT_URI',
  'SCRIPT_URL',
  'DOCUMENT_ROOT',
  'CONTEXT_PREFIX',
  'CONTEXT_DOCUMENT_ROOT',
  'REQUEST_SCHEME',
  'HTTPS',
  'REMOTE_PORT',
  'SERVER_ADDR',
  'SERVER_ADMIN',
  'SERVER_SIGNATURE',
  'REDIRECT_STATUS',
  'REDIRECT_URL',
  'REDIRECT_QUERY_STRING',
  'ORIG_PATH_INFO',
  'ORIG_SCRIPT_NAME',
  'FCGI_ROLE',
  'PHP_SELF',
  'UNIQUE_ID',
]);

/** True for a variable that describes the request: a CGI meta-variable, a header (HTTP_*), TLS (SSL_*). */
export function isRequestVariable(name: string): boolean {
  return REQUEST_VARIABLES.has(name) || name.startsWith('HTTP_') || name.startsWith('SSL_');
}

function redactVars(vars: Readonly<Record<string, string>>): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    if (!isRequestVariable(name)) continue;
    shown[name] = isSecretName(name) ? redactedValue(value) : value;
  }
  return shown;
}

function redactChange(change: VariableChange): VariableChange {
  if (!isSecretName(change.name)) return change;
  return {
    name: change.name,
    ...(change.before !== undefined ? { before: redactedValue(change.before) } : {}),
    ...(change.after !== undefined ? { after: redactedValue(change.after) } : {}),
  };
}

/**
 * The explanation as a client may see it: request variables only (the number of others hidden is kept), and
 * credentials (`Authorization`, `Cookie`, names saying PASSWORD, SECRET, TOKEN, KEY, …) as `<redacted, N bytes>`.
 */
export function redactExplanation(explanation: Explanation): Explanation {
  const hidden = Object.keys(explanation.raw).filter((name) => !isRequestVariable(name)).length;
  return {
    ...explanation,
    raw: redactVars(explanation.raw),
    environ: redactVars(explanation.environ),
    changes: explanation.changes.filter((change) => isRequestVariable(change.name)).map(redactChange),
    hidden,
  };
}
