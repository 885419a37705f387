// Builds dist/: esbuild bundles each public entry (ESM, shared chunks), then tsc writes the .d.ts files.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

const ENTRIES = [
  'src/index.ts',
  'src/cgi/index.ts',
  'src/fastcgi/index.ts',
  'src/http/index.ts',
  'src/adapters/node.ts',
  'src/adapters/fetch.ts',
  'src/middleware/index.ts',
  'src/testing/index.ts',
  'src/cli/main.ts',
];

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ENTRIES,
  outdir: 'dist',
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
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
