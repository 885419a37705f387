// Checks on the variables one real request carried: SCRIPT_NAME/PATH_INFO split, REQUEST_URI, Authorization,
// the Proxy header (httpoxy), and FCGI_WEB_SERVER_ADDRS against the web server's address.
import { isIP } from 'node:net';
import { unquoteToLatin1 } from '../../shared/encoding.js';
import { parseWebServerAddrs } from '../../fastcgi/web-server-addrs.js';
import type { CapturedRequest } from '../explain.js';
import { Severity, type Finding } from './findings.js';
import { plainAddress } from '../../shared/peer-address.js';

/** What `tsgi doctor --url` sent itself, so that what is missing on arrival is known for certain. */
export interface Probe {
  /** The path suffix requested after the mount; it must come back as the end of PATH_INFO. */
  readonly pathSuffix: string;
  /** The Authorization header value sent. */
  readonly authorization: string;
  /** The Proxy header value sent (httpoxy). */
  readonly proxy: string;
}

/** The probe doctor sends: a recognisable path, Basic credentials tsgi:doctor, and a Proxy header. */
export const DOCTOR_PROBE: Probe = {
  pathSuffix: '/tsgi-doctor/path-info',
  authorization: 'Basic dHNnaTpkb2N0b3I=',
  proxy: 'http://tsgi-doctor.invalid:3128',
};

const SPLIT_FIX = {
  nginx: `location ~ ^/app(/|$) {
    fastcgi_split_path_info ^(/app)((?s)/.*)?$;
    # try_files clears $fastcgi_path_info (nginx ticket #321): keep a copy first, or drop try_files
    set $path_info $fastcgi_path_info;
    include fastcgi_params;
    fastcgi_param PATH_INFO $path_info;
    fastcgi_pass 127.0.0.1:9000;
}`,
  apache: `<LocationMatch "^/app(/|$)">
    ProxyFCGISetEnvIf "reqenv('SCRIPT_NAME') =~ m#^/app(/.*)#" PATH_INFO "$1"
    ProxyFCGISetEnvIf true SCRIPT_NAME "/app"
</LocationMatch>`,
  lighttpd: `fastcgi.server = ( "/app" => (( "socket" => "/run/tsgi/app.sock", "check-local" => "disable" )) )`,
};

/** The decoded path of REQUEST_URI (no query), as SCRIPT_NAME and PATH_INFO are decoded. */
function requestPath(vars: Readonly<Record<string, string>>): string | undefined {
  const uri = vars.REQUEST_URI;
  if (uri === undefined) return undefined;
  const path = uri.split('?', 1)[0] ?? '';
  // An absolute-form request target (http://host/path) keeps only its path.
  return unquoteToLatin1(path.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, ''));
}

/** Findings for one captured request; `probe` when doctor sent the request itself. */
export function checkRequestVars(request: CapturedRequest, probe?: Probe): Finding[] {
  const vars = request.vars;
  const findings: Finding[] = [];
  const scriptName = vars.SCRIPT_NAME;
  const pathInfo = vars.PATH_INFO ?? '';
  if (vars.REQUEST_METHOD === undefined) {
    findings.push({
      id: 'missing-request-method',
      severity: Severity.Error,
      title: 'REQUEST_METHOD is missing: tsgi answers every request 400',
      fix: { nginx: 'include fastcgi_params;   # the stock list sets REQUEST_METHOD $request_method' },
    });
  }
  if (scriptName === undefined) {
    findings.push({
      id: 'missing-script-name',
      severity: Severity.Error,
      title:
        'SCRIPT_NAME is missing: the app cannot tell its mount point, so its links and redirects go wrong',
      detail:
        'RFC 3875 §4.1.13 requires it; tsgi sets it to "" and PEP 3333 apps then build URLs from the site root.',
      fix: {
        nginx: `include fastcgi_params;   # sets SCRIPT_NAME $fastcgi_script_name\n${SPLIT_FIX.nginx}`,
        apache: SPLIT_FIX.apache,
        lighttpd: SPLIT_FIX.lighttpd,
      },
    });
  }
  if (vars.REQUEST_URI === undefined) {
    findings.push({
      id: 'missing-request-uri',
      severity: Severity.Warning,
      title: 'REQUEST_URI is missing: tsgi rebuilds it from SCRIPT_NAME + PATH_INFO + QUERY_STRING',
      detail: "The client's exact bytes (percent-encoding, double slashes) are lost in the rebuilt one.",
      fix: { nginx: 'fastcgi_param REQUEST_URI $request_uri;   # part of the stock fastcgi_params' },
    });
  }
  const path = requestPath(vars);
  const suffixLost = probe !== undefined && !pathInfo.endsWith(probe.pathSuffix);
  const continues =
    path !== undefined &&
    scriptName !== undefined &&
    path.startsWith(scriptName) &&
    path.length > scriptName.length;
  if (suffixLost || (pathInfo === '' && continues)) {
    findings.push({
      id: 'empty-path-info',
      severity: Severity.Error,
      title: `PATH_INFO is ${JSON.stringify(pathInfo)} but the request path was ${JSON.stringify(path ?? '?')} (SCRIPT_NAME ${JSON.stringify(scriptName ?? '')})`,
      detail:
        'The part of the path after the mount must arrive as PATH_INFO, or every route of the app gets the same request. nginx: try_files resets $fastcgi_path_info, and without fastcgi_split_path_info the whole path lands in SCRIPT_NAME.',
      fix: SPLIT_FIX,
    });
  }
  if (probe !== undefined && vars.HTTP_AUTHORIZATION === undefined) {
    findings.push({
      id: 'missing-authorization',
      severity: Severity.Error,
      title: 'the Authorization header did not reach the app (no HTTP_AUTHORIZATION)',
      detail:
        'Apache keeps Authorization from CGI programs and mod_fcgid unless told otherwise, so HTTP Basic/Bearer auth in the app never sees credentials.',
      fix: {
        apache: `# mod_cgi / mod_cgid (Apache 2.4.13+), in the script's <Directory> or <Location>:
CGIPassAuth On
# mod_fcgid:
FcgidPassHeader Authorization
# older Apache:
SetEnvIf Authorization "(.*)" HTTP_AUTHORIZATION=$1`,
        nginx: 'nginx passes it as HTTP_AUTHORIZATION; remove any fastcgi_param HTTP_AUTHORIZATION "" line',
        lighttpd: 'lighttpd passes it; check for setenv.set-request-header removing Authorization',
      },
    });
  }
  if (vars.HTTP_PROXY !== undefined && vars.HTTP_PROXY !== '') {
    findings.push({
      id: 'httpoxy',
      severity: Severity.Warning,
      title: `the client's Proxy header arrived as HTTP_PROXY=${JSON.stringify(vars.HTTP_PROXY)} (httpoxy, CVE-2016-5385)`,
      detail:
        'tsgi never uses it as a proxy (and removes it from process.env under CGI), but other CGI/FastCGI programs on this server would send their outbound requests through the client-chosen proxy.',
      fix: {
        nginx: 'fastcgi_param HTTP_PROXY "";',
        apache: 'RequestHeader unset Proxy early   # a2enmod headers',
        lighttpd: 'setenv.set-request-header = ( "Proxy" => "" )   # server.modules += ( "mod_setenv" )',
      },
    });
  }
  return findings;
}

function isLoopback(address: string): boolean {
  const plain = plainAddress(address);
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/** FCGI_WEB_SERVER_ADDRS (FastCGI §3.2) against the address a request came from; nothing for unix sockets. */
export function checkPeer(webServerAddrs: string | undefined, peer: string | undefined): Finding[] {
  if (peer === undefined) return [];
  let filter;
  try {
    filter = parseWebServerAddrs(webServerAddrs);
  } catch (error) {
    return [{ id: 'web-server-addrs-invalid', severity: Severity.Error, title: (error as Error).message }];
  }
  const plain = plainAddress(peer);
  if (filter === undefined) {
    if (isLoopback(peer)) return [];
    return [
      {
        id: 'web-server-addrs-unset',
        severity: Severity.Warning,
        title: `the web server connects from ${plain} and FCGI_WEB_SERVER_ADDRS is unset: anyone who reaches the port can send requests`,
        fix: {
          tsgi: `FCGI_WEB_SERVER_ADDRS=${plain} tsgi fastcgi app.js --listen 0.0.0.0:9000   (or --web-server-addrs ${plain})`,
        },
      },
    ];
  }
  if (filter.allows(peer)) {
    return [
      {
        id: 'web-server-addrs-ok',
        severity: Severity.Ok,
        title: `FCGI_WEB_SERVER_ADDRS allows the web server at ${plain}`,
      },
    ];
  }
  return [
    {
      id: 'web-server-addrs',
      severity: Severity.Error,
      title: `FCGI_WEB_SERVER_ADDRS=${filter.description} does not include the web server's address ${plain}: the listener closes its connections`,
      detail: 'nginx then logs "upstream prematurely closed connection" and answers 502.',
      fix: {
        tsgi: `FCGI_WEB_SERVER_ADDRS=${filter.description},${plain}   (or --web-server-addrs ${filter.description},${plain})`,
      },
    },
  ];
}
