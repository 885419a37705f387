// Stack traces name the user's TypeScript file and line (issue 11), and tsgi serve shows them on its error page, not the transpile cache's file: through
// esbuild's source map where Node has no type stripping (Node 20), through the file itself where it has (24).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/servers.js';
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
      // Under CGI the client never sees the error: the page is for `tsgi serve` only.
      expect(result.stdout).not.toContain('boom');
    }
  });

  it('fill the development error page of tsgi serve, as HTML, without Node or tsgi frames', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [TSGI_BIN, 'serve', 'app.ts', '--port', String(port)], {
      cwd: dir,
      env: { ...process.env, TSGI_CACHE_DIR: join(dir, 'cache') },
      stdio: 'ignore',
    });
    try {
      const get = () => fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
      await expect.poll(get, { timeout: 15_000 }).toBeDefined();
      const response = await get();
      expect(response?.status).toBe(500);
      expect(response?.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const page = (await response?.text()) ?? '';
      expect(page).toContain('<title>500: Error: boom 1</title>');
      expect(page).toContain(`${join(dir, 'lib.ts')}:4:`);
      expect(page).toMatch(/\(\d+ frames of Node and tsgi left out\)/);
      expect(page).not.toMatch(/node:internal|dist\/_chunks|dist\/cli/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
