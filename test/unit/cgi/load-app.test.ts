// Loading APP: `path#export`, clear one-line errors, and the esbuild cache for TypeScript on Node 20.
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/cli-error.js';
import { loadApp, parseAppSpec } from '../../../src/cli/load-app.js';
import { transpiledModuleUrl, userCacheDir } from '../../../src/deploy/transpile-cache.js';

const scratch = mkdtempSync(join(tmpdir(), 'tsgi-load-app-'));
const cacheDir = join(scratch, 'cache');
let savedCacheDir: string | undefined;
beforeAll(() => {
  savedCacheDir = process.env.TSGI_CACHE_DIR;
  mkdirSync(cacheDir, { mode: 0o700 });
  process.env.TSGI_CACHE_DIR = cacheDir;
});
afterAll(() => {
  if (savedCacheDir === undefined) delete process.env.TSGI_CACHE_DIR;
  else process.env.TSGI_CACHE_DIR = savedCacheDir;
  rmSync(scratch, { recursive: true, force: true });
});

function write(relative: string, text: string): string {
  const file = join(scratch, relative);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

describe('parseAppSpec', () => {
  it('splits path#export at the last #', () => {
    expect(parseAppSpec('./app.ts#api')).toEqual({ path: './app.ts', exportName: 'api' });
    expect(parseAppSpec('./app.ts')).toEqual({ path: './app.ts', exportName: 'default' });
    expect(parseAppSpec('./dir#1/app.ts#x')).toEqual({ path: './dir#1/app.ts', exportName: 'x' });
  });
});

describe('loadApp', () => {
  it('loads the default export of a .mjs file, or a named one after #', async () => {
    const file = write(
      'plain.mjs',
      'export default function app() { return []; }\nexport function other() { return []; }\n',
    );
    expect((await loadApp(file)).name).toBe('app');
    expect((await loadApp(`${file}#other`)).name).toBe('other');
  });

  it('refuses a default export that is not a function, pointing at the exports it has', async () => {
    const file = write('no-default.mjs', 'export function api() { return []; }\n');
    const error = await loadApp(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).message).toContain("exports nothing as 'default'");
    expect((error as CliError).hint).toContain('#api');
  });

  it('refuses a missing file and an unknown extension with one line each', async () => {
    await expect(loadApp(join(scratch, 'nope.ts'))).rejects.toThrow(/cannot find APP/);
    await expect(loadApp(write('app.txt', ''))).rejects.toThrow(/is not a \.js, \.mjs/);
  });

  it('loads a .ts app whose local import names ./lib.js for ./lib.ts (the tsc NodeNext convention)', async () => {
    write('ts-app/lib.ts', 'export const greeting: string = "hi";\n');
    const file = write(
      'ts-app/app.ts',
      'import { greeting } from "./lib.js";\nexport default function app(): string { return greeting; }\n',
    );
    const app = (await loadApp(file)) as unknown as () => string;
    expect(app()).toBe('hi');
  });

  it('reports a TypeScript syntax error as one line naming the file', async () => {
    const file = write('broken/app.ts', 'export default function app( { return [] }\n');
    await expect(loadApp(file)).rejects.toThrow(/broken\/app\.ts/);
  });
});

describe('transpiledModuleUrl (the esbuild path, used where Node has no type stripping)', () => {
  it('reuses the cached bundle while its inputs are unchanged', async () => {
    const file = write('cached/app.ts', 'export default (): number => 1;\n');
    const url = await transpiledModuleUrl(file);
    const before = statSync(fileURLToPath(url)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await transpiledModuleUrl(file)).toBe(url);
    expect(statSync(fileURLToPath(url)).mtimeMs).toBe(before);
  });

  it('rebuilds when a local file the app imports changes, not only the entry', async () => {
    const dep = write('stale/dep.ts', 'export const value: number = 1;\n');
    const file = write(
      'stale/app.ts',
      'import { value } from "./dep.js";\nexport default (): number => value;\n',
    );
    await transpiledModuleUrl(file);
    writeFileSync(dep, 'export const value: number = 22;\n');
    utimesSync(dep, new Date(), new Date(Date.now() + 5000));
    const url = await transpiledModuleUrl(file);
    expect(readFileSync(fileURLToPath(url), 'utf8')).toContain('22');
  });

  it('reuses the cache for an app of many files, whose manifest line is longer than the first read', async () => {
    const names = Array.from({ length: 120 }, (_, i) => `module-with-a-rather-long-name-${i}`);
    for (const name of names) write(`many/${name}.ts`, `export const v: number = 1;\n`);
    const file = write(
      'many/app.ts',
      names.map((name, i) => `import { v as v${i} } from './${name}.js';`).join('\n') +
        `\nexport default (): number => ${names.map((_, i) => `v${i}`).join(' + ')};\n`,
    );
    const url = await transpiledModuleUrl(file);
    expect(readFileSync(fileURLToPath(url), 'utf8').indexOf('\n')).toBeGreaterThan(8192);
    const before = statSync(fileURLToPath(url)).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await transpiledModuleUrl(file)).toBe(url);
    expect(statSync(fileURLToPath(url)).mtimeMs).toBe(before);
  });

  it('never serves the bundle of another entry that landed under the same cache file name', async () => {
    const first = write('collide/a.ts', 'export default (): string => "A";\n');
    const second = write('collide/b.ts', 'export default (): string => "B";\n');
    const firstFile = fileURLToPath(await transpiledModuleUrl(first));
    const secondFile = fileURLToPath(await transpiledModuleUrl(second));
    // Simulate a hash collision: b.ts's cache file now holds a.ts's fresh bundle.
    writeFileSync(secondFile, readFileSync(firstFile));
    const url = await transpiledModuleUrl(second);
    expect(readFileSync(fileURLToPath(url), 'utf8')).toContain('"B"');
  });

  it("keeps each file's own import.meta.url, so an app finds files next to itself", async () => {
    const file = write('meta/app.ts', 'export default (): string => import.meta.url;\n');
    const module = (await import(await transpiledModuleUrl(file))) as { default: () => string };
    expect(module.default()).toBe(pathToFileURL(file).href);
  });

  it("resolves bare imports from the app's directory, not from the cache directory", async () => {
    write(
      'pkg-app/node_modules/local-pkg/package.json',
      '{"name":"local-pkg","type":"module","main":"index.js"}',
    );
    write('pkg-app/node_modules/local-pkg/index.js', 'export const where = "app node_modules";\n');
    const file = write(
      'pkg-app/app.ts',
      'import { where } from "local-pkg";\nexport default (): string => where;\n',
    );
    const url = await transpiledModuleUrl(file);
    expect(readFileSync(fileURLToPath(url), 'utf8')).not.toContain('app node_modules');
    const module = (await import(url)) as { default: () => string };
    expect(module.default()).toBe('app node_modules');
  });

  it('will not use a cache directory that others can write to', () => {
    const shared = join(scratch, 'shared-cache');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    process.env.TSGI_CACHE_DIR = shared;
    try {
      expect(userCacheDir()).toBeUndefined();
    } finally {
      process.env.TSGI_CACHE_DIR = cacheDir;
    }
    expect(userCacheDir()).toBe(cacheDir);
  });
});
