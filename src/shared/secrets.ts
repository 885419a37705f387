// Which request and environment values are secrets: written once for everything that shows variables to
// someone (tsgi explain answers any client of the web server it is installed under; issue 11).

// Headers that carry credentials whatever their value looks like (RFC 9110 §11.6.2, §11.7.2; RFC 6265 §5.4).
const SECRET_HEADERS = new Set(['HTTP_AUTHORIZATION', 'HTTP_PROXY_AUTHORIZATION', 'HTTP_COOKIE']);

// A name that says it holds a secret: DB_PASSWORD, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, HTTP_X_API_KEY, …
// Whole words only, so KEYBOARD_LAYOUT or MONKEY stay readable.
const SECRET_WORDS =
  /(?:^|_)(?:PASSWORD|PASSWD|PASS|SECRET|TOKEN|KEY|APIKEY|CREDENTIALS?|PRIVATE|SESSION|AUTH)(?:_|$)/i;

/** True when the variable `name` (a CGI meta-variable or an environment variable) holds a secret. */
export function isSecretName(name: string): boolean {
  if (SECRET_HEADERS.has(name.toUpperCase())) return true;
  return SECRET_WORDS.test(name) && !NOT_SECRET.has(name.toUpperCase());
}

// Request variables whose names match the words above but that every CGI program may show (RFC 3875 §4.1.1).
const NOT_SECRET = new Set(['AUTH_TYPE']);

/** What is shown instead of a secret value: its length, so a missing or truncated credential still shows. */
export function redactedValue(value: string): string {
  return `<redacted, ${Buffer.byteLength(value, 'latin1')} bytes>`;
}
