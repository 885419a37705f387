// fromScripts: the script-directory application, called in process (the e2e tests run it behind nginx/Apache).
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromScripts } from '../../../src/scripts-dir/index.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

let base: string;
let root: string;
const lines: string[] = [];

function write(name: string, text: string, mode = 0o644): string {
  const file = join(root, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

const hello = (word: string): string => `import { suffix } from './lib/suffix.ts';
export default function app(environ: { SCRIPT_NAME: string; PATH_INFO: string }, startResponse: (s: string, h: [string, string][]) => void) {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('${word} ' + environ.SCRIPT_NAME + ' ' + environ.PATH_INFO + suffix)];
}
`;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'tsgi-scripts-unit-'));
  root = join(base, 'www');
  mkdirSync(join(root, 'lib'), { recursive: true });
  mkdirSync(join(root, '.git'));
  // Bare imports resolve from the script's directory, as Node does: give the temp root this checkout's packages.
  symlinkSync(fileURLToPath(new URL('../../../node_modules', import.meta.url)), join(base, 'node_modules'));
  write('lib/suffix.ts', "export const suffix = '!';\n");
  write('hello.ts', hello('hello'));
  write('plain.mjs', "export default (e, sr) => { sr('200 OK', []); return [Buffer.from('mjs')]; };\n");
  write('broken.ts', 'export default function (: {\n');
  write('throws.mjs', "throw new Error('boom at import');\n");
  write('notapp.mjs', 'export default 42;\n');
  write('open.ts', hello('open'), 0o666);
  write('readme.txt', 'text');
  write(
    'hono.ts',
    "import { Hono } from 'hono';\nconst app = new Hono();\napp.get('*', (c) => c.text('hono ' + c.req.path));\nexport default app;\n",
  );
  write('.hidden.ts', hello('hidden'));
  write('.git/config.ts', hello('git'));
  writeFileSync(join(base, 'outside.ts'), hello('outside'));
  symlinkSync(join(base, 'outside.ts'), join(root, 'escape.ts'));
  symlinkSync(join(root, 'hello.ts'), join(root, 'alias.ts'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const app = () => fromScripts(root, { revalidateMs: 50, log: (line) => lines.push(line) });

function viaNginx(name: string, pathInfo = ''): ReturnType<typeof createTestEnviron> {
  return createTestEnviron({
    SCRIPT_FILENAME: join(root, name),
    SCRIPT_NAME: `/${name}`,
    PATH_INFO: pathInfo,
  });
}

describe('fromScripts', () => {
  it('serves a script named by SCRIPT_FILENAME with SCRIPT_NAME/PATH_INFO as the web server split them', async () => {
    const response = await callApp(app(), viaNginx('hello.ts', '/users/7'));
    expect(response.status).toBe('200 OK');
    expect(response.text).toBe('hello /hello.ts /users/7!');
  });

  it('splits the path itself when there is no SCRIPT_FILENAME (development server)', async () => {
    const response = await callApp(
      app(),
      createTestEnviron({ SCRIPT_NAME: '/s', PATH_INFO: '/hello.ts/a/b' }),
    );
    expect(response.text).toBe('hello /s/hello.ts /a/b!');
    expect((await callApp(app(), createTestEnviron({ PATH_INFO: '/lib' }))).statusCode).toBe(404);
  });

  it('serves any export shape the loader detects (a bare Hono app)', async () => {
    const environ = createTestEnviron({
      SCRIPT_FILENAME: join(root, 'hono.ts'),
      SCRIPT_NAME: '/hono.ts',
      PATH_INFO: '/users/7',
    });
    expect((await callApp(app(), environ)).text).toBe('hono /users/7');
  });

  it('serves .mjs, and a symlink that stays inside the root', async () => {
    const scripts = app();
    expect((await callApp(scripts, viaNginx('plain.mjs'))).text).toBe('mjs');
    expect((await callApp(scripts, viaNginx('alias.ts'))).text).toBe('hello /alias.ts !');
  });

  it.each([
    ['missing.ts', 404],
    ['escape.ts', 404],
    ['.hidden.ts', 404],
    ['.git/config.ts', 404],
    ['readme.txt', 403],
    ['open.ts', 403],
    ['lib', 404],
  ])('refuses %s with %i and says nothing about the file system', async (name, status) => {
    lines.length = 0;
    const response = await callApp(app(), viaNginx(name));
    expect(response.statusCode).toBe(status);
    expect(response.text).not.toContain(root);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`tsgi scripts: ${status}`);
  });

  it('refuses a SCRIPT_FILENAME outside the root and a relative one', async () => {
    const scripts = app();
    const outside = createTestEnviron({ SCRIPT_FILENAME: join(base, 'outside.ts'), SCRIPT_NAME: '/x' });
    expect((await callApp(scripts, outside)).statusCode).toBe(404);
    const dotdot = createTestEnviron({ SCRIPT_FILENAME: `${root}/../outside.ts`, SCRIPT_NAME: '/x' });
    expect((await callApp(scripts, dotdot)).statusCode).toBe(404);
    expect((await callApp(scripts, createTestEnviron({ SCRIPT_FILENAME: 'hello.ts' }))).statusCode).toBe(404);
  });

  it('strips the proxy:fcgi:// prefix Apache sends with ProxyFCGIBackendType GENERIC', async () => {
    const environ = createTestEnviron({
      SCRIPT_FILENAME: `proxy:fcgi://127.0.0.1:9000${join(root, 'hello.ts')}`,
      SCRIPT_NAME: '/hello.ts',
      PATH_INFO: '',
    });
    expect((await callApp(app(), environ)).text).toBe('hello /hello.ts !');
  });

  it('answers 500 with one log line for a broken script, and keeps serving the others', async () => {
    const scripts = app();
    for (const name of ['broken.ts', 'throws.mjs', 'notapp.mjs']) {
      lines.length = 0;
      const first = await callApp(scripts, viaNginx(name));
      const second = await callApp(scripts, viaNginx(name));
      expect([first.statusCode, second.statusCode]).toEqual([500, 500]);
      expect(first.text).not.toContain(root);
      expect(lines, name).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`tsgi scripts: 500: ${name.replace('.', '\\.')}: `));
    }
    expect((await callApp(scripts, viaNginx('hello.ts'))).statusCode).toBe(200);
  });

  it('re-imports a script when it or a file it imports changes, no sooner than revalidateMs', async () => {
    const scripts = fromScripts(root, { revalidateMs: 200, log: (line) => lines.push(line) });
    write('edited.ts', hello('one'));
    expect((await callApp(scripts, viaNginx('edited.ts'))).text).toBe('one /edited.ts !');
    write('edited.ts', hello('two'));
    // Within the interval: the loaded version still answers (no system call on the warm path).
    expect((await callApp(scripts, viaNginx('edited.ts'))).text).toBe('one /edited.ts !');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await callApp(scripts, viaNginx('edited.ts'))).text).toBe('two /edited.ts !');
    // An imported file: the whole script comes back with it.
    write('lib/suffix.ts', "export const suffix = '?';\n");
    const later = new Date(Date.now() + 5000);
    utimesSync(join(root, 'lib/suffix.ts'), later, later);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect((await callApp(scripts, viaNginx('edited.ts'))).text).toBe('two /edited.ts ?');
    write('lib/suffix.ts', "export const suffix = '!';\n");
  });

  it('a fixed broken script serves again after the next check', async () => {
    const scripts = fromScripts(root, { revalidateMs: 50, log: (line) => lines.push(line) });
    write('fixme.ts', 'export default function (: {\n');
    expect((await callApp(scripts, viaNginx('fixme.ts'))).statusCode).toBe(500);
    write('fixme.ts', hello('fixed'));
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await callApp(scripts, viaNginx('fixme.ts'))).text).toBe('fixed /fixme.ts !');
  });

  it('refuses a script whose local import group or others can write', async () => {
    write('lib/open.ts', "export const suffix = '!';\n", 0o666);
    write('uses-open.ts', hello('x').replace('./lib/suffix.ts', './lib/open.ts'));
    lines.length = 0;
    expect((await callApp(app(), viaNginx('uses-open.ts'))).statusCode).toBe(403);
    expect(lines[0]).toContain('which group or others can write');
  });

  it('keeps at most maxScripts loaded, dropping the least recently used', async () => {
    for (let i = 0; i < 3; i++)
      write(
        `lru${i}.mjs`,
        `export default (e, sr) => { sr('200 OK', []); return [Buffer.from('${i}')]; };\n`,
      );
    const scripts = fromScripts(root, { maxScripts: 2, revalidateMs: 60_000 });
    for (let i = 0; i < 3; i++)
      expect((await callApp(scripts, viaNginx(`lru${i}.mjs`))).text).toBe(String(i));
    // lru0 was dropped: served again (loaded anew from the cache), and all answers stay right.
    for (let i = 0; i < 3; i++)
      expect((await callApp(scripts, viaNginx(`lru${i}.mjs`))).text).toBe(String(i));
  });
});
