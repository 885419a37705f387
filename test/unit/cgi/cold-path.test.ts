// The `tsgi cgi` cold path stays one file whose static imports are only cheap built-ins (see bench/README.md):
// an ESM import of node:http costs ~30 ms per CGI request on Node 24, node:util ~9 ms, esbuild far more.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const ENTRY = new URL('../../../dist/cli/cgi-entry.js', import.meta.url);
// node:module (createRequire, getBuiltinModule fallback), node:path and node:url: measured at < 0.3 ms each.
const ALLOWED = new Set(['node:module', 'node:path', 'node:url']);

describe('the tsgi cgi entry file (dist/cli/cgi-entry.js, built by scripts/build.mjs)', () => {
  it('exists: bin/tsgi.js loads it for every CGI request', () => {
    expect(existsSync(ENTRY), 'run `node scripts/build.mjs --js-only` first').toBe(true);
  });

  it('statically imports nothing but cheap built-ins, and no other file of tsgi', () => {
    const source = readFileSync(ENTRY, 'utf8');
    const specifiers = [...source.matchAll(/^import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["'];?$/gm)].map(
      (match) => match[1],
    );
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((name) => !ALLOWED.has(name as string))).toEqual([]);
  });

  it('loads esbuild only inside the function that needs it (a transpile-cache miss)', () => {
    const source = readFileSync(ENTRY, 'utf8');
    expect(source).not.toMatch(/^import .*["']esbuild["']/m);
    expect(source).toMatch(/await import\(["']esbuild["']\)/);
  });
});
