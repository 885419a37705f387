// Loading APP for the CLI: `path[#exportName]` → the tsgi Application it exports (.js/.mjs, or .ts transpiled).
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeBuiltin } from '../shared/node-builtins.js';
import { AppShapeError, SHAPE_FIXES, toApplication, type DetectedApp } from '../deploy/detect-app.js';
import type { Application } from '../shared/types.js';
import { CliError } from './cli-error.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);
const JAVASCRIPT = new Set(['.js', '.mjs', '.cjs']);
const APP_HINT =
  'APP is a module path whose default export is a tsgi app, an Express/Connect/Koa app, a Fastify instance or an object with fetch(request), e.g. ./app.ts';

// Errors from Node's type stripping that esbuild can get past: `./lib.js` naming `./lib.ts` (the tsc NodeNext
// convention), syntax that needs a transform (enum, namespace), a .ts file under node_modules.
const STRIP_FALLBACK = new Set([
  'ERR_MODULE_NOT_FOUND',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
  'ERR_UNKNOWN_FILE_EXTENSION',
]);

/** `app.ts#name` → the path and the export name (`default` when there is no `#`). */
export function parseAppSpec(spec: string): { path: string; exportName: string } {
  const hash = spec.lastIndexOf('#');
  if (hash <= 0) return { path: spec, exportName: 'default' };
  return { path: spec.slice(0, hash), exportName: spec.slice(hash + 1) || 'default' };
}

/** True when this Node strips TypeScript types itself (22.6+ flagged, 23.6+ by default). */
function hasTypeStripping(): boolean {
  const features = process.features as { typescript?: string | false };
  return typeof features.typescript === 'string' && features.typescript !== '';
}

async function importTypeScript(file: string, extension: string): Promise<Record<string, unknown>> {
  if (hasTypeStripping() && extension !== '.tsx') {
    try {
      return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (error) {
      // Linking errors come before any of the app's code runs, so trying esbuild next runs nothing twice.
      if (!STRIP_FALLBACK.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    }
  }
  const { transpiledModuleUrl } = await import('../deploy/transpile-cache.js');
  let url: string;
  try {
    url = await transpiledModuleUrl(file);
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } }[] })
      .errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new CliError(
      `cannot compile ${file}: ${first?.text ?? (error as Error).message}${where}`,
      'fix the TypeScript error, or point APP at the compiled .js',
    );
  }
  // The bundle carries a source map (deploy/bundle-app.ts): stack traces then name the user's .ts file and line.
  process.setSourceMapsEnabled(true);
  return (await import(url)) as Record<string, unknown>;
}

/**
 * Imports the module named by `spec` (`path` or `path#exportName`, relative to `cwd`) and returns the export as
 * a tsgi Application with what it was detected as (a tsgi app, or a framework served through its adapter: see
 * deploy/detect-app.ts). `.ts` files load through Node's type stripping where this Node has it, else through
 * esbuild with a per-user cache (see deploy/transpile-cache.ts), so a CGI request does not pay for esbuild on every hit.
 * Throws a one-line `CliError` with a hint for a missing file, a missing export or an export of no known shape.
 */
export async function loadDetectedApp(
  spec: string,
  cwd: string = process.cwd(),
): Promise<{ app: Application; detected: DetectedApp }> {
  const { path, exportName } = parseAppSpec(spec);
  const file = resolve(cwd, path);
  try {
    if (!nodeBuiltin('node:fs').statSync(file).isFile())
      throw new CliError(`APP '${path}' is not a file`, APP_HINT);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot find APP '${path}' (looked at ${file})`, APP_HINT);
  }
  const extension = extname(file);
  let module: Record<string, unknown>;
  if (TYPESCRIPT.has(extension)) {
    module = await importTypeScript(file, extension);
  } else if (JAVASCRIPT.has(extension)) {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } else {
    throw new CliError(`APP '${path}' is not a .js, .mjs, .cjs, .ts, .mts or .tsx file`, APP_HINT);
  }
  if (!(exportName in module)) {
    const exports = Object.keys(module).filter((name) => module[name] != null);
    throw new CliError(
      `${path} exports nothing as '${exportName}'`,
      exports.length > 0
        ? `it exports ${exports.map((name) => `'${name}'`).join(', ')}: pick one with ${path}#${exports[0]}`
        : SHAPE_FIXES,
    );
  }
  try {
    return await toApplication(module[exportName], `${path}'s export '${exportName}'`);
  } catch (error) {
    if (error instanceof AppShapeError) throw new CliError(error.message, error.hint);
    throw error;
  }
}

/** {@link loadDetectedApp} without the note on what was detected. */
export async function loadApp(spec: string, cwd: string = process.cwd()): Promise<Application> {
  return (await loadDetectedApp(spec, cwd)).app;
}
