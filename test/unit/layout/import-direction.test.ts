// The import-direction lint rule (eslint.config.js, issue 9) itself: an upward import fails `eslint .` with a
// message naming the rule, and the imports the layering allows pass.
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

/** The messages ESLint gives `code` as if it were the file `path` (relative to the repository). */
async function lint(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${path}` });
  return result!.messages.map((message) => message.message);
}

describe('tsgi/import-direction', () => {
  it.each([
    ['src/shared/x.ts', "import { serve } from '../http/server.js';\nexport { serve };\n"],
    ['src/shared/x.ts', "export { runCgi } from '../cgi/runner.js';\n"],
    ['src/fastcgi/x.ts', "import type { Quirk } from '../deploy/run-mode.js';\nexport type { Quirk };\n"],
    ['src/cgi/x.ts', "export { serveFastCgi } from '../fastcgi/serve.js';\n"],
    ['src/http/x.ts', "export { toFetchHandler } from '../fetch/to-fetch.js';\n"],
    ['src/middleware/x.ts', "export { fromNodeHandler } from '../adapters/node.js';\n"],
    ['src/adapters/_node/x.ts', "export { validate } from '../../middleware/validate.js';\n"],
    ['src/deploy/doctor/x.ts', "export { main } from '../../cli/main.js';\n"],
    ['src/index.ts', "export { serve } from './http/server.js';\n"],
    ['src/shared/x.ts', "export const load = () => import('../deploy/launch.js');\n"],
  ])('refuses in %s: %s', async (path, code) => {
    const messages = await lint(path, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/tsgi\/import-direction: src\/\S* may import only/);
  });

  it.each([
    [
      'src/http/x.ts',
      "export { validate } from '../middleware/validate.js';\nexport { getVar } from '../shared/environ.js';\n",
    ],
    ['src/deploy/doctor/x.ts', "export { serveFastCgi } from '../../fastcgi/serve.js';\n"],
    ['src/cli/x.ts', "export const load = () => import('../deploy/launch.js');\n"],
    ['src/middleware/validate/x.ts', "export { head } from '../head.js';\n"],
    ['src/shared/x.ts', "export { createServer } from 'node:http';\n"],
  ])('allows in %s: %s', async (path, code) => {
    expect(await lint(path, code)).toEqual([]);
  });
});

describe('LAYERS', () => {
  it('places every folder under src/ (a new folder must say what it may import)', async () => {
    const { readdirSync } = await import('node:fs');
    const { LAYERS } = (await import(`${ROOT}eslint.config.js`)) as { LAYERS: Record<string, string[]> };
    const folders = readdirSync(`${ROOT}src`, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders.filter((folder) => !(folder in LAYERS))).toEqual([]);
  });

  it('has no cycle: no folder may import one that may import it back', async () => {
    const { LAYERS } = (await import(`${ROOT}eslint.config.js`)) as { LAYERS: Record<string, string[]> };
    const cycles = Object.entries(LAYERS).flatMap(([folder, allowed]) =>
      allowed.filter((other) => LAYERS[other]?.includes(folder)).map((other) => `${folder} <-> ${other}`),
    );
    expect(cycles).toEqual([]);
  });
});
