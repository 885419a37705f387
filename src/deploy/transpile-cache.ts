// TypeScript apps on Node without type stripping: esbuild bundles them once; later runs import the cached output.
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeBuiltin } from '../shared/node-builtins.js';

const { closeSync, lstatSync, mkdirSync, openSync, readSync, renameSync, statSync, writeFileSync } =
  nodeBuiltin('node:fs');
const tmpdir = (): string => nodeBuiltin('node:os').tmpdir();

// Bump when the shape of the cached output changes, so that an upgrade never imports an old bundle.
const CACHE_FORMAT = 1;
const MARK = '// tsgi-cache ';
// The manifest is the first line of the cached file: read this much first, and at most MAX_MANIFEST in all.
const FIRST_READ = 4096;
const MAX_MANIFEST = 64 * 1024 * 1024;

/** One input of a cached bundle and the stat values it was built from. */
export type InputStamp = [path: string, mtimeMs: number, size: number];

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * This user's cache directory (`$TMPDIR/tsgi-cache-UID`, mode 0700), or undefined when it is not safe to use:
 * another user could have created it first (a shared /tmp), and importing a file planted there would run their
 * code as us. So it must be a real directory we own that nobody else can write to.
 */
export function userCacheDir(): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const dir = process.env.TSGI_CACHE_DIR ?? join(tmpdir(), `tsgi-cache-${uid}`);
  // Look before creating: on every request but the first the directory exists, and a failed mkdir would cost
  // an exception (with its stack trace) on the cold path each time.
  let stat = lstatSync(dir, { throwIfNoEntry: false });
  if (stat === undefined) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      // EEXIST: a concurrent first request made it; the ownership check below still applies.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    stat = lstatSync(dir, { throwIfNoEntry: false });
    if (stat === undefined) return undefined;
  }
  if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) return undefined;
  return dir;
}

function cacheFile(dir: string, entry: string): string {
  return join(
    dir,
    `${basename(entry).replace(/[^A-Za-z0-9._-]/g, '_')}-${fnv1a(`${CACHE_FORMAT}\0${entry}`)}.mjs`,
  );
}

function readManifest(file: string): InputStamp[] | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    // Read only the first line: small apps fit the first read; an app of thousands of files needs more.
    let head = Buffer.allocUnsafe(FIRST_READ);
    let length = 0;
    while (true) {
      const read = readSync(fd, head, length, head.length - length, length);
      const newline = head.subarray(length, length + read).indexOf(0x0a);
      length += read;
      if (newline !== -1) {
        const line = head.toString('utf8', 0, length - read + newline);
        if (!line.startsWith(MARK)) return undefined;
        return JSON.parse(line.slice(MARK.length)) as InputStamp[];
      }
      if (read === 0 || head.length >= MAX_MANIFEST) return undefined;
      const bigger = Buffer.allocUnsafe(head.length * 4);
      head.copy(bigger, 0, 0, length);
      head = bigger;
    }
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

// Fresh when the bundle was built from `entry` (the file name is only a 32-bit hash of the path) and every
// input still has the mtime and size it had then.
function isFresh(stamps: readonly InputStamp[], entry: string): boolean {
  if (!stamps.some(([path]) => path === entry)) return false;
  for (const [path, mtimeMs, size] of stamps) {
    try {
      const stat = statSync(path);
      if (stat.mtimeMs !== mtimeMs || stat.size !== size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The URL of an ES module equivalent to the TypeScript file `entry` (an absolute path): a cached bundle when
 * every file it was built from still has the same mtime and size, else a fresh esbuild bundle written there
 * first. Bundling (not per-file transpiling) is what lets `./lib.js` find `./lib.ts`; bare imports are resolved
 * from the app's own directory at build time and kept as absolute `file:` imports, so packages load from the
 * app's node_modules and are never copied into the cache.
 */
export async function transpiledModuleUrl(entry: string): Promise<string> {
  return (await transpiledModule(entry)).url;
}

/** {@link transpiledModuleUrl}, with the inputs it was built from (script directories stat them to revalidate). */
export async function transpiledModule(entry: string): Promise<{ url: string; stamps: InputStamp[] }> {
  const dir = userCacheDir();
  if (dir !== undefined) {
    const file = cacheFile(dir, entry);
    const stamps = readManifest(file);
    if (stamps !== undefined && isFresh(stamps, entry)) return { url: pathToFileURL(file).href, stamps };
  }
  const { bundleTypeScript } = await import('./bundle-app.js');
  const { code, inputs, sourceMap } = await bundleTypeScript(entry);
  const stamps: InputStamp[] = inputs.map((path) => {
    const stat = statSync(path);
    return [path, stat.mtimeMs, stat.size];
  });
  // The manifest line comes first: the map's generated lines start one line later (';' is an empty line).
  const map =
    sourceMap === undefined
      ? ''
      : `//# sourceMappingURL=data:application/json;base64,${Buffer.from(
          JSON.stringify({ ...sourceMap, mappings: `;${sourceMap.mappings}` }),
        ).toString('base64')}\n`;
  const text = `${MARK}${JSON.stringify(stamps)}\n${code}${map}`;
  // No safe cache directory: a private one-off directory (mkdtemp is mode 0700) keeps the import just as safe.
  const target = dir ?? nodeBuiltin('node:fs').mkdtempSync(join(tmpdir(), 'tsgi-app-'));
  const file = cacheFile(target, entry);
  // Write beside and rename: a concurrent CGI request reads either the old bundle or the new one, never half.
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, text, { mode: 0o600 });
  renameSync(partial, file);
  return { url: pathToFileURL(file).href, stamps };
}
