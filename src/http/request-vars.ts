// Turns a node:http (or http2 compatibility) request into the RFC 3875 variable map that buildEnviron reads.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { plainAddress } from '../shared/peer-address.js';
import { addHeaderVariable } from '../shared/header-vars.js';

/** A request as node:http, https and the http2 compatibility API hand it to a listener. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;

/** The variable map for buildEnviron: ISO-8859-1 strings, one character per byte of the request. */
export type RequestVars = Record<string, string | undefined>;

// Matches one %XX escape; anything else after '%' is kept as-is, as Apache and nginx do.
const PERCENT_ESCAPE = /%([0-9A-Fa-f]{2})/g;

// An absolute-form request target (RFC 9112 §3.2.2), sent to proxies: the path starts after the authority.
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/**
 * Percent-decodes a request path byte for byte: `%FF` becomes the single character U+00FF, so that the
 * ISO-8859-1 string carries exactly the bytes the client meant (PEP 3333's encoding rule; wsgiref's
 * `unquote(path, 'iso-8859-1')`). Node hands the raw target over as ISO-8859-1 already.
 */
export function percentDecodeLatin1(path: string): string {
  if (!path.includes('%')) return path;
  return path.replace(PERCENT_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Host and port of a `Host` value; an IPv6 literal keeps its brackets so that URLs rebuilt from it stay valid. */
function splitHost(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

// Express (and Connect-style routers) strip a mount prefix from req.url and keep it in req.baseUrl, with the
// untouched target in req.originalUrl: that prefix is exactly CGI's SCRIPT_NAME (PEP 3333 "URL reconstruction").
interface MountedRequest {
  baseUrl?: unknown;
  originalUrl?: unknown;
}

/** SCRIPT_NAME, PATH_INFO, QUERY_STRING and REQUEST_URI from the request target. */
function targetVars(req: NodeRequest, vars: RequestVars): void {
  let target = req.url ?? '/';
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute !== null) target = target.slice(absolute[0].length) || '/';
  const question = target.indexOf('?');
  const path = question === -1 ? target : target.slice(0, question);
  vars.QUERY_STRING = question === -1 ? '' : target.slice(question + 1);

  const { baseUrl, originalUrl } = req as MountedRequest;
  if (typeof baseUrl === 'string' && baseUrl !== '' && typeof originalUrl === 'string') {
    vars.SCRIPT_NAME = percentDecodeLatin1(baseUrl);
    vars.REQUEST_URI = originalUrl;
    // Express hands '/' to a handler mounted at '/api' for a request to '/api'; CGI says PATH_INFO is empty.
    const originalPath = originalUrl.split('?', 1)[0];
    vars.PATH_INFO = originalPath === baseUrl ? '' : percentDecodeLatin1(path);
    return;
  }
  vars.SCRIPT_NAME = '';
  vars.PATH_INFO = percentDecodeLatin1(path);
  vars.REQUEST_URI = target;
}

/**
 * The RFC 3875 variables of one node:http request: what a CGI server would set for the same request. Header
 * names with `_` are left out, as Apache httpd 2.4 and nginx (`underscores_in_headers off`) do: `X_User` and
 * `X-User` would both become `HTTP_X_USER`, letting a client forge a header a proxy in front sets.
 */
export function requestVars(req: NodeRequest): RequestVars {
  const socket = req.socket as NodeRequest['socket'] & { encrypted?: boolean };
  const vars: RequestVars = {
    REQUEST_METHOD: req.method,
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REMOTE_ADDR: plainAddress(socket.remoteAddress),
    REMOTE_PORT: socket.remotePort === undefined ? undefined : String(socket.remotePort),
    SERVER_PORT: socket.localPort === undefined ? undefined : String(socket.localPort),
  };
  targetVars(req, vars);

  let authority: string | undefined;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.startsWith(':')) {
      // HTTP/2 pseudo-headers: only :authority carries a request header (RFC 9113 §8.3.1: it replaces Host).
      if (name === ':authority') authority = value;
      continue;
    }
    addHeaderVariable(vars, name, value);
  }
  // Node has already refused conflicting or malformed Content-Length values (request smuggling) with a 400.
  vars.CONTENT_TYPE = req.headers['content-type'];
  vars.CONTENT_LENGTH = req.headers['content-length'];

  vars.HTTP_HOST ??= authority;
  const host = vars.HTTP_HOST;
  if (host !== undefined && host !== '') {
    vars.SERVER_NAME = splitHost(host);
  } else {
    const local = plainAddress(socket.localAddress);
    vars.SERVER_NAME = local?.includes(':') ? `[${local}]` : local;
  }
  if (socket.encrypted === true) vars.HTTPS = 'on';
  // A unix socket has no port: the one the client addressed (Host), else the scheme's default, as a server
  // behind a socket-forwarding proxy would report it.
  if (vars.SERVER_PORT === undefined) {
    vars.SERVER_PORT = /:(\d+)$/.exec(host ?? '')?.[1] ?? (socket.encrypted === true ? '443' : '80');
  }
  return vars;
}
