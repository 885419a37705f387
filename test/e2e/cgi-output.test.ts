// CGI output that nothing can corrupt (issue 11), through real busybox httpd, lighttpd (mod_cgi) and Apache
// (mod_cgid): an app's console.log at import, before its head and mid-body never reaches the response, under
// `tsgi cgi`, `tsgi run` and a `tsgi build` file; an app that can never finish gets a 500 and one log line.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/deploy/build-app.js';
import {
  makeServerDir,
  renderTemplate,
  startApache,
  startBusybox,
  startLighttpd,
  type RunningServer,
} from '../helpers/servers.js';
import { TSGI_BIN } from '../helpers/spawn-cgi.js';
import { hasTool } from '../helpers/tools.js';
import { send } from './cgi-suite.js';

const fixture = (name: string): string => new URL(`../fixtures/apps/${name}`, import.meta.url).pathname;
const APACHE_RECIPE = new URL('../../scripts/recipes/apache-cgid.conf', import.meta.url).pathname;
const LIGHTTPD_RECIPE = new URL('../../scripts/recipes/lighttpd-cgi.conf', import.meta.url).pathname;
const EXPECTED_BODY = 'first line\nsecond line\n';
const LOGGED = [
  'console-log fixture: at import',
  'console-log fixture: process.stdout at import',
  'console-log fixture: before the head',
  'console-log fixture: info',
  'console-log fixture: debug',
  'console-log fixture: mid-body',
  'console-log fixture: process.stdout mid-body',
];

// Built files shared by every server (esbuild takes a second each).
const built: Record<string, string> = {};
beforeAll(async () => {
  const dir = makeServerDir('cgi-output-build');
  for (const app of ['console-log', 'never-settles']) {
    built[app] = (await buildApp({ app: fixture(`${app}.ts`), outFile: join(dir, `${app}.cgi`) })).outFile;
  }
}, 60_000);

function writeScripts(cgiBin: string): void {
  mkdirSync(cgiBin, { recursive: true, mode: 0o755 });
  chmodSync(cgiBin, 0o755);
  const tsgi = `${process.execPath} ${TSGI_BIN}`;
  const scripts: Record<string, string> = {
    consoleLog: `exec ${tsgi} cgi ${fixture('console-log.ts')}`,
    consoleLogRun: `exec ${tsgi} run ${fixture('console-log.ts')}`,
    consoleLogBuilt: `exec ${process.execPath} ${built['console-log']}`,
    neverSettles: `exec ${tsgi} cgi ${fixture('never-settles.ts')}`,
    neverSettlesRun: `exec ${tsgi} run ${fixture('never-settles.ts')}`,
    neverSettlesBuilt: `exec ${process.execPath} ${built['never-settles']}`,
  };
  for (const [name, command] of Object.entries(scripts)) {
    const file = join(cgiBin, name);
    writeFileSync(file, `#!/bin/sh\n${command}\n`, { mode: 0o755 });
    chmodSync(file, 0o755);
  }
}

const SERVERS: { name: string; tool: string; pkg: string; start: () => Promise<RunningServer> }[] = [
  {
    name: 'busybox httpd',
    tool: 'busybox',
    pkg: 'busybox',
    async start() {
      const dir = makeServerDir('busybox-cgi');
      const home = join(dir, 'www');
      writeScripts(join(home, 'cgi-bin'));
      chmodSync(home, 0o755);
      return startBusybox({ home, dir });
    },
  },
  {
    name: 'lighttpd (mod_cgi)',
    tool: 'lighttpd',
    pkg: 'lighttpd',
    async start() {
      const dir = makeServerDir('lighttpd-cgi-output', ['run']);
      const cgiBin = join(dir, 'cgi-bin');
      writeScripts(cgiBin);
      const config = renderTemplate(LIGHTTPD_RECIPE, { CGI_BIN: cgiBin });
      return startLighttpd({ config, modules: ['mod_alias', 'mod_cgi'], dir });
    },
  },
  {
    name: 'Apache httpd (mod_cgid)',
    tool: 'apache2',
    pkg: 'apache2',
    async start() {
      const dir = makeServerDir('apache-cgi-output');
      const cgiBin = join(dir, 'cgi-bin');
      writeScripts(cgiBin);
      const config = renderTemplate(APACHE_RECIPE, { CGI_BIN: cgiBin, RUNTIME_DIR: dir });
      return startApache({ config, modules: ['cgid', 'alias'], dir });
    },
  },
];

for (const { name, tool, pkg, start } of SERVERS) {
  // CI: under CI=true hasTool throws instead of skipping when the server is missing.
  describe.skipIf(!hasTool(tool, pkg))(`CGI output behind ${name}`, () => {
    let server: RunningServer;
    let base: string;
    beforeAll(async () => {
      server = await start();
      base = `${server.url}/cgi-bin`;
    });
    afterAll(async () => server?.stop());

    for (const script of ['consoleLog', 'consoleLogRun', 'consoleLogBuilt']) {
      it(`${script}: console.log and process.stdout at import, before the head and mid-body go to the error log`, async () => {
        const reply = await send(base, `/${script}/p`);
        expect(reply.status, `${reply.body.toString()}\n--- server log ---\n${server.log()}`).toBe(200);
        expect(reply.body.toString()).toBe(EXPECTED_BODY);
        expect(reply.headers['content-type']).toBe('text/plain; charset=utf-8');
        for (const line of LOGGED) {
          await expect.poll(() => server.log(), { timeout: 5000 }).toContain(line);
        }
      });
    }

    for (const script of ['neverSettles', 'neverSettlesRun', 'neverSettlesBuilt']) {
      it(`${script}: a promise that never settles is a 500 and one log line naming the request`, async () => {
        const reply = await send(base, `/${script}/stuck`);
        expect(reply.status, server.log()).toBe(500);
        expect(reply.body.toString()).toBe('Internal Server Error\n');
        await expect
          .poll(() => server.log(), { timeout: 5000 })
          .toMatch(new RegExp(`GET /cgi-bin/${script}/stuck: the application never finished its response`));
      });

      it(`${script}: with the head already sent, the response is cut off and the log says so`, async () => {
        const reply = await send(base, `/${script}/stuck-after-head?head`).catch((error: Error) => error);
        // A cut-off response: the server either closes the connection early or ends a short chunked body.
        if (!(reply instanceof Error)) expect(reply.body.toString()).toBe('partial');
        await expect
          .poll(() => server.log(), { timeout: 5000 })
          .toMatch(new RegExp(`GET /cgi-bin/${script}/stuck-after-head\\?head: .*; response cut off`));
      });
    }
  });
}
