// Stack traces name the user's TypeScript file and line (issue 11), not the transpile cache's file: through
// esbuild's source map where Node has no type stripping (Node 20), through the file itself where it has (24).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TSGI_BIN } from '../../helpers/spawn-cgi.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgi-source-maps-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Types above the throw, so a transpiler that drops lines would move it.
writeFileSync(
  join(dir, 'lib.ts'),
  'type Input = { a: number };\n\nexport function boom(input: Input): never {\n  throw new Error(`boom ${input.a}`);\n}\n',
);
writeFileSync(
  join(dir, 'app.ts'),
  "import { boom } from './lib.js';\n\ninterface Unused {\n  n: number;\n}\n\nexport default (_environ: unknown, _start: Unused) => boom({ a: 1 });\n",
);

describe('stack traces of a .ts app', () => {
  it('name lib.ts:4 and app.ts:7 under tsgi cgi, with a fresh and with a cached transpile', () => {
    for (const round of ['fresh', 'cached']) {
      const result = spawnSync(process.execPath, [TSGI_BIN, 'cgi', 'app.ts'], {
        cwd: dir,
        encoding: 'utf8',
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          TSGI_CACHE_DIR: join(dir, 'cache'),
          GATEWAY_INTERFACE: 'CGI/1.1',
          REQUEST_METHOD: 'GET',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          SERVER_PROTOCOL: 'HTTP/1.1',
        },
        input: '',
      });
      expect(result.stdout, round).toMatch(/^Status: 500/);
      expect(result.stderr, round).toMatch(new RegExp(`at boom \\(${join(dir, 'lib.ts')}:4:\\d+\\)`));
      expect(result.stderr, round).toContain(`${join(dir, 'app.ts')}:7:`);
      expect(result.stderr, round).not.toContain('tsgi-cache');
    }
  });
});
