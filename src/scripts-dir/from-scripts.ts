// A directory of tsgi scripts served as one application: PHP's deployment model (issue 12, part 1).
import { extname } from 'node:path';
import { ScriptRoot, type ScriptFound } from '../cgi-host/script-file.js';
import { plainPage } from '../cgi-host/plain-page.js';
import type { InputStamp } from '../deploy/transpile-cache.js';
import type { Application, Body, Environ, StartResponse } from '../shared/types.js';
import { isStale, loadScript, ScriptLoadError } from './load-script.js';

/** Options of {@link fromScripts}. */
export interface ScriptsOptions {
  /** Check a script's files for changes at most this often, in ms (default 1000, opcache's revalidate_freq 1 s). */
  revalidateMs?: number;
  /** Scripts kept loaded at once in this process; the least recently used is dropped past it (default 256). */
  maxScripts?: number;
  /** File extensions that may be scripts (default .ts, .mts, .js, .mjs). */
  extensions?: readonly string[];
  /** Where the one-line reports of refused and broken scripts go (default: the request's `tsgi.errors`). */
  log?: (line: string) => void;
}

export const DEFAULT_REVALIDATE_MS = 1000;
export const DEFAULT_MAX_SCRIPTS = 256;
export const DEFAULT_SCRIPT_EXTENSIONS: readonly string[] = ['.ts', '.mts', '.js', '.mjs'];

/** One script file as this process knows it. */
interface Script {
  readonly file: string;
  app?: Application;
  failure?: ScriptLoadError;
  stamps?: readonly InputStamp[];
  /** When its files were last compared with the stamps (ms since epoch; 0: never loaded). */
  checkedAt: number;
  lastUsed: number;
  /** A load in progress: requests for the script wait for it instead of starting their own. */
  pending?: Promise<void>;
  evicted: boolean;
}

/** What a SCRIPT_FILENAME was found to be, reused until `revalidateMs` has passed (as opcache's stat cache). */
interface Located {
  readonly found: ScriptFound;
  readonly script: Script;
  readonly checkedAt: number;
}

/**
 * A tsgi application serving the script each request names under `root`: SCRIPT_FILENAME from the web server
 * (nginx `$document_root$fastcgi_script_name`, Apache mod_proxy_fcgi), or the first file along the path (the
 * development server). Each script's default export (any shape the loader accepts) is loaded once per process
 * and re-imported when it or a local file it imports changes, checked at most every `revalidateMs`. Only
 * regular files under `root` after resolving symlinks, with an allowed extension, no dotfile, none that group
 * or others can write; a missing script is 404 with nothing about the file system in the body; a script that
 * fails to load is 500 with one log line, and the other scripts keep serving.
 */
export function fromScripts(root: string, options: ScriptsOptions = {}): Application {
  const revalidateMs = options.revalidateMs ?? DEFAULT_REVALIDATE_MS;
  const maxScripts = options.maxScripts ?? DEFAULT_MAX_SCRIPTS;
  const extensions = new Set(options.extensions ?? DEFAULT_SCRIPT_EXTENSIONS);
  const scriptRoot = new ScriptRoot(root, (file) => extensions.has(extname(file)));
  const loaded = new Map<string, Script>();
  const located = new Map<string, Located>();

  const report = (environ: Environ, line: string): void => {
    if (options.log) options.log(line);
    else environ['tsgi.errors'].write(`${line}\n`);
  };

  // The least recently used script leaves when a new one would pass the cap; only its module's exports are
  // let go (an ES module stays in Node's module map: the pool's worker recycling bounds that).
  const admit = (file: string): Script => {
    let script = loaded.get(file);
    if (script !== undefined) return script;
    if (loaded.size >= maxScripts) {
      let oldest: Script | undefined;
      for (const candidate of loaded.values())
        if (candidate.pending === undefined && (oldest === undefined || candidate.lastUsed < oldest.lastUsed))
          oldest = candidate;
      if (oldest !== undefined) {
        oldest.evicted = true;
        loaded.delete(oldest.file);
      }
    }
    script = { file, checkedAt: 0, lastUsed: 0, evicted: false };
    loaded.set(file, script);
    return script;
  };

  const refresh = async (script: Script, environ: Environ, now: number): Promise<void> => {
    if (script.checkedAt !== 0 && now - script.checkedAt < revalidateMs) return;
    const stamps = script.stamps ?? script.failure?.stamps;
    if (stamps !== undefined && !isStale(stamps)) {
      script.checkedAt = now;
      return;
    }
    try {
      const version = await loadScript(scriptRoot.real, script.file);
      script.app = version.app;
      script.stamps = version.stamps;
      script.failure = undefined;
    } catch (error) {
      const failure =
        error instanceof ScriptLoadError
          ? error
          : new ScriptLoadError(500, String(error), [[script.file, -1, -1]]);
      script.app = undefined;
      script.stamps = undefined;
      script.failure = failure;
      report(environ, `tsgi scripts: ${failure.status}: ${failure.message}`);
    }
    script.checkedAt = Date.now();
  };

  const slowPath = async (environ: Environ, startResponse: StartResponse, now: number): Promise<Body> => {
    const filename = environ.SCRIPT_FILENAME;
    const key = typeof filename === 'string' && filename !== '' ? filename : undefined;
    const found = scriptRoot.locate(environ);
    if (!found.found) {
      if (key !== undefined) located.delete(key);
      report(
        environ,
        `tsgi scripts: ${found.status} for ${environ.SCRIPT_NAME}${environ.PATH_INFO}: ${found.reason}`,
      );
      return plainPage(startResponse, found.status);
    }
    const script = admit(found.file);
    script.lastUsed = now;
    if (key !== undefined) {
      // Bounded by the names clients can make the web server send: forget them all past a generous limit.
      if (located.size >= maxScripts * 4) located.clear();
      located.set(key, { found, script, checkedAt: now });
    }
    while (script.pending !== undefined) await script.pending;
    if (script.checkedAt === 0 || now - script.checkedAt >= revalidateMs) {
      const pending = refresh(script, environ, now);
      script.pending = pending;
      await pending.finally(() => (script.pending = undefined));
    }
    if (script.app === undefined) return plainPage(startResponse, script.failure?.status ?? 500);
    // The development server has no SCRIPT_FILENAME: the split made here is the script's SCRIPT_NAME/PATH_INFO.
    const target =
      key === undefined ? { ...environ, SCRIPT_NAME: found.scriptName, PATH_INFO: found.pathInfo } : environ;
    return script.app(target, startResponse);
  };

  return (environ, startResponse) => {
    const now = Date.now();
    const filename = environ.SCRIPT_FILENAME;
    // The fast path, every request of a warm script: one map lookup and two clock comparisons, no system call.
    if (typeof filename === 'string') {
      const hit = located.get(filename);
      if (hit !== undefined && now - hit.checkedAt < revalidateMs) {
        const script = hit.script;
        if (!script.evicted && script.app !== undefined && now - script.checkedAt < revalidateMs) {
          script.lastUsed = now;
          return script.app(environ, startResponse);
        }
      }
    }
    return slowPath(environ, startResponse, now);
  };
}
