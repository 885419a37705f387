// lighttpd mod_fastcgi in bin-path mode: lighttpd starts `tsgi fastcgi` itself, as www-data, socket on fd 0.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEnv, httpBattery, recipe } from '../helpers/fastcgi-e2e.js';
import { E2E_APP, TSGI_BIN } from '../helpers/fastcgi-process.js';
import {
  makeServerDir,
  renderTemplate,
  serverUid,
  startLighttpd,
  type RunningServer,
} from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const MOUNT = '/app';
const IS_ROOT = process.getuid?.() === 0;

function uidOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith('Uid:'));
  return Number(line?.split(/\s+/)[1]);
}

describe.skipIf(!hasTool('lighttpd', 'lighttpd') /* throws under CI=true */)(
  'lighttpd mod_fastcgi bin-path → tsgi fastcgi on fd 0 (recipe lighttpd-fastcgi-binpath.conf)',
  () => {
    let lighttpd: RunningServer | undefined;
    beforeAll(async () => {
      // run/ belongs to the server's user: lighttpd creates the socket there after dropping root.
      const dir = makeServerDir('lighttpd-fcgi', ['run']);
      lighttpd = await startLighttpd({
        dir,
        modules: ['mod_fastcgi'],
        config: renderTemplate(recipe('lighttpd-fastcgi-binpath.conf'), {
          MOUNT,
          SOCKET: join(dir, 'run', 'tsgi.sock'),
          // lighttpd splits bin-path at spaces and execs it as its user: node, tsgi and the app are readable.
          COMMAND: `${process.execPath} ${TSGI_BIN} fastcgi ${E2E_APP}`,
        }),
      });
    });
    afterAll(async () => {
      await lighttpd?.stop();
    });
    const base = (): string => `${lighttpd!.url}${MOUNT}`;

    it('was started by lighttpd on the inherited socket (fd 0), as the server’s user', async () => {
      const env = await getEnv(`${base()}/env`);
      if (IS_ROOT) expect(uidOf(Number(env.pid))).toBe(serverUid());
      expect(lighttpd!.log()).toMatch(/tsgi fastcgi: listening on fd:0 \(inherited\) \(1 process, pid \d+\)/);
    });

    httpBattery({ base, scriptName: MOUNT });

    it('sends the bare mount as SCRIPT_NAME with an empty PATH_INFO', async () => {
      const env = await getEnv(`${base()}?env`);
      expect([env.SCRIPT_NAME, env.PATH_INFO ?? '']).toEqual([MOUNT, '']);
    });

    it('serves again after the process dies mid-request (lighttpd starts a new one on the same socket)', async () => {
      const before = (await getEnv(`${base()}/env`)).pid;
      expect((await fetch(`${base()}/crash`)).status).toBeGreaterThanOrEqual(500);
      let after: unknown;
      for (let i = 0; i < 50 && after === undefined; i++) {
        const response = await fetch(`${base()}/env`);
        if (response.status === 200) after = ((await response.json()) as { pid: number }).pid;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(after).toEqual(expect.any(Number));
      expect(after).not.toBe(before);
    });
  },
);
