// Apache mod_proxy_fcgi -> tsgi fastcgi --scripts ROOT (recipe apache-scripts.conf): SCRIPT_FILENAME as Apache
// sends it (proxy:fcgi://HOST:PORT/path), PATH_INFO from AcceptPathInfo.
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipe } from '../helpers/fastcgi-e2e.js';
import { startListener, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { helloScript, makeScriptTree, type ScriptTree } from '../helpers/script-dirs.js';
import { renderTemplate, startApache, type RunningServer } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const REVALIDATE_MS = 300;

describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)(
  'Apache mod_proxy_fcgi → tsgi fastcgi --scripts',
  () => {
    let tree: ScriptTree;
    let listener: ListenerProcess;
    let apache: RunningServer;

    beforeAll(async () => {
      tree = makeScriptTree('scripts-apache');
      tree.write('hello.ts', helloScript('hello'));
      tree.write('edit.ts', helloScript('v0'));
      tree.write('broken.ts', 'export default 42;\n');
      tree.write('open.ts', helloScript('open'), 0o666);
      writeFileSync(join(tree.base, 'outside.ts'), helloScript('outside'));
      symlinkSync(join(tree.base, 'outside.ts'), join(tree.root, 'escape.ts'));
      listener = await startListener(
        ['--scripts', tree.root, '--revalidate', String(REVALIDATE_MS), '--listen', '127.0.0.1:0'],
        { app: null },
      );
      const colon = listener.address.lastIndexOf(':');
      apache = await startApache({
        modules: ['proxy', 'proxy_fcgi', 'headers'],
        config: renderTemplate(recipe('apache-scripts.conf'), {
          ROOT: tree.root,
          FASTCGI_HOST: listener.address.slice(0, colon),
          FASTCGI_PORT: listener.address.slice(colon + 1),
        }).replace(/^/, `DocumentRoot "${tree.root}"\n`),
      });
    });
    afterAll(async () => {
      await apache?.stop();
      await listener?.stop('SIGKILL');
      tree?.remove();
    });

    const get = async (path: string): Promise<{ status: number; text: string }> => {
      const response = await fetch(apache.url + path, { headers: { Connection: 'close' } });
      return { status: response.status, text: await response.text() };
    };

    it('serves a script with PATH_INFO, and strips the proxy:fcgi:// prefix of SCRIPT_FILENAME', async () => {
      expect(await get('/hello.ts/users/7')).toEqual({ status: 200, text: 'hello /hello.ts /users/7' });
    });

    it('refuses a symlink leaving ROOT, a world-writable file; 500 for a broken one beside working ones', async () => {
      expect((await get('/escape.ts')).status).toBe(404);
      expect((await get('/open.ts')).status).toBe(403);
      expect((await get('/broken.ts')).status).toBe(500);
      expect((await get('/hello.ts')).status).toBe(200);
      await listener.waitForLog(/tsgi scripts: 500: broken\.ts: /);
    });

    it('a missing script is a 404 without file system detail', async () => {
      const missing = await get('/missing.ts');
      expect(missing.status).toBe(404);
      expect(missing.text).not.toContain(tree.root);
    });

    it('serves an edit within the revalidation interval + 1 s, with no failed request', async () => {
      expect((await get('/edit.ts')).text).toBe('v0 /edit.ts ');
      let stop = false;
      let failed = 0;
      const client = async (): Promise<void> => {
        while (!stop) {
          const { status, text } = await get('/edit.ts');
          if (status !== 200 || !/^v[01] /.test(text)) failed += 1;
        }
      };
      const clients = Array.from({ length: 4 }, client);
      tree.write('edit.ts', helloScript('v1'));
      await new Promise((resolve) => setTimeout(resolve, REVALIDATE_MS + 1000));
      stop = true;
      await Promise.all(clients);
      expect(failed).toBe(0);
      expect((await get('/edit.ts')).text).toBe('v1 /edit.ts ');
    });
  },
);
