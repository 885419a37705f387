// Helpers for the FastCGI Authorizer role (spec §6.3): `Variable-NAME` response headers that pass variables on.
import { ValidationError } from '../shared/errors.js';
import type { Environ, Header } from '../shared/types.js';

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S6.3 (Authorizer)

/** The header-name prefix that turns an Authorizer's 200 response header into a variable for later requests. */
export const AUTHORIZER_VARIABLE_PREFIX = 'Variable-';

// An environment-variable-like name: what a web server can export (Apache turns them into request env vars).
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The header that makes an Authorizer pass `name=value` to the web server (§6.3: on a 200 response, each
 * `Variable-NAME: value` header becomes a variable for the authorized request). Throws ValidationError for a
 * name a web server could not export or a value with a control character.
 */
export function authorizerVariable(name: string, value: string): Header {
  if (!VARIABLE_NAME.test(name)) {
    throw new ValidationError(
      'ERR_AUTHORIZER_VARIABLE',
      `tsgi fastcgi: authorizer variable name ${JSON.stringify(name)} must be letters, digits and "_", not starting with a digit`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(value)) {
    throw new ValidationError(
      'ERR_AUTHORIZER_VARIABLE',
      `tsgi fastcgi: authorizer variable ${name} has a control character or a char above U+00FF in its value`,
    );
  }
  return [AUTHORIZER_VARIABLE_PREFIX + name, value];
}

/** True when the request came in with the Authorizer role (`tsgi.fastcgi.role` is `"authorizer"`). */
export function isAuthorizerRequest(environ: Environ): boolean {
  return environ['tsgi.fastcgi.role'] === 'authorizer';
}
