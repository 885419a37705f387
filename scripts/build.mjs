// Builds dist/: esbuild bundles each public entry (ESM, shared chunks), then tsc writes the .d.ts files.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';

const ENTRIES = [
  'src/index.ts',
  'src/cgi/index.ts',
  'src/fastcgi/index.ts',
  'src/fastcgi/public-client.ts',
  'src/fastcgi/public-protocol.ts',
  'src/http/index.ts',
  'src/fetch/index.ts',
  'src/adapters/node.ts',
  'src/adapters/fetch.ts',
  'src/middleware/index.ts',
  'src/testing/index.ts',
  'src/cli/main.ts',
  // the runtime `tsgi build` bundles into each built file (src/deploy/build-app.ts reads it from dist/)
  'src/deploy/launch.ts',
];

// `--js-only` (development while parts are missing): skip absent entries and the .d.ts step.
const jsOnly = process.argv.includes('--js-only');
const entries = jsOnly ? ENTRIES.filter((entry) => existsSync(entry)) : ENTRIES;

// Build into a fresh directory and swap it in, so that a process running from dist/ never sees half a build.
const out = `dist.tmp-${process.pid}`;
rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: entries,
  outdir: out,
  outbase: 'src',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies (esbuild) stay imports; `tsgi build` bundles them into user apps itself.
  packages: 'external',
  chunkNames: '_chunks/[name]-[hash]',
  logLevel: 'warning',
});
// The `tsgi cgi` fast path (bin/tsgi.js loads it for every CGI request): one file, no shared chunks, because
// each extra ES module costs a CGI request start-up time. esbuild itself stays a lazy import inside it.
if (existsSync('src/cli/cgi-entry.ts')) {
  await build({
    entryPoints: ['src/cli/cgi-entry.ts'],
    outfile: `${out}/cli/cgi-entry.js`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    // The framework adapters (loaded only when APP exports Express, Hono, … : src/deploy/detect-app.ts) stay a
    // dynamic import of dist/adapters/*.js: bundled, their node:http and node:stream imports would be hoisted to
    // the top of this file and cost every CGI request ~30 ms on Node 24, a plain tsgi app included.
    plugins: [
      {
        name: 'lazy-adapters',
        setup(pluginBuild) {
          pluginBuild.onResolve({ filter: /\/adapters\/(node|fetch)\.js$/ }, (args) =>
            args.kind === 'dynamic-import'
              ? { path: `../adapters/${args.path.split('/').pop()}`, external: true }
              : undefined,
          );
        },
      },
    ],
  });
}
if (!jsOnly) {
  execFileSync(
    process.execPath,
    ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', out],
    {
      stdio: 'inherit',
    },
  );
}
const old = `dist.old-${process.pid}`;
try {
  renameSync('dist', old);
} catch {
  // no previous build
}
renameSync(out, 'dist');
rmSync(old, { recursive: true, force: true });
