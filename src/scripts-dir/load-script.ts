// Loading one script of a script directory, and knowing when it must be loaded again.
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { transpiledModule, type InputStamp } from '../deploy/transpile-cache.js';
import { toApplication } from '../deploy/detect-app.js';
import type { Application } from '../shared/types.js';

/** A script ready to serve, and the files (with their mtime and size) its module was built from. */
export interface ScriptVersion {
  readonly app: Application;
  readonly stamps: readonly InputStamp[];
}

/** A script that cannot be served: the status to answer and the one line for the log. */
export class ScriptLoadError extends Error {
  readonly status: 403 | 500;
  /** The inputs known so far: an edit to any of them is worth another try. */
  readonly stamps: readonly InputStamp[];

  constructor(status: 403 | 500, message: string, stamps: readonly InputStamp[]) {
    super(message);
    this.status = status;
    this.stamps = stamps;
  }
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(36);
}

function stampOf(path: string): InputStamp {
  try {
    const stat = statSync(path);
    return [path, stat.mtimeMs, stat.size];
  } catch {
    return [path, -1, -1];
  }
}

/** True when any input changed (or vanished) since it was stamped: the script must be built and imported again. */
export function isStale(stamps: readonly InputStamp[]): boolean {
  for (const [path, mtimeMs, size] of stamps) {
    const [, nowMtime, nowSize] = stampOf(path);
    if (nowMtime !== mtimeMs || nowSize !== size) return true;
  }
  return false;
}

/**
 * Builds `file` (an absolute path under `root`) with esbuild into the per-user transpile cache (one bundle
 * holding the script and every local file it imports, so one import brings all of them back together) and
 * imports it. ES modules cannot be unloaded or imported twice from one URL, so each version is imported under
 * its own URL: the cache file plus `?v=` a hash of its inputs' stamps. Packages stay outside the bundle and load
 * once per process. Refuses a script whose local imports group or others can write (the same rule as the
 * script itself).
 */
export async function loadScript(root: string, file: string): Promise<ScriptVersion> {
  const name = relative(root, file);
  let url: string;
  let stamps: InputStamp[];
  try {
    ({ url, stamps } = await transpiledModule(file));
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } }[] })
      .errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new ScriptLoadError(
      500,
      `${name}: cannot compile: ${first?.text ?? (error as Error).message}${where}`,
      [stampOf(file)],
    );
  }
  for (const [path] of stamps) {
    const mode = statSync(path, { throwIfNoEntry: false })?.mode ?? 0;
    if ((mode & 0o022) !== 0)
      throw new ScriptLoadError(403, `${name}: imports ${path}, which group or others can write`, stamps);
  }
  try {
    const module = (await import(`${url}?v=${fnv1a(JSON.stringify(stamps))}`)) as Record<string, unknown>;
    // Any export shape APP may have (a tsgi app, Express, Koa, Fastify, Hono, `{ fetch }`: issue 13).
    const { app } = await toApplication(module.default, `${name}'s default export`);
    return { app, stamps };
  } catch (error) {
    const message = (error as Error).message?.split('\n')[0] ?? String(error);
    throw new ScriptLoadError(500, `${name}: ${message}`, stamps);
  }
}
