// Request headers as CGI meta-variables (RFC 3875 §4.1.18): one rule for every front end that reads headers
// itself (node:http, fetch), so the same request gives the same HTTP_* variables on each.

/**
 * Adds one request header field to `vars` as `HTTP_<NAME>` (upper case, `-` as `_`). Skipped: Content-Type and
 * Content-Length (CONTENT_TYPE and CONTENT_LENGTH carry them), and any name with `_`, which would share a
 * variable with its `-` twin (`X_User` forging the `X-User` a proxy sets; Apache and nginx drop them too).
 * A repeated field joins the earlier value with ", " (RFC 9110 §5.3), Cookie with "; " (RFC 6265 §5.4).
 */
export function addHeaderVariable(
  vars: Record<string, string | undefined>,
  name: string,
  value: string,
): void {
  const lower = name.toLowerCase();
  if (lower === 'content-type' || lower === 'content-length' || name.includes('_')) return;
  const key = 'HTTP_' + name.toUpperCase().replaceAll('-', '_');
  const previous = vars[key];
  vars[key] = previous === undefined ? value : previous + (lower === 'cookie' ? '; ' : ', ') + value;
}
