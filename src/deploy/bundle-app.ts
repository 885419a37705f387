// esbuild bundling of a TypeScript app for Node versions without type stripping (loaded only on a cache miss).
import type { Plugin } from 'esbuild';
import { isBuiltin } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeBuiltin } from '../shared/node-builtins.js';

const RESOLVING = Symbol('tsgi-resolving');

/**
 * Keeps packages out of the bundle but pins each bare import to the file Node would load from the app's
 * directory (an absolute `file:` URL), because the bundle itself lives in a cache directory with no node_modules.
 */
const pinPackages: Plugin = {
  name: 'tsgi-pin-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === RESOLVING || isAbsolute(args.path)) return undefined;
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: RESOLVING,
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: pathToFileURL(resolved.path).href, external: true };
    });
  },
};

const IMPORT_META = /\bimport\.meta\.(url|filename|dirname)\b/g;

/**
 * Each bundled source file keeps its own `import.meta.url` / `filename` / `dirname` (an app reading a template
 * next to itself must find it), replaced by literals before esbuild merges the files.
 */
const keepImportMeta: Plugin = {
  name: 'tsgi-keep-import-meta',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, (args) => {
      if (args.path.includes('/node_modules/')) return undefined;
      const source = nodeBuiltin('node:fs').readFileSync(args.path, 'utf8');
      const values = { url: pathToFileURL(args.path).href, filename: args.path, dirname: dirname(args.path) };
      const contents = source.replace(IMPORT_META, (_, key: keyof typeof values) =>
        JSON.stringify(values[key]),
      );
      const extension = /\.[cm]?([jt]sx?)$/.exec(args.path)?.[1] ?? 'ts';
      return { contents, loader: extension as 'ts' | 'tsx' | 'js' | 'jsx' };
    });
  },
};

/** Bundles `entry` into one ES module; `inputs` lists every local file it was built from (for cache checks). */
export async function bundleTypeScript(
  entry: string,
): Promise<{ code: string; inputs: string[]; sourceMap?: SourceMap }> {
  // Imported here, not at the top: the CGI fast path is bundled into one file, and esbuild must load only on a miss.
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    target: `node${process.versions.node.split('.')[0]}`,
    // Node's own resolution: no `module` condition or main field, which esbuild would otherwise prefer.
    conditions: [],
    mainFields: ['main'],
    metafile: true,
    logLevel: 'silent',
    plugins: [pinPackages, keepImportMeta],
    // Stack traces name the user's file and line (issue 11), not the cache file: an external map (never
    // written; the out path only anchors the map's relative `sources`), which the cache inlines.
    sourcemap: 'external',
    sourcesContent: false,
    outfile: join(dirname(entry), BUNDLE_NAME),
  });
  const output = result.outputFiles.find((file) => !file.path.endsWith('.map'));
  if (output === undefined) throw new Error(`esbuild produced no output for ${entry}`);
  const map = result.outputFiles.find((file) => file.path.endsWith('.map'));
  // Metafile paths are relative to esbuild's working directory (this process's cwd).
  const inputs = Object.keys(result.metafile.inputs).map((path) => resolve(path));
  const code = output.text.replace(/\n\/\/# sourceMappingURL=\S+\n?$/, '\n');
  if (map === undefined) return { code, inputs };
  const parsed = JSON.parse(map.text) as SourceMap;
  // The cache file lives elsewhere: make every source absolute, so the map holds wherever the bundle goes.
  parsed.sources = parsed.sources.map((source) => pathToFileURL(resolve(dirname(entry), source)).href);
  return { code, inputs, sourceMap: parsed };
}

const BUNDLE_NAME = '__tsgi_bundle.mjs';

/** A source map (version 3), as much of it as the transpile cache touches. */
export interface SourceMap {
  sources: string[];
  mappings: string;
  [key: string]: unknown;
}
