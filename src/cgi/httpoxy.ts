// httpoxy (CVE-2016-5385): the `Proxy:` request header arrives as HTTP_PROXY and must not configure outbound proxies.

/**
 * Removes `HTTP_PROXY` from `env` (default `process.env`) and reports whether it was there.
 *
 * Why only the upper-case name: RFC 3875 §4.1.18 builds meta-variables from request headers by upper-casing the
 * name and prefixing `HTTP_`, so a client's `Proxy:` header can only ever produce `HTTP_PROXY`. Tools that honour
 * an upper-case `HTTP_PROXY` (Go's net/http outside CGI, Python requests, wget, many SDKs) would send a child
 * process's outbound requests through the client's proxy. Lower-case `http_proxy` cannot come from a request, so
 * it stays: it is how an administrator sets an outbound proxy for CGI programs (`SetEnv http_proxy …`; curl reads
 * only the lower-case name for this same reason). The request header itself is not lost: the environ built for
 * the application is read from the original environment block and still carries `HTTP_PROXY`.
 */
export function removeHttpoxy(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!Object.prototype.hasOwnProperty.call(env, 'HTTP_PROXY')) return false;
  delete env.HTTP_PROXY;
  return true;
}
