// tsgi explain installed as the README once suggested, through real servers (issue 11): as a CGI program behind
// busybox httpd and lighttpd with secrets planted in its environment, and as `explain --listen` behind nginx with
// a secret fastcgi_param. No client may get the process environment or the value of its own credentials.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  freePort,
  makeServerDir,
  renderTemplate,
  startBusybox,
  startLighttpd,
  startNginx,
  type RunningServer,
} from '../helpers/servers.js';
import { TSGI_BIN } from '../helpers/spawn-cgi.js';
import { hasTool } from '../helpers/tools.js';

const LIGHTTPD_RECIPE = new URL('../../scripts/recipes/lighttpd-cgi.conf', import.meta.url).pathname;
const PLANTED = { DB_PASSWORD: 'hunter2-planted', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI-planted' };
const CREDENTIALS = { Authorization: 'Basic dXNlcjpzM2NyZXQ=', Cookie: 'session=cookie-secret-value' };

function writeExplainWrapper(cgiBin: string): void {
  mkdirSync(cgiBin, { recursive: true, mode: 0o755 });
  chmodSync(cgiBin, 0o755);
  const env = Object.entries(PLANTED)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  const file = join(cgiBin, 'explain');
  writeFileSync(file, `#!/bin/sh\nexport ${env}\nexec ${process.execPath} ${TSGI_BIN} explain\n`, {
    mode: 0o755,
  });
  chmodSync(file, 0o755);
}

function expectRedacted(text: string, log: string): void {
  expect(text, log).toContain('tsgi explain: one');
  for (const secret of [...Object.values(PLANTED), 'dXNlcjpzM2NyZXQ=', 'cookie-secret-value']) {
    expect(text).not.toContain(secret);
  }
  expect(text).not.toContain('DB_PASSWORD');
  expect(text).toMatch(/HTTP_COOKIE="<redacted, 27 bytes>"/);
  expect(text).toMatch(/more not shown: not part of the request/);
}

const CGI_SERVERS: {
  name: string;
  tool: string;
  start: (cgiBin: string, dir: string) => Promise<RunningServer>;
}[] = [
  {
    name: 'busybox httpd',
    tool: 'busybox',
    start: (_cgiBin, dir) => startBusybox({ home: join(dir, 'www'), dir }),
  },
  {
    name: 'lighttpd (mod_cgi)',
    tool: 'lighttpd',
    start: (cgiBin, dir) =>
      startLighttpd({
        config: renderTemplate(LIGHTTPD_RECIPE, { CGI_BIN: cgiBin }),
        modules: ['mod_alias', 'mod_cgi'],
        dir,
      }),
  },
];

for (const { name, tool, start } of CGI_SERVERS) {
  // CI: under CI=true hasTool throws instead of skipping when the server is missing.
  it.skipIf(!hasTool(tool, tool))(`explain as a CGI program behind ${name} redacts secrets`, async () => {
    const dir = makeServerDir('explain-redact', tool === 'lighttpd' ? ['run'] : []);
    const home = join(dir, 'www');
    mkdirSync(home, { mode: 0o755 });
    chmodSync(home, 0o755);
    const cgiBin = join(home, 'cgi-bin');
    writeExplainWrapper(cgiBin);
    const server = await start(cgiBin, dir);
    try {
      const response = await fetch(`${server.url}/cgi-bin/explain/p?q=1`, { headers: CREDENTIALS });
      expect(response.status, server.log()).toBe(200);
      expectRedacted(await response.text(), server.log());
      expect(server.log()).not.toContain('hunter2-planted');
    } finally {
      await server.stop();
    }
  });
}

describe.skipIf(!hasTool('nginx', 'nginx'))('explain --listen behind nginx', () => {
  it('redacts a secret fastcgi_param and the client credentials, in the answer and in its log', async () => {
    const fastcgiPort = await freePort();
    const server = await startNginx({
      server: `location /app/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param DB_PASSWORD ${PLANTED.DB_PASSWORD};
            fastcgi_param HTTP_PROXY "";
            fastcgi_pass 127.0.0.1:${fastcgiPort};
        }`,
    });
    const child = spawn(
      process.execPath,
      [TSGI_BIN, 'explain', '--listen', `127.0.0.1:${fastcgiPort}`, '--once'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await expect.poll(() => log, { timeout: 10_000 }).toContain('listening on');
      const response = await fetch(`${server.url}/app/x`, { headers: CREDENTIALS });
      const text = await response.text();
      expectRedacted(text, server.log());
      await exited;
      expect(log).not.toContain(PLANTED.DB_PASSWORD);
      expect(log).not.toContain('cookie-secret-value');
    } finally {
      child.kill();
      await server.stop();
    }
  });
});
