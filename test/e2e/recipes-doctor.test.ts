// tsgi doctor and tsgi explain on requests from real nginx, Apache and lighttpd: each finding comes from a
// config that really has the problem, and goes away with the recipe's fix (scripts/recipes/*).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { buildApp } from '../../src/deploy/build-app.js';
import {
  freePort,
  makeServerDir,
  renderTemplate,
  startApache,
  startLighttpd,
  startNginx,
  type RunningServer,
} from '../helpers/servers.js';
import { hasTool, isRoot } from '../helpers/tools.js';

const RECIPES = new URL('../../scripts/recipes/', import.meta.url).pathname;
const TSGI_BIN = new URL('../../bin/tsgi.js', import.meta.url).pathname;
const FIXTURE = new URL('../fixtures/apps/fastcgi-e2e.mjs', import.meta.url).pathname;

/** Runs the tsgi CLI in this process, collecting what it prints, while `during` drives the web server. */
async function runCli(
  args: string[],
  during: () => Promise<void> = async () => {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    const done = main(args);
    await during();
    return { code: await done, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

async function waitForPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** A CGI wrapper that runs a tsgi subcommand from this checkout's dist/ (as a deployment would from npm). */
function cgiWrapper(dir: string, name: string, subcommand: string): void {
  if (!existsSync(new URL('../../dist/cli/main.js', import.meta.url))) {
    throw new Error('dist/ is missing: run `node scripts/build.mjs --js-only` first');
  }
  writeFileSync(join(dir, name), `#!/bin/sh\nexec ${process.execPath} ${TSGI_BIN} ${subcommand}\n`, {
    mode: 0o755,
  });
}

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('doctor behind nginx', () => {
  let servers: RunningServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    servers = [];
  });

  /** nginx with `http` (a recipe or a broken config) in front of doctor on a free port; returns the findings. */
  async function doctorBehind(
    http: (fastcgi: string, listen: string, root: string) => string,
    path: string,
    extra: string[] = [],
  ) {
    const [fastcgiPort, nginxPort] = [await freePort(), await freePort()];
    const root = makeServerDir('doctor-root');
    writeFileSync(join(root, 'hello.tsgi'), '', { mode: 0o644 });
    const server = await startNginx({
      http: http(`127.0.0.1:${fastcgiPort}`, `127.0.0.1:${nginxPort}`, root),
      server: '',
    });
    servers.push(server);
    const url = `http://127.0.0.1:${nginxPort}${path}`;
    return runCli(['doctor', '--listen', `127.0.0.1:${fastcgiPort}`, '--url', url, ...extra]);
  }

  const splitRecipe = (fastcgi: string, listen: string, root: string): string =>
    renderTemplate(join(RECIPES, 'nginx-split-path-info.conf'), {
      LISTEN: listen,
      SERVER_NAME: 'tsgi.test',
      ROOT: root,
      FASTCGI_ADDRESS: fastcgi,
    });

  it('passes the nginx-split-path-info recipe: PATH_INFO survives try_files, no Proxy header, Authorization arrives', async () => {
    const result = await doctorBehind(splitRecipe, '/hello.tsgi');
    expect(result.stdout, result.stderr).toContain(
      'ok    request-ok: the request carried everything tsgi needs',
    );
    expect(result.stdout).toContain('0 error(s), 0 warning(s)');
    expect(result.code).toBe(0);
  });

  it("finds PATH_INFO emptied by try_files when the recipe's copy of $fastcgi_path_info is left out", async () => {
    const broken = (fastcgi: string, listen: string, root: string): string =>
      splitRecipe(fastcgi, listen, root).replace(
        'fastcgi_param PATH_INFO $path_info;',
        'fastcgi_param PATH_INFO $fastcgi_path_info;',
      );
    const result = await doctorBehind(broken, '/hello.tsgi');
    expect(result.stdout).toMatch(
      /^ERROR empty-path-info: PATH_INFO is "" but the request path was "\/hello.tsgi\/tsgi-doctor\/path-info"/m,
    );
    expect(result.stdout).toContain('set $path_info $fastcgi_path_info;');
    expect(result.code).toBe(1);
  });

  it('finds a missing SCRIPT_NAME when the params are written by hand', async () => {
    const handWritten = (fastcgi: string, listen: string): string => `server {
    listen ${listen};
    location /app/ {
        fastcgi_param REQUEST_METHOD $request_method;
        fastcgi_param QUERY_STRING $query_string;
        fastcgi_param REQUEST_URI $request_uri;
        fastcgi_param PATH_INFO $uri;
        fastcgi_param SERVER_SOFTWARE nginx/$nginx_version;
        fastcgi_pass ${fastcgi};
    }
}`;
    const result = await doctorBehind(handWritten, '/app');
    expect(result.stdout).toMatch(/^ERROR missing-script-name: SCRIPT_NAME is missing/m);
    expect(result.stdout).toContain('include fastcgi_params;   # sets SCRIPT_NAME $fastcgi_script_name');
    expect(result.code).toBe(1);
  });

  it('finds the Proxy header passed as HTTP_PROXY by the stock fastcgi_params, with the nginx line that stops it', async () => {
    const stock = (fastcgi: string, listen: string, root: string): string =>
      splitRecipe(fastcgi, listen, root).replace('fastcgi_param HTTP_PROXY "";', '');
    const result = await doctorBehind(stock, '/hello.tsgi');
    expect(result.stdout).toMatch(
      /^WARN {2}httpoxy: the client's Proxy header arrived as HTTP_PROXY="http:\/\/tsgi-doctor.invalid:3128"/m,
    );
    expect(result.stdout).toContain('fastcgi_param HTTP_PROXY "";');
    expect(result.stdout).not.toContain('fix (apache)');
  });

  it('finds a web server address FCGI_WEB_SERVER_ADDRS would refuse, with the list that lets it in', async () => {
    const result = await doctorBehind(splitRecipe, '/hello.tsgi', ['--web-server-addrs', '10.9.9.9']);
    expect(result.stdout).toMatch(
      /^ERROR web-server-addrs: FCGI_WEB_SERVER_ADDRS=10\.9\.9\.9 does not include the web server's address 127\.0\.0\.1/m,
    );
    expect(result.stdout).toContain('FCGI_WEB_SERVER_ADDRS=10.9.9.9,127.0.0.1');
    expect(result.code).toBe(1);
  });

  let listener: ChildProcess | undefined;
  afterAll(() => listener?.kill('SIGKILL'));

  it.skipIf(!isRoot('a socket owned by another user needs') /* throws under CI=true */)(
    'finds a socket www-data cannot open (nginx answers 502) and passes once its group is www-data',
    async () => {
      const dir = makeServerDir('doctor-socket', ['sock']);
      const app = (await buildApp({ app: FIXTURE, outFile: join(dir, 'app.fcgi') })).outFile;
      const socket = join(dir, 'sock', 'app.sock');
      const start = async (...flags: string[]): Promise<ChildProcess> => {
        const child = spawn(process.execPath, [app, '--listen', `unix:${socket}`, ...flags], {
          env: { PATH: process.env.PATH, TSGI_CACHE_DIR: 'off' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let log = '';
        child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
        await expect.poll(() => log, { timeout: 10_000 }).toContain('listening');
        return child;
      };
      listener = await start('--socket-mode', '600');
      const nginxPort = await freePort();
      const http = renderTemplate(join(RECIPES, 'nginx-fastcgi-unix.conf'), {
        LISTEN: `127.0.0.1:${nginxPort}`,
        SERVER_NAME: 'tsgi.test',
        MOUNT: '/app',
        SOCKET: socket,
      });
      const server = await startNginx({ http, server: '' });
      servers.push(server);
      expect((await fetch(`http://127.0.0.1:${nginxPort}/app/hello`)).status).toBe(502);
      expect(server.log()).toContain('(13: Permission denied)');
      const refused = await runCli(['doctor', '--socket', socket, '--user', 'www-data']);
      expect(refused.stdout).toContain(
        `ERROR socket-permission: www-data cannot connect to ${socket} (root:root, mode 600)`,
      );
      expect(refused.stdout).toContain('SocketGroup=www-data');
      expect(refused.code).toBe(1);

      listener.kill('SIGTERM');
      await new Promise((resolve) => listener?.once('exit', resolve));
      listener = await start('--socket-group', 'www-data');
      const response = await fetch(`http://127.0.0.1:${nginxPort}/app/hello`);
      expect(await response.text()).toBe('Hello, world!');
      const fixed = await runCli(['doctor', '--socket', socket, '--user', 'www-data']);
      expect(fixed.stdout).toContain(
        `ok    socket-ok: www-data can connect to ${socket} (root:www-data, mode 660)`,
      );
      expect(fixed.code).toBe(0);
    },
  );
});

describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)(
  'doctor as a CGI program under Apache mod_cgid',
  () => {
    async function probeThrough(extra: string): Promise<string> {
      const cgiBin = makeServerDir('doctor-cgi');
      cgiWrapper(cgiBin, 'doctor', 'doctor');
      const config = renderTemplate(join(RECIPES, 'apache-cgid.conf'), {
        CGI_BIN: cgiBin,
        RUNTIME_DIR: makeServerDir('doctor-cgid'),
      });
      const server = await startApache({
        modules: ['cgid', 'alias'],
        config: `${config}\n${extra.replaceAll('{{CGI_BIN}}', cgiBin)}`,
      });
      try {
        // The curl line doctor prints: a path after the script, the probe marker, Authorization and Proxy.
        const response = await fetch(`${server.url}/cgi-bin/doctor/tsgi-doctor/path-info?tsgi-doctor=1`, {
          headers: { Authorization: 'Basic dHNnaTpkb2N0b3I=', Proxy: 'http://tsgi-doctor.invalid:3128' },
        });
        expect(response.status).toBe(200);
        return await response.text();
      } finally {
        await server.stop();
      }
    }

    it('finds that Apache keeps Authorization from CGI programs, and names CGIPassAuth On as the fix', async () => {
      const report = await probeThrough('');
      expect(report).toMatch(/^ERROR missing-authorization: the Authorization header did not reach the app/m);
      expect(report).toContain('CGIPassAuth On');
      expect(report).not.toContain('fix (nginx)');
      // Apache's CGI modules already drop the Proxy header (httpoxy fix in 2.4.24): nothing to report there.
      expect(report).not.toContain('httpoxy');
    });

    it('passes once the script directory has CGIPassAuth On', async () => {
      const report = await probeThrough('<Directory "{{CGI_BIN}}">\n    CGIPassAuth On\n</Directory>');
      expect(report).not.toContain('missing-authorization');
      expect(report).toContain('0 error(s)');
    });
  },
);

describe('explain on real requests', () => {
  it.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)(
    'from nginx (nginx-fastcgi-tcp recipe): the raw params, the empty CONTENT_* it drops, and the environ',
    async () => {
      const [fastcgiPort, nginxPort] = [await freePort(), await freePort()];
      const http = renderTemplate(join(RECIPES, 'nginx-fastcgi-tcp.conf'), {
        LISTEN: `127.0.0.1:${nginxPort}`,
        SERVER_NAME: 'tsgi.test',
        MOUNT: '/app',
        FASTCGI_HOST: '127.0.0.1',
        FASTCGI_PORT: fastcgiPort,
      });
      const server = await startNginx({ http, server: '' });
      let text = '';
      try {
        const result = await runCli(
          ['explain', '--listen', `127.0.0.1:${fastcgiPort}`, '--once'],
          async () => {
            await waitForPort(fastcgiPort);
            text = await (await fetch(`http://127.0.0.1:${nginxPort}/app/a%20b/c?x=1`)).text();
          },
        );
        expect(result.code).toBe(0);
      } finally {
        await server.stop();
      }
      expect(text).toContain('tsgi explain: one FastCGI request');
      expect(text).toMatch(
        /as it arrived:\n {2}REQUEST_METHOD="GET"\n {2}REQUEST_URI="\/app\/a%20b\/c\?x=1"\n {2}SCRIPT_NAME="\/app"\n {2}PATH_INFO="\/a b\/c"/,
      );
      expect(text).toContain('CONTENT_LENGTH=""');
      expect(text).toContain(
        '  - dropEmptyContentVars: removed empty CONTENT_TYPE, CONTENT_LENGTH (nginx fastcgi_params)',
      );
      expect(text).toContain('  CONTENT_LENGTH: "" -> (unset)');
      expect(text).toMatch(/SERVER_SOFTWARE="nginx\/[\d.]+"/);
    },
  );

  it.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)(
    'from Apache mod_proxy_fcgi (apache-proxy-fcgi recipe): SCRIPT_NAME/PATH_INFO as its ProxyFCGISetEnvIf rules set them',
    async () => {
      const fastcgiPort = await freePort();
      const config = renderTemplate(join(RECIPES, 'apache-proxy-fcgi.conf'), {
        FASTCGI_HOST: '127.0.0.1',
        FASTCGI_PORT: fastcgiPort,
        MOUNT: '/app',
      });
      const server = await startApache({ modules: ['proxy', 'proxy_fcgi', 'headers'], config });
      let text = '';
      try {
        await runCli(['explain', '--listen', `127.0.0.1:${fastcgiPort}`, '--once'], async () => {
          await waitForPort(fastcgiPort);
          text = await (
            await fetch(`${server.url}/app/x/y?q=2`, { signal: AbortSignal.timeout(10_000) })
          ).text();
        });
      } finally {
        await server.stop();
      }
      expect(text).toContain('tsgi explain: one FastCGI request');
      expect(text).toMatch(
        /as it arrived:\n {2}REQUEST_METHOD="GET"\n {2}REQUEST_URI="\/app\/x\/y\?q=2"\n {2}SCRIPT_NAME="\/app"\n {2}PATH_INFO="\/x\/y"/,
      );
      expect(text).toMatch(/SERVER_SOFTWARE="Apache\/2\.4/);
      expect(text).toMatch(/environ \(CGI variables the application gets\):\n {2}REQUEST_METHOD="GET"/);
    },
  );

  it.skipIf(!hasTool('lighttpd', 'lighttpd') /* throws under CI=true */)(
    'from lighttpd mod_cgi (lighttpd-cgi recipe): the whole CGI environment as the program got it',
    async () => {
      const cgiBin = makeServerDir('explain-cgi');
      cgiWrapper(cgiBin, 'explain', 'explain');
      const config = renderTemplate(join(RECIPES, 'lighttpd-cgi.conf'), { CGI_BIN: cgiBin });
      const server = await startLighttpd({ modules: ['mod_alias', 'mod_cgi'], config });
      let text: string;
      try {
        const response = await fetch(`${server.url}/cgi-bin/explain/p/q?r=3`, {
          headers: { Proxy: 'http://evil:1' },
        });
        text = await response.text();
      } finally {
        await server.stop();
      }
      expect(text).toContain('tsgi explain: one CGI request');
      expect(text).toMatch(
        /as it arrived:\n {2}REQUEST_METHOD="GET"\n {2}REQUEST_URI="\/cgi-bin\/explain\/p\/q\?r=3"\n {2}SCRIPT_NAME="\/cgi-bin\/explain"\n {2}PATH_INFO="\/p\/q"/,
      );
      expect(text).toMatch(/SERVER_SOFTWARE="lighttpd\/1\.4/);
      // lighttpd drops the Proxy header itself (httpoxy), so there is no HTTP_PROXY step to report.
      expect(text).not.toContain('HTTP_PROXY');
      expect(readFileSync(join(cgiBin, 'explain'), 'utf8')).toContain('tsgi.js explain');
    },
  );
});
