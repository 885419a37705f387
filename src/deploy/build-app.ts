// `tsgi build`: esbuild bundles an app, the tsgi runtime and every dependency into one executable file.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assembleBuiltFile, escapePayload } from './loader.js';

/** What to build. */
export interface BuildAppOptions {
  /** The app module: `path` or `path#exportName` (default export unless named). */
  readonly app: string;
  /** The file to write (made executable). */
  readonly outFile: string;
  /** `auto` (default) detects CGI / FastCGI at start; `cgi` or `fastcgi` fixes it and leaves the other out. */
  readonly mode?: 'auto' | 'cgi' | 'fastcgi';
  /** Minify (default true: less to read and parse on every CGI start). */
  readonly minify?: boolean;
  /** Use a V8 code cache at run time (default true). */
  readonly codeCache?: boolean;
  /** Default cache directory baked into the file (TSGI_CACHE_DIR overrides it at run time). */
  readonly cacheDir?: string;
  /** The node binary for the `#!` line (default: `/usr/bin/env node`). */
  readonly node?: string;
  /** Directory the app path is relative to (default: process.cwd()). */
  readonly cwd?: string;
}

/** What was built. */
export interface BuildAppResult {
  readonly outFile: string;
  readonly bytes: number;
  readonly buildId: string;
  readonly warnings: readonly string[];
}

/** A build failure a person can act on: one line, and the esbuild messages behind it. */
export class BuildError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'BuildError';
    this.hint = hint;
  }
}

// The tsgi runtime to bundle: src/ in a checkout (tests run from TypeScript), dist/ in an installed package.
function runtimeFiles(): { launch: string; cgi: string; fastcgi: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('tsgi build: cannot find the tsgi package root');
    dir = parent;
  }
  const fromSource = import.meta.url.endsWith('.ts') && existsSync(join(dir, 'src/deploy/launch.ts'));
  const [root, ext] = fromSource ? [join(dir, 'src'), '.ts'] : [join(dir, 'dist'), '.js'];
  const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string })
    .version;
  return {
    launch: join(root, `deploy/launch${ext}`),
    cgi: join(root, `cgi/index${ext}`),
    fastcgi: join(root, `fastcgi/index${ext}`),
    version,
  };
}

/** `app.ts#name` → path and export name. */
function splitAppSpec(spec: string): { path: string; exportName: string } {
  const hash = spec.lastIndexOf('#');
  if (hash <= 0) return { path: spec, exportName: 'default' };
  return { path: spec.slice(0, hash), exportName: spec.slice(hash + 1) || 'default' };
}

/** The generated entry: the launcher, with the app and each mode's front end behind a dynamic import. */
function entrySource(
  files: ReturnType<typeof runtimeFiles>,
  appPath: string,
  exportName: string,
  mode: 'auto' | 'cgi' | 'fastcgi',
): string {
  const lines = [
    `import { launch } from ${JSON.stringify(files.launch)};`,
    `launch({`,
    `  app: () => import(${JSON.stringify(appPath)}),`,
    `  exportName: ${JSON.stringify(exportName)},`,
    // __tsgi_cache is the loader's note on the code cache (a parameter of the payload function).
    `  cacheNote: typeof __tsgi_cache === 'string' ? __tsgi_cache : undefined,`,
  ];
  if (mode !== 'auto') lines.push(`  built: ${JSON.stringify(mode)},`);
  if (mode !== 'fastcgi') lines.push(`  cgi: () => import(${JSON.stringify(files.cgi)}),`);
  if (mode !== 'cgi') lines.push(`  fastcgi: () => import(${JSON.stringify(files.fastcgi)}),`);
  lines.push('});');
  return lines.join('\n');
}

/**
 * Bundles `options.app` with the tsgi runtime and its dependencies (esbuild: platform node, CommonJS, minified)
 * and writes one executable file that needs no node_modules. Throws BuildError for a missing app, an
 * unresolvable import or top-level await (CommonJS has none; the payload must be a plain script for the code
 * cache).
 */
export async function buildApp(options: BuildAppOptions): Promise<BuildAppResult> {
  const cwd = options.cwd ?? process.cwd();
  const { path, exportName } = splitAppSpec(options.app);
  const appPath = resolve(cwd, path);
  if (!existsSync(appPath) || !statSync(appPath).isFile()) {
    throw new BuildError(
      `cannot find APP '${path}' (looked at ${appPath})`,
      'give the path of the app module',
    );
  }
  const mode = options.mode ?? 'auto';
  const files = runtimeFiles();
  const { build } = await import('esbuild');
  let result;
  try {
    result = await build({
      stdin: {
        contents: entrySource(files, appPath, exportName, mode),
        resolveDir: cwd,
        sourcefile: 'tsgi-build-entry.js',
        loader: 'js',
      },
      bundle: true,
      write: false,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      minify: options.minify ?? true,
      legalComments: 'eof',
      // The payload runs inside a function the loader calls with these (see loader.ts).
      define: {
        'import.meta.url': '__tsgi_url',
        'import.meta.filename': '__filename',
        'import.meta.dirname': '__dirname',
      },
      logLevel: 'silent',
    });
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] })
      .errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    const text = first?.text ?? (error as Error).message;
    const hint = /top-level await/i.test(text)
      ? 'a built file is one CommonJS script: move the await into the handler or a lazy init'
      : 'install the missing package next to the app (npm install), or fix the import';
    throw new BuildError(`cannot bundle ${path}: ${text}${where}`, hint);
  }
  const output = result.outputFiles[0];
  if (output === undefined)
    throw new BuildError(`esbuild produced no output for ${path}`, 'report this as a bug');
  const body = `(function(exports,require,module,__filename,__dirname,__tsgi_url,__tsgi_cache){${output.text}\n})`;
  const { text, escape } = escapePayload(body);
  const buildId = createHash('sha256').update(text).update(mode).digest('hex').slice(0, 16);
  // Pure ASCII when UTF-8 needs one byte per character.
  const ascii = Buffer.byteLength(text, 'utf8') === text.length;
  const banner =
    `built by tsgi ${files.version} build from ${basename(appPath)} (${mode}); run it with --help`.replace(
      /[^ -~]/g,
      '?',
    );
  const file = assembleBuiltFile(
    {
      buildId,
      banner,
      shebang: options.node ?? '/usr/bin/env node',
      cacheDir: options.cacheDir,
      codeCache: options.codeCache ?? true,
      ascii,
      escape,
    },
    text,
  );
  const outFile = resolve(cwd, options.outFile);
  mkdirSync(dirname(outFile), { recursive: true });
  // Write next to the target and rename: a web server running the old file never reads half a new one.
  const temp = `${outFile}.tmp-${process.pid}`;
  writeFileSync(temp, file, { encoding: ascii ? 'latin1' : 'utf8', mode: 0o755 });
  chmodSync(temp, 0o755);
  renameSync(temp, outFile);
  return {
    outFile,
    bytes: Buffer.byteLength(file, ascii ? 'latin1' : 'utf8'),
    buildId,
    warnings: result.warnings.map((warning) => warning.text),
  };
}
