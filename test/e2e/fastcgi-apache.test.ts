// Apache httpd mod_proxy_fcgi (enablereuse) in front of `tsgi fastcgi`, configured from the recipe.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEnv, httpBattery, recipe } from '../helpers/fastcgi-e2e.js';
import { E2E_APP, startListener, TSGI_BIN, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { makeServerDir, renderTemplate, startApache, type RunningServer } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const MOUNT = '/app';

describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)(
  'Apache mod_proxy_fcgi → tsgi fastcgi (recipe apache-proxy-fcgi.conf)',
  () => {
    let listener: ListenerProcess | undefined;
    let apache: RunningServer | undefined;
    beforeAll(async () => {
      listener = await startListener(['--listen', '127.0.0.1:0']);
      const colon = listener.address.lastIndexOf(':');
      apache = await startApache({
        modules: ['proxy', 'proxy_fcgi', 'headers'],
        config: renderTemplate(recipe('apache-proxy-fcgi.conf'), {
          MOUNT,
          FASTCGI_HOST: listener.address.slice(0, colon),
          FASTCGI_PORT: listener.address.slice(colon + 1),
        }),
      });
    });
    afterAll(async () => {
      await apache?.stop();
      await listener?.stop('SIGKILL');
    });
    const base = (): string => `${apache!.url}${MOUNT}`;

    httpBattery({ base, scriptName: MOUNT });

    it('sends the bare mount as SCRIPT_NAME with an empty PATH_INFO', async () => {
      const env = await getEnv(`${base()}?env`);
      expect([env.SCRIPT_NAME, env.PATH_INFO ?? '']).toEqual([MOUNT, '']);
    });

    it('splits at the mount even where the document root has matching directories', async () => {
      // Apache's own split walks the filesystem: htdocs/app/deep would move "/deep" into SCRIPT_NAME.
      mkdirSync(join(apache!.dir, 'htdocs', 'app', 'deep'), { recursive: true });
      const env = await getEnv(`${base()}/deep/x/env`);
      expect([env.SCRIPT_NAME, env.PATH_INFO]).toEqual([MOUNT, '/deep/x/env']);
    });

    it('drops a client Proxy header (httpoxy) before it can become HTTP_PROXY', async () => {
      const env = await getEnv(`${base()}/env`, { headers: { Proxy: 'http://evil.example:8080' } });
      expect(env.HTTP_PROXY).toBeUndefined();
    });

    it('reuses its FastCGI connections (enablereuse) without a proxy error in the log', async () => {
      for (let i = 0; i < 20; i++) await getEnv(`${base()}/env?seq=${i}`);
      expect(apache!.log()).not.toMatch(/AH01075|AH01067|AH00898|error reading/);
      expect(listener!.child.exitCode).toBeNull();
    });
  },
);

describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)(
  'Apache mod_fcgid starting tsgi fastcgi on fd 0 (recipe apache-fcgid-wrapper.conf)',
  () => {
    let apache: RunningServer | undefined;
    beforeAll(async () => {
      if (!existsSync('/usr/lib/apache2/modules/mod_fcgid.so')) {
        throw new Error('mod_fcgid is not installed (apt-get install libapache2-mod-fcgid)');
      }
      // fcgid/ belongs to the server's user: mod_fcgid creates its sockets there after Apache drops root.
      const dir = makeServerDir('apache-fcgid', ['fcgid']);
      const wrapper = join(dir, 'tsgi-wrapper');
      writeFileSync(wrapper, `#!/bin/sh\nexec ${process.execPath} ${TSGI_BIN} fastcgi ${E2E_APP}\n`, {
        mode: 0o755,
      });
      apache = await startApache({
        dir,
        modules: ['fcgid'],
        config: [
          renderTemplate(recipe('apache-fcgid-wrapper.conf'), {
            MOUNT,
            IPC_DIR: join(dir, 'fcgid'),
            WRAPPER: wrapper,
          }),
          // Reap idle processes within seconds, so that the test sees mod_fcgid's SIGTERM.
          'FcgidIdleTimeout 3',
          'FcgidIdleScanInterval 1',
        ].join('\n'),
      });
    });
    afterAll(async () => {
      await apache?.stop();
    });
    const base = (): string => `${apache!.url}${MOUNT}`;

    it('was started by mod_fcgid on the inherited socket (fd 0)', async () => {
      expect((await getEnv(`${base()}/env`)).SCRIPT_NAME).toBe(MOUNT);
      expect(apache!.log()).toMatch(/tsgi fastcgi: listening on fd:0 \(inherited\) \(1 process, pid \d+\)/);
    });

    httpBattery({ base, scriptName: MOUNT });

    it('stops cleanly when mod_fcgid reaps an idle process with SIGTERM', async () => {
      await getEnv(`${base()}/env?before-idle`);
      const deadline = Date.now() + 20_000;
      while (!/tsgi fastcgi: stopped\n/.test(apache!.log()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(apache!.log()).toMatch(/tsgi fastcgi: SIGTERM: stopping, 0 request\(s\) in flight/);
      expect(apache!.log()).toMatch(/tsgi fastcgi: stopped\n/);
      // A new request starts a new process.
      expect((await getEnv(`${base()}/env?after-idle`)).QUERY_STRING).toBe('after-idle');
    });
  },
);
