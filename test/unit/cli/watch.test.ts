// `tsgi serve --watch` (issue 11): a change to a module the app imports restarts the server with the new code;
// a change under node_modules or to a non-source file does not.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../helpers/servers.js';
import { TSGI_BIN } from '../../helpers/spawn-cgi.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgi-watch-'));
let child: ChildProcess | undefined;
afterAll(async () => {
  if (child !== undefined && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

const lib = (word: string): string => `export const word: string = '${word}';\n`;

describe('tsgi serve --watch', () => {
  it('restarts on a change to an imported .ts file, not on node_modules or a log file', async () => {
    writeFileSync(join(dir, 'lib.ts'), lib('one'));
    writeFileSync(
      join(dir, 'app.ts'),
      "import { word } from './lib.js';\n\nexport default (_e: unknown, start: (s: string, h: [string, string][]) => void) => {\n  start('200 OK', [['Content-Type', 'text/plain']]);\n  return [new TextEncoder().encode(word)];\n};\n",
    );
    mkdirSync(join(dir, 'node_modules'));
    const port = await freePort();
    child = spawn(process.execPath, [TSGI_BIN, 'serve', '--watch', '--port', String(port)], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const get = async (): Promise<string> => {
      try {
        return await (await fetch(`http://127.0.0.1:${port}/`)).text();
      } catch {
        return '(not listening)';
      }
    };
    await expect.poll(get, { timeout: 15_000, interval: 100 }).toBe('one');

    writeFileSync(join(dir, 'lib.ts'), lib('two'));
    await expect.poll(get, { timeout: 15_000, interval: 100 }).toBe('two');
    expect(log).toContain('tsgi serve: lib.ts changed, restarting');

    const restarts = log.split('restarting').length;
    writeFileSync(join(dir, 'node_modules', 'dep.js'), 'export {};\n');
    writeFileSync(join(dir, 'server.log'), 'a line\n');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(log.split('restarting').length).toBe(restarts);
    expect(await get()).toBe('two');
  });
});
