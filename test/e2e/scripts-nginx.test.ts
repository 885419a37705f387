// nginx -> tsgi fastcgi --scripts ROOT (recipe nginx-scripts.conf): PHP's deployment model, issue 12 part 1.
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipe } from '../helpers/fastcgi-e2e.js';
import { startListener, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { helloScript, makeScriptTree, type ScriptTree } from '../helpers/script-dirs.js';
import { freePort, renderTemplate, startNginx, type RunningServer } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const REVALIDATE_MS = 500;

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)(
  'nginx → tsgi fastcgi --scripts',
  () => {
    let tree: ScriptTree;
    let listener: ListenerProcess;
    let nginx: RunningServer;
    let base: string;

    beforeAll(async () => {
      tree = makeScriptTree('scripts-nginx');
      tree.write('lib/suffix.ts', "export const suffix = '!';\n");
      tree.write('hello.ts', helloScript('hello', true));
      tree.write('edit.ts', helloScript('v0'));
      tree.write('broken.ts', 'export default function (: {\n');
      tree.write('open.ts', helloScript('open'), 0o666);
      tree.write('.env.ts', helloScript('secret'));
      writeFileSync(join(tree.base, 'outside.ts'), helloScript('outside'));
      symlinkSync(join(tree.base, 'outside.ts'), join(tree.root, 'escape.ts'));
      listener = await startListener(
        [
          '--scripts',
          tree.root,
          '--revalidate',
          String(REVALIDATE_MS),
          '--workers',
          '2',
          '--listen',
          '127.0.0.1:0',
        ],
        { app: null },
      );
      const port = await freePort();
      nginx = await startNginx({
        http: renderTemplate(recipe('nginx-scripts.conf'), {
          LISTEN: `127.0.0.1:${port}`,
          SERVER_NAME: 'localhost',
          ROOT: tree.root,
          FASTCGI_ADDRESS: listener.address,
        }),
        server: '',
      });
      base = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await nginx?.stop();
      await listener?.stop('SIGKILL');
      tree?.remove();
    });

    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const response = await fetch(base + path);
      return { status: response.status, text: await response.text() };
    };

    it('serves a script with SCRIPT_NAME and PATH_INFO as nginx split them, and its local import', async () => {
      expect(await get('/hello.ts/users/7')).toEqual({ status: 200, text: 'hello /hello.ts /users/7!' });
      expect(await get('/hello.ts')).toEqual({ status: 200, text: 'hello /hello.ts !' });
    });

    it('answers 404 for a missing script, with nothing about the file system', async () => {
      const missing = await get('/missing.ts/x');
      expect(missing.status).toBe(404);
      expect(missing.text).toBe('404 Not Found\n');
      await listener.waitForLog(/tsgi scripts: 404 for \/missing\.ts\/x: .*does not exist/);
    });

    it('answers 404 for a symlink that leaves ROOT and for a dotfile', async () => {
      const escape = await get('/escape.ts');
      expect(escape.status).toBe(404);
      expect(escape.text).not.toContain('outside');
      await listener.waitForLog(/escape\.ts resolves outside the root/);
      expect((await get('/.env.ts')).status).toBe(404);
    });

    it('refuses a world-writable script (403, one log line)', async () => {
      expect(await get('/open.ts')).toEqual({ status: 403, text: '403 Forbidden\n' });
      await listener.waitForLog(/open\.ts is writable by group or others \(mode 666\)/);
    });

    it('answers 500 for a broken script while the scripts beside it keep serving', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => get(i % 2 === 0 ? '/broken.ts' : '/hello.ts/ok')),
      );
      for (const [i, result] of results.entries())
        expect(result.status, result.text).toBe(i % 2 === 0 ? 500 : 200);
      expect(results[0]!.text).toBe('500 Internal Server Error\n');
      await listener.waitForLog(/tsgi scripts: 500: broken\.ts: cannot compile/);
    });

    it('serves an edit under load within the revalidation interval + 1 s, with no failed request', async () => {
      expect((await get('/edit.ts')).text).toBe('v0 /edit.ts ');
      let stop = false;
      let failed = 0;
      let served = 0;
      let editedAt = 0;
      let firstNewAt = 0;
      const client = async (): Promise<void> => {
        while (!stop) {
          const { status, text } = await get('/edit.ts');
          served += 1;
          if (status !== 200 || !/^v[01] \/edit\.ts $/.test(text)) failed += 1;
          if (text.startsWith('v1') && editedAt !== 0 && firstNewAt === 0) firstNewAt = Date.now();
        }
      };
      const clients = Array.from({ length: 8 }, client);
      await new Promise((resolve) => setTimeout(resolve, 300));
      tree.write('edit.ts', helloScript('v1'));
      editedAt = Date.now();
      // Every worker must come to the new version: after the deadline, only v1 answers.
      await new Promise((resolve) => setTimeout(resolve, REVALIDATE_MS + 1000));
      stop = true;
      await Promise.all(clients);
      expect(failed).toBe(0);
      expect(served).toBeGreaterThan(50);
      expect(firstNewAt - editedAt).toBeLessThan(REVALIDATE_MS + 1000);
      for (let i = 0; i < 10; i++) expect((await get('/edit.ts')).text).toBe('v1 /edit.ts ');
    });

    it('re-imports a script when a file it imports changes', async () => {
      tree.write('lib/suffix.ts', "export const suffix = '?';\n");
      await new Promise((resolve) => setTimeout(resolve, REVALIDATE_MS + 1000));
      for (let i = 0; i < 6; i++) expect((await get('/hello.ts')).text).toBe('hello /hello.ts ?');
    });

    it('serves a script dropped in while running, in a subdirectory', async () => {
      tree.write('sub/new.ts', helloScript('new'));
      expect(await get('/sub/new.ts/p')).toEqual({ status: 200, text: 'new /sub/new.ts /p' });
    });
  },
);
