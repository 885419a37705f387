// Named fix-ups for what real web servers send, one function per quirk, each citing the server and the evidence.
import { quotePath, unquoteToLatin1 } from './encoding.js';

/** Request variables while the environ is being built: a quirk edits them in place. */
export type RequestVars = Record<string, string | undefined>;

/**
 * A quirk fix-up: edits `vars` in place and returns a one-line note when it changed something (shown by
 * `tsgi explain` through `EnvironOptions.onStep`), `undefined` when it did nothing.
 */
export type Quirk = (vars: RequestVars) => string | undefined;

/**
 * nginx's stock `fastcgi_params` passes `CONTENT_TYPE $content_type` and `CONTENT_LENGTH $content_length`, which
 * are empty on a GET. RFC 3875 §4.1: an empty value and an unset one are the same, so drop the empty ones
 * (plack/Plack lib/Plack/Handler/FCGI.pm: "typical fastcgi_param from nginx might get empty values").
 */
export function dropEmptyContentVars(vars: RequestVars): string | undefined {
  const dropped = ['CONTENT_TYPE', 'CONTENT_LENGTH'].filter((name) => vars[name] === '');
  for (const name of dropped) delete vars[name];
  return dropped.length > 0
    ? `dropEmptyContentVars: removed empty ${dropped.join(', ')} (nginx fastcgi_params)`
    : undefined;
}

/**
 * RFC 3875 §4.1.18: the server SHOULD NOT pass `Content-Type`/`Content-Length` request headers as `HTTP_*`;
 * some do (Apache with some modules, hand-written FastCGI params). They duplicate CONTENT_TYPE/CONTENT_LENGTH and
 * a disagreeing copy is a smuggling vector, so drop them (Plack handlers, wsgiref validate and Rack::Lint all
 * forbid them). CONTENT_LENGTH stays the only body length.
 */
export function dropHttpContentDuplicates(vars: RequestVars): string | undefined {
  const dropped = ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH'].filter((name) => vars[name] !== undefined);
  for (const name of dropped) delete vars[name];
  return dropped.length > 0
    ? `dropHttpContentDuplicates: removed ${dropped.join(', ')} (RFC 3875 §4.1.18)`
    : undefined;
}

/**
 * RFC 3875 §4.1.16: a server-side include sets SERVER_PROTOCOL to `INCLUDED`; treat it as HTTP/1.0, as Go's
 * CGI child does (golang/go src/net/http/cgi/child_test.go).
 */
export function protocolIncluded(vars: RequestVars): string | undefined {
  if (vars.SERVER_PROTOCOL !== 'INCLUDED') return undefined;
  vars.SERVER_PROTOCOL = 'HTTP/1.0';
  return 'protocolIncluded: SERVER_PROTOCOL INCLUDED read as HTTP/1.0 (RFC 3875 §4.1.16)';
}

/**
 * mod_fastcgi (and nginx without `fastcgi_split_path_info`) omit PATH_INFO for an app mounted at the root;
 * PEP 3333 requires the key, and "" is what RFC 3875 §4.1.5 means by an absent path (plack/Plack
 * lib/Plack/Handler/FCGI.pm defaults it).
 */
export function defaultPathInfo(vars: RequestVars): string | undefined {
  if (vars.PATH_INFO !== undefined) return undefined;
  vars.PATH_INFO = '';
  return 'defaultPathInfo: PATH_INFO missing, set to "" (mod_fastcgi at the root)';
}

/**
 * Servers mounting an app at the root may send SCRIPT_NAME `/` (lighttpd, some FastCGI setups; plack/Plack#308).
 * PEP 3333 / Rack::Lint: SCRIPT_NAME is "" or starts with "/" and does not end with it, so move the slash into
 * PATH_INFO, keeping SCRIPT_NAME + PATH_INFO byte for byte (plack/Plack lib/Plack/Handler/CGI.pm does the same).
 */
export function normalizeRootScriptName(vars: RequestVars): string | undefined {
  if (vars.SCRIPT_NAME !== '/') return undefined;
  vars.SCRIPT_NAME = '';
  vars.PATH_INFO = `/${vars.PATH_INFO ?? ''}`;
  return `normalizeRootScriptName: SCRIPT_NAME "/" became "", PATH_INFO is now ${JSON.stringify(vars.PATH_INFO)}`;
}

/**
 * REQUEST_URI is not in RFC 3875; Apache, nginx and lighttpd send it, IIS and some CGI servers do not. Rebuild it
 * from SCRIPT_NAME + PATH_INFO + `?` QUERY_STRING as Go's CGI child does (golang/go src/net/http/cgi/child.go),
 * percent-encoding the decoded path so the result is a valid request target.
 */
export function fillRequestUri(vars: RequestVars): string | undefined {
  if (vars.REQUEST_URI !== undefined) return undefined;
  const query = vars.QUERY_STRING ? `?${vars.QUERY_STRING}` : '';
  vars.REQUEST_URI = quotePath(`${vars.SCRIPT_NAME ?? ''}${vars.PATH_INFO ?? ''}`) + query;
  return `fillRequestUri: REQUEST_URI missing, rebuilt as ${JSON.stringify(vars.REQUEST_URI)}`;
}

/**
 * The safe quirks `buildEnviron` applies, in this order: empty vars go first so later steps see "unset";
 * PATH_INFO exists before the root SCRIPT_NAME fix moves a slash into it; REQUEST_URI is rebuilt last, from the
 * final SCRIPT_NAME and PATH_INFO.
 */
export const DEFAULT_QUIRKS: readonly Quirk[] = [
  dropEmptyContentVars,
  dropHttpContentDuplicates,
  protocolIncluded,
  defaultPathInfo,
  normalizeRootScriptName,
  fillRequestUri,
];

/**
 * Opt-in (deployment-dependent, so not applied by default): lighttpd merges `//` into `/` in PATH_INFO, and
 * older versions split it wrongly at the root. Rebuild PATH_INFO from the raw REQUEST_URI minus SCRIPT_NAME
 * (plack/Plack lib/Plack/Handler/FCGI.pm, "lighttpd munges multiple slashes in PATH_INFO into one"). Does
 * nothing when REQUEST_URI is missing or its decoded path does not start with SCRIPT_NAME.
 */
export function lighttpdPathInfo(vars: RequestVars): string | undefined {
  if (vars.REQUEST_URI === undefined) return undefined;
  const rawPath = vars.REQUEST_URI.split('?', 1)[0] as string;
  const path = unquoteToLatin1(rawPath);
  const scriptName = vars.SCRIPT_NAME ?? '';
  if (!path.startsWith(scriptName)) return undefined;
  const pathInfo = path.slice(scriptName.length);
  if (pathInfo !== '' && !pathInfo.startsWith('/')) return undefined;
  if (pathInfo === vars.PATH_INFO) return undefined;
  vars.PATH_INFO = pathInfo;
  return `lighttpdPathInfo: PATH_INFO rebuilt from REQUEST_URI as ${JSON.stringify(pathInfo)}`;
}

/**
 * Opt-in: IIS (CGI, without `allowPathInfoForScriptMappings`) puts SCRIPT_NAME again at the front of PATH_INFO
 * (python/cpython Lib/wsgiref/handlers.py, IISCGIHandler: "workaround for IIS path bug"). Strip it.
 */
export function iisPathInfo(vars: RequestVars): string | undefined {
  const scriptName = vars.SCRIPT_NAME ?? '';
  const pathInfo = vars.PATH_INFO ?? '';
  // Only a whole leading segment: SCRIPT_NAME "/app" must not cut "/apple" down to "le".
  const rest = pathInfo.slice(scriptName.length);
  if (scriptName === '' || !pathInfo.startsWith(scriptName) || !(rest === '' || rest.startsWith('/'))) {
    return undefined;
  }
  vars.PATH_INFO = rest;
  return `iisPathInfo: removed SCRIPT_NAME repeated at the start of PATH_INFO`;
}

/**
 * True when the request came over TLS. No RFC 3875 variable says so; servers set `HTTPS` to `on` (Apache,
 * nginx), `ON`, `1` or `yes` (golang/go cgi/child.go, wsgiref util.guess_scheme), or `REQUEST_SCHEME=https`.
 */
export function isHttps(vars: Readonly<Record<string, string | undefined>>): boolean {
  const https = vars.HTTPS?.toLowerCase();
  return https === 'on' || https === '1' || https === 'yes' || vars.REQUEST_SCHEME?.toLowerCase() === 'https';
}
