// The package as a user gets it (issue 11): `npm pack`, installed into a fresh ESM project, and the README's
// first app (its ```ts block, taken from the README itself) run under `tsgi serve` and as a CGI program.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCgiOutput } from '../helpers/spawn-cgi.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The first ```ts block of the README's first-app section: the app a new user copies. */
function readmeFirstApp(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('<!-- section:first-app -->'),
    readme.indexOf('<!-- /section:first-app -->'),
  );
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error('README: no ```ts block in the first-app section');
  return code;
}

const dir = mkdtempSync(join(tmpdir(), 'tsgi-packed-'));
const project = join(dir, 'first-app');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 180_000 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

beforeAll(() => {
  // `npm pack` packs dist/ as it is: the suite runs after `npm run build` (npm test builds first).
  const packed = run(NPM, ['pack', '--pack-destination', dir, '--silent'], ROOT).trim().split('\n').at(-1);
  run('mkdir', ['-p', project], dir);
  // What `npm init -y` then `npm pkg set type=module` leave, as the README says.
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'first-app', private: true, type: 'module' }),
  );
  run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, packed ?? '')], project);
  writeFileSync(join(project, 'app.ts'), readmeFirstApp());
}, 240_000);

describe('the packed package in a fresh ESM project', () => {
  it('ships LICENSE, README and the built files, and no sources or tests', () => {
    const listing = run('ls', ['node_modules/tsgi'], project).split('\n');
    expect(listing).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'bin', 'dist', 'package.json']));
    expect(listing).not.toContain('src');
    expect(listing).not.toContain('test');
  });

  it("serves the README's first app with `npx tsgi serve` (no APP: it finds app.ts)", async () => {
    const child = spawn(NPM, ['exec', '--', 'tsgi', 'serve', '--port', '0'], {
      cwd: project,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        const check = (chunk: Buffer): void => {
          output += chunk.toString();
          const match = /(http:\/\/\S+\/)/.exec(output);
          if (match?.[1] !== undefined) resolve(match[1]);
        };
        child.stdout.on('data', check);
        child.stderr.on('data', check);
        child.once('close', () => reject(new Error(`tsgi serve exited: ${output}`)));
      });
      expect(output).toContain('app.ts');
      expect(await (await fetch(`${url}?name=you`)).text()).toBe('Hello, you!\n');
    } finally {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }
  });

  it("runs the README's first app as a CGI program, with the wrapper's command", () => {
    const result = spawnSync(
      process.execPath,
      [join(project, 'node_modules/tsgi/bin/tsgi.js'), 'cgi', 'app.ts'],
      {
        cwd: project,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          GATEWAY_INTERFACE: 'CGI/1.1',
          REQUEST_METHOD: 'GET',
          SCRIPT_NAME: '/cgi-bin/app',
          PATH_INFO: '',
          QUERY_STRING: 'name=cgi',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          SERVER_PROTOCOL: 'HTTP/1.1',
        },
        input: '',
        timeout: 60_000,
      },
    );
    const response = parseCgiOutput(result.stdout);
    expect(response.status, result.stderr.toString()).toBe(200);
    expect(Buffer.from(response.body).toString()).toBe('Hello, cgi!\n');
    expect(result.status).toBe(0);
  });
});
