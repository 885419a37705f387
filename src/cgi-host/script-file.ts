// Which file under a script root a request names, and whether it may be run: the rules `--scripts` and
// `--cgi-bin` share (PHP-FPM's security.limit_extensions and more, issue 12).
import type { Stats } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';
import { nodeBuiltin } from '../shared/node-builtins.js';

const realpathSync = (path: string): string => nodeBuiltin('node:fs').realpathSync(path);
const statSync = (path: string): Stats => nodeBuiltin('node:fs').statSync(path);
import type { Environ } from '../shared/types.js';

/** What a directory of scripts accepts besides the shared rules (an extension, the execute bit). */
export type AcceptFile = (file: string, stat: Stats) => boolean;

/** A request that names a runnable file, and how the request path splits around it. */
export interface ScriptFound {
  readonly found: true;
  /** The file after resolving symlinks (always under the root's real path). */
  readonly file: string;
  /** The request's SCRIPT_NAME and PATH_INFO: as the web server split them, or as split here (no SCRIPT_FILENAME). */
  readonly scriptName: string;
  readonly pathInfo: string;
}

/** A request that names nothing runnable: 404 (nothing there, as far as the web knows) or 403 (refused). */
export interface ScriptRefused {
  readonly found: false;
  readonly status: 404 | 403;
  /** For the operator's log only: never sent to the client (it would describe the file system). */
  readonly reason: string;
}

export type ScriptLookup = ScriptFound | ScriptRefused;

// Apache's mod_proxy_fcgi with `ProxyFCGIBackendType GENERIC` sends SCRIPT_FILENAME as
// "proxy:fcgi://HOST:PORT/path"; PHP-FPM strips the same prefix.
const PROXY_PREFIX = /^proxy:fcgi:\/\/[^/]*/;

const refuse = (status: 404 | 403, reason: string): ScriptRefused => ({ found: false, status, reason });

/** A root directory of scripts, resolved once: its real path and the rules every file under it must pass. */
export class ScriptRoot {
  /** The root as given (nginx's $document_root is usually this, not the real path). */
  readonly given: string;
  /** The root after resolving symlinks. */
  readonly real: string;
  private readonly accept: AcceptFile;

  constructor(root: string, accept: AcceptFile) {
    this.accept = accept;
    this.given = resolve(root);
    this.real = realpathSync(this.given);
    if (!statSync(this.real).isDirectory()) throw new Error(`${root} is not a directory`);
  }

  /**
   * The file `environ` names: SCRIPT_FILENAME when the web server sent one (nginx
   * `$document_root$fastcgi_script_name`, Apache mod_proxy_fcgi), else the first path segment under the root
   * that is an accepted file (the development server, which has no document root of its own).
   */
  locate(environ: Environ): ScriptLookup {
    const filename = environ.SCRIPT_FILENAME;
    if (typeof filename === 'string' && filename !== '') {
      const checked = this.check(filename.replace(PROXY_PREFIX, ''), environ.SCRIPT_NAME);
      if (!checked.found) return checked;
      return { ...checked, scriptName: environ.SCRIPT_NAME, pathInfo: environ.PATH_INFO };
    }
    return this.split(environ.SCRIPT_NAME, environ.PATH_INFO);
  }

  /** The rules for one candidate path: under the root after symlinks, no dotfile, a regular file, accepted. */
  check(path: string, urlPath = ''): ScriptLookup {
    if (!isAbsolute(path)) return refuse(404, `SCRIPT_FILENAME ${JSON.stringify(path)} is not absolute`);
    // A dot segment in the URL too: "/.git/x.js" must not run even when the file system has no dotfile rule.
    if (hasDotSegment(urlPath)) return refuse(404, `${urlPath} has a dot segment`);
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      return refuse(404, `${path} does not exist`);
    }
    if (!real.startsWith(this.real + sep)) return refuse(404, `${path} resolves outside the root (${real})`);
    if (hasDotSegment(real.slice(this.real.length))) return refuse(404, `${path} is a dotfile`);
    let stat: Stats;
    try {
      stat = statSync(real);
    } catch {
      return refuse(404, `${path} vanished`);
    }
    if (!stat.isFile()) return refuse(404, `${path} is not a regular file`);
    // Anyone else who can write the file can run code as this process: never load it (FPM has no such rule).
    if ((stat.mode & 0o022) !== 0)
      return refuse(403, `${path} is writable by group or others (mode ${(stat.mode & 0o777).toString(8)})`);
    if (!this.accept(real, stat)) return refuse(403, `${path} is not an allowed script`);
    return { found: true, file: real, scriptName: '', pathInfo: '' };
  }

  // Walks the request path segment by segment, as Apache does for PATH_INFO: the first segment that is a file
  // ends SCRIPT_NAME; the rest is PATH_INFO.
  private split(scriptName: string, pathInfo: string): ScriptLookup {
    const segments = pathInfo.split('/');
    let path = this.given;
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i]!;
      if (segment === '' || segment.startsWith('.')) return refuse(404, `${pathInfo} names no script`);
      path += `/${segment}`;
      let stat: Stats;
      try {
        stat = statSync(path);
      } catch {
        return refuse(404, `${path} does not exist`);
      }
      if (stat.isDirectory()) continue;
      const checked = this.check(path);
      if (!checked.found) return checked;
      const head = segments.slice(0, i + 1).join('/');
      return { ...checked, scriptName: scriptName + head, pathInfo: pathInfo.slice(head.length) };
    }
    return refuse(404, `${pathInfo || '/'} names a directory, not a script`);
  }
}

function hasDotSegment(path: string): boolean {
  return path.includes('/.');
}
