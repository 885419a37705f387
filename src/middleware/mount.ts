// mount(): path-prefix (and optionally host) dispatch that moves the matched prefix from PATH_INFO to SCRIPT_NAME.
import { bytesToLatin1 } from '../shared/encoding.js';
import { getVar } from '../shared/environ.js';
import { TsgiError } from '../shared/errors.js';
import type { Application, Environ } from '../shared/types.js';

/**
 * Mount points and their applications: `'/api'`, `'/'` (everything else), or with a host,
 * `'http://admin.example.com/'` / `'//admin.example.com/tools'` (the scheme is ignored).
 */
export type MountMap = Readonly<Record<string, Application>>;

interface MountPoint {
  /** Lower-case host name, or undefined for any host. */
  readonly host: string | undefined;
  /** The prefix as environ text (latin1 of its UTF-8 bytes), without a trailing "/"; "" for the root. */
  readonly location: string;
  readonly app: Application;
}

const HOST_KEY = /^(?:https?:)?\/\/([^/]+)(\/.*)?$/i;
const NOT_FOUND = new TextEncoder().encode('Not Found\n');

function parseMountPoint(key: string, app: Application): MountPoint {
  if (typeof app !== 'function') {
    throw new TsgiError(
      'ERR_MOUNT',
      `tsgi mount: the value for ${JSON.stringify(key)} is not an application`,
    );
  }
  const hostMatch = HOST_KEY.exec(key);
  const path = hostMatch ? (hostMatch[2] ?? '/') : key;
  if (!path.startsWith('/')) {
    throw new TsgiError(
      'ERR_MOUNT',
      `tsgi mount: ${JSON.stringify(key)} is not a mount point; use a path starting with "/" or "http://host/path"`,
    );
  }
  // PATH_INFO holds the request's bytes as latin1 (PEP 3333), so a prefix with "é" must be compared as its
  // UTF-8 bytes, the way a client sends it.
  const location = bytesToLatin1(new TextEncoder().encode(path.replace(/\/+$/, '')));
  return { host: hostMatch?.[1]?.toLowerCase().replace(/:\d+$/, ''), location, app };
}

/** The request's host without the port: HTTP_HOST, else SERVER_NAME (PEP 3333 URL reconstruction). */
function requestHost(environ: Environ): string {
  const host = getVar(environ, 'HTTP_HOST') || environ.SERVER_NAME;
  return host
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1');
}

/**
 * Dispatches on path prefixes, as Rack's `URLMap`, Plack's `mount` and wsgiref's `shift_path_info`: the
 * longest matching prefix wins, and it moves from PATH_INFO to the end of SCRIPT_NAME, so each application
 * sees itself mounted at its prefix and builds its URLs from SCRIPT_NAME. A prefix matches whole segments
 * only (`/api` serves `/api` and `/api/x`, not `/apix`). Entries with a host come before entries without
 * one, the longer host first. Mounts nest. Nothing matched: `404 Not Found`.
 *
 * @example
 * export default mount({ '/api': api, '/static': files, '/': site });
 */
export function mount(map: MountMap): Application {
  const points = Object.entries(map)
    .map(([key, app]) => parseMountPoint(key, app))
    .sort((a, b) => {
      if ((a.host === undefined) !== (b.host === undefined)) return a.host === undefined ? 1 : -1;
      const byHost = (b.host?.length ?? 0) - (a.host?.length ?? 0);
      return byHost !== 0 ? byHost : b.location.length - a.location.length;
    });

  return function mounted(environ, startResponse) {
    const path = environ.PATH_INFO;
    const host = points.some((point) => point.host !== undefined) ? requestHost(environ) : undefined;
    for (const point of points) {
      if (point.host !== undefined && point.host !== host) continue;
      const { location } = point;
      if (location !== '' && path !== location && !path.startsWith(location + '/')) continue;
      const inner: Environ = {
        ...environ,
        SCRIPT_NAME: environ.SCRIPT_NAME + location,
        PATH_INFO: path.slice(location.length),
      };
      return point.app(inner, startResponse);
    }
    startResponse('404 Not Found', [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(NOT_FOUND.byteLength)],
    ]);
    return [NOT_FOUND];
  };
}
