// The public API, subpath by subpath (issue 9): the runtime names each `exports` entry of package.json gives,
// written to public-api.txt so that a change to the API is a visible diff in review, and at most 30 per
// subpath so that each stays something a person can hold in mind. Reads dist/ (built by scripts/build.mjs).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url);
const MAX_RUNTIME_NAMES = 30;

interface ExportEntry {
  types: string;
  default: string;
}
const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as {
  name: string;
  exports: Record<string, ExportEntry | string>;
};
const subpaths = Object.entries(pkg.exports).filter(
  (entry): entry is [string, ExportEntry] => typeof entry[1] === 'object',
);

async function runtimeNames(file: string): Promise<string[]> {
  const module = (await import(fileURLToPath(new URL(file, ROOT)))) as Record<string, unknown>;
  return Object.keys(module).sort();
}

describe('the public API', () => {
  it('is the list in public-api.txt (update it on purpose when the API changes)', async () => {
    const lines: string[] = [];
    for (const [subpath, entry] of subpaths) {
      const name = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
      lines.push(`${name}: ${(await runtimeNames(entry.default)).join(' ')}`);
    }
    await expect(lines.join('\n') + '\n').toMatchFileSnapshot('./public-api.txt');
  });

  it.each(subpaths)(`%s exports at most ${MAX_RUNTIME_NAMES} runtime names`, async (_subpath, entry) => {
    expect((await runtimeNames(entry.default)).length).toBeLessThanOrEqual(MAX_RUNTIME_NAMES);
  });
});
