// A `tsgi build` file copied alone into an empty directory, run by real servers: Apache mod_cgid and lighttpd
// mod_cgi (CGI), lighttpd bin-path and Apache mod_fcgid (FastCGI on fd 0), spawn-fcgi and systemd-style socket
// activation behind nginx — the same file each time, chosen by how it was started.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/deploy/build-app.js';
import {
  freePort,
  makeServerDir,
  renderTemplate,
  serverGid,
  serverUid,
  startApache,
  startLighttpd,
  startNginx,
} from '../helpers/servers.js';
import { hasTool, isRoot } from '../helpers/tools.js';

const FIXTURE = new URL('../fixtures/apps/fastcgi-e2e.mjs', import.meta.url).pathname;
const RECIPES = new URL('../../scripts/recipes/', import.meta.url).pathname;

let appDir: string;
let app: string;

beforeAll(async () => {
  // Readable by www-data, and nothing in it but the one file.
  appDir = makeServerDir('built-app');
  app = (await buildApp({ app: FIXTURE, outFile: join(appDir, 'app.cgi') })).outFile;
});

/** The environ variables the fixture app saw, from its /env route. */
async function envAt(url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  const response = await fetch(url, init);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

async function checkApp(base: string, scriptName: string): Promise<void> {
  const hello = await fetch(`${base}/hello`);
  expect(hello.status).toBe(200);
  expect(await hello.text()).toBe('Hello, world!');
  const env = await envAt(`${base}/a/env?q=1`);
  expect(env).toMatchObject({ SCRIPT_NAME: scriptName, PATH_INFO: '/a/env', QUERY_STRING: 'q=1' });
  const body = new Uint8Array(300_000).map((_, i) => i % 251);
  const posted = await fetch(`${base}/sha256`, { method: 'POST', body });
  const { createHash } = await import('node:crypto');
  expect(await posted.text()).toBe(`${body.length} ${createHash('sha256').update(body).digest('hex')}`);
}

it('is the only file in its directory (no node_modules beside it)', () => {
  expect(readdirSync(appDir)).toEqual(['app.cgi']);
});

describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)('behind Apache', () => {
  it('serves CGI under mod_cgid with ScriptAlias (scripts/recipes/apache-cgid.conf)', async () => {
    const config = renderTemplate(join(RECIPES, 'apache-cgid.conf'), {
      CGI_BIN: appDir,
      RUNTIME_DIR: makeServerDir('cgid-sock'),
    });
    const server = await startApache({ modules: ['cgid', 'alias'], config });
    try {
      await checkApp(`${server.url}/cgi-bin/app.cgi`, '/cgi-bin/app.cgi');
      const env = await envAt(`${server.url}/cgi-bin/app.cgi/env`);
      expect(env['tsgi.multiprocess']).toBe(true);
    } finally {
      await server.stop();
    }
  });

  it.skipIf(!hasTool('apache2', 'apache2') || !modFcgidInstalled() /* both throw under CI=true */)(
    'serves FastCGI under mod_fcgid from the fd 0 socket it is started with (scripts/recipes/apache-fcgid.conf)',
    async () => {
      const dir = makeServerDir('fcgid', ['run']);
      const config = renderTemplate(join(RECIPES, 'apache-fcgid.conf'), {
        RUN_DIR: join(dir, 'run'),
        MOUNT: '/app',
        APP: app,
        APP_DIR: appDir,
        APP_NAME: 'app.cgi',
      });
      const server = await startApache({ modules: ['fcgid', 'alias', 'headers'], config, dir });
      try {
        await checkApp(`${server.url}/app`, '/app');
        // One long-lived process served both requests: FastCGI, not a CGI fallback.
        const first = await envAt(`${server.url}/app/env`);
        const second = await envAt(`${server.url}/app/env`);
        expect(first.pid).toBe(second.pid);
        expect(first['tsgi.input_terminated']).toBe(true);
        const auth = await envAt(`${server.url}/app/env`, { headers: { Authorization: 'Basic dTpw' } });
        expect(auth.HTTP_AUTHORIZATION).toBe('Basic dTpw');
        const proxied = await envAt(`${server.url}/app/env`, { headers: { Proxy: 'http://evil.example' } });
        expect(proxied.HTTP_PROXY).toBeUndefined();
      } finally {
        await server.stop();
      }
    },
  );
});

function modFcgidInstalled(): boolean {
  try {
    readFileSync('/usr/lib/apache2/modules/mod_fcgid.so');
    return true;
  } catch {
    if (process.env.CI === 'true')
      throw new Error('CI=true and mod_fcgid is missing (scripts/install-servers.sh)');
    console.warn('NOTICE: skipping the mod_fcgid test: apt-get install -y libapache2-mod-fcgid');
    return false;
  }
}

describe.skipIf(!hasTool('lighttpd', 'lighttpd') /* throws under CI=true */)('behind lighttpd', () => {
  it('serves CGI under mod_cgi (scripts/recipes/lighttpd-cgi.conf)', async () => {
    const config = renderTemplate(join(RECIPES, 'lighttpd-cgi.conf'), { CGI_BIN: appDir });
    const server = await startLighttpd({ modules: ['mod_alias', 'mod_cgi'], config });
    try {
      await checkApp(`${server.url}/cgi-bin/app.cgi`, '/cgi-bin/app.cgi');
    } finally {
      await server.stop();
    }
  });

  it('serves FastCGI when lighttpd starts it with bin-path (scripts/recipes/lighttpd-fastcgi-binpath.conf)', async () => {
    const dir = makeServerDir('binpath', ['run', 'sock']);
    const config = renderTemplate(join(RECIPES, 'lighttpd-fastcgi-binpath.conf'), {
      MOUNT: '/app',
      SOCKET: join(dir, 'sock', 'app.sock'),
      COMMAND: app,
    });
    const server = await startLighttpd({ modules: ['mod_fastcgi'], config, dir });
    try {
      await checkApp(`${server.url}/app`, '/app');
      const first = await envAt(`${server.url}/app/env`);
      const second = await envAt(`${server.url}/app/env`);
      expect(first.pid).toBe(second.pid);
      // The start line in lighttpd's error log names the mode and why.
      await expect
        .poll(() => server.log())
        .toMatch(/mode fastcgi-inherited: fd 0 is a listening unix socket/);
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('behind nginx', () => {
  let children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    children = [];
  });

  it.skipIf(!hasTool('spawn-fcgi', 'spawn-fcgi') /* throws under CI=true */)(
    'serves FastCGI on the TCP socket spawn-fcgi passes as fd 0 (scripts/recipes/nginx-fastcgi-tcp.conf)',
    async () => {
      const port = await freePort();
      const child = spawn('spawn-fcgi', ['-n', '-a', '127.0.0.1', '-p', String(port), '--', app], {
        env: { PATH: process.env.PATH, TSGI_CACHE_DIR: 'off' },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.push(child);
      let log = '';
      child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      await expect.poll(() => log, { timeout: 10_000 }).toContain('listening');
      expect(log).toMatch(/mode fastcgi-inherited: fd 0 is a listening tcp socket/);
      const nginxPort = await freePort();
      const http = renderTemplate(join(RECIPES, 'nginx-fastcgi-tcp.conf'), {
        LISTEN: `127.0.0.1:${nginxPort}`,
        SERVER_NAME: 'tsgi.test',
        MOUNT: '/app',
        FASTCGI_HOST: '127.0.0.1',
        FASTCGI_PORT: port,
      });
      const server = await startNginx({ http, server: '' });
      try {
        await checkApp(`http://127.0.0.1:${nginxPort}/app`, '/app');
      } finally {
        await server.stop();
        child.kill('SIGTERM');
      }
    },
  );

  it.skipIf(!isRoot('starting a unit as User=www-data needs') /* throws under CI=true */)(
    'serves FastCGI on fd 3 when started as systemd would (LISTEN_FDS, LISTEN_PID) from the recipe units',
    async () => {
      const dir = makeServerDir('systemd', ['run', 'cache']);
      const socket = join(dir, 'run', 'tsgi-e2e.sock');
      const units = renderUnits(dir, socket);
      const verify = spawnSync('systemd-analyze', ['verify', '--man=no', units.socket, units.service], {
        encoding: 'utf8',
      });
      // A misspelt key is only a warning (exit 0): no output at all is the bar.
      expect(verify.stderr + verify.stdout).toBe('');
      expect(verify.status).toBe(0);
      const child = startLikeSystemd(units.socketUnit, units.serviceUnit);
      children.push(child);
      let log = '';
      child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      await expect.poll(() => log, { timeout: 10_000 }).toContain('listening');
      expect(log).toMatch(/mode fastcgi-systemd: .*LISTEN_FDS=1 and LISTEN_PID=\d+ \(this process\)/);
      const nginxPort = await freePort();
      const http = renderTemplate(join(RECIPES, 'nginx-fastcgi-unix.conf'), {
        LISTEN: `127.0.0.1:${nginxPort}`,
        SERVER_NAME: 'tsgi.test',
        MOUNT: '/app',
        SOCKET: socket,
      });
      const server = await startNginx({ http, server: '' });
      try {
        await checkApp(`http://127.0.0.1:${nginxPort}/app`, '/app');
        // The service ran as its User= and wrote its code cache into the unit's TSGI_CACHE_DIR.
        const env = await envAt(`http://127.0.0.1:${nginxPort}/app/env`);
        expect(readFileSync(`/proc/${String(env.pid)}/status`, 'utf8')).toMatch(
          new RegExp(`^Uid:\\s+${serverUid()}\\s`, 'm'),
        );
      } finally {
        await server.stop();
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      expect(readdirSync(join(dir, 'cache'))).toHaveLength(1);
    },
  );

  function renderUnits(dir: string, socket: string) {
    const vars = {
      NAME: 'tsgi-e2e',
      SOCKET: socket,
      SOCKET_USER: 'root',
      SOCKET_GROUP: 'www-data',
      APP: app,
      USER: 'www-data',
      GROUP: 'www-data',
    };
    const socketUnit = renderTemplate(join(RECIPES, 'systemd-tsgi.socket'), vars);
    // The unit's cache directory (CacheDirectory=) is /var/cache/NAME; here it lives in the test's own dir.
    const serviceUnit = renderTemplate(join(RECIPES, 'systemd-tsgi.service'), vars).replace(
      '/var/cache/tsgi-e2e',
      join(dir, 'cache'),
    );
    mkdirSync(join(dir, 'units'));
    const paths = {
      socket: join(dir, 'units', 'tsgi-e2e.socket'),
      service: join(dir, 'units', 'tsgi-e2e.service'),
    };
    writeFileSync(paths.socket, socketUnit);
    writeFileSync(paths.service, serviceUnit);
    chownSync(join(dir, 'cache'), serverUid(), serverGid());
    return { ...paths, socketUnit, serviceUnit };
  }
});

/** One `Key=value` of a unit file (the last one wins, as in systemd). */
function unitValue(unit: string, key: string): string {
  const values = unit.split('\n').filter((line) => line.startsWith(`${key}=`));
  const last = values.at(-1);
  if (last === undefined) throw new Error(`unit has no ${key}=`);
  return last.slice(key.length + 1);
}

/**
 * What systemd does for a .socket + .service pair (sd_listen_fds(3)), done by a small Python launcher because
 * there is no systemd here: bind ListenStream= with SocketMode=/SocketGroup=, put it on fd 3, set LISTEN_FDS=1
 * and LISTEN_PID to the pid that then execs ExecStart= as User=/Group= with Environment=.
 */
function startLikeSystemd(socketUnit: string, serviceUnit: string): ChildProcess {
  const launcher = `
import grp, os, pwd, socket, sys
path, mode, group, user, env = sys.argv[1], int(sys.argv[2], 8), sys.argv[3], sys.argv[4], sys.argv[5]
argv = sys.argv[6:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(128)
os.chown(path, -1, grp.getgrnam(group).gr_gid)
os.chmod(path, mode)
os.dup2(s.fileno(), 3)
# dup2 onto the same number is a no-op that keeps close-on-exec: make fd 3 survive exec either way.
os.set_inheritable(3, True)
name, _, value = env.partition('=')
os.environ[name] = value
os.environ['LISTEN_FDS'] = '1'
os.environ['LISTEN_PID'] = str(os.getpid())
entry = pwd.getpwnam(user)
os.setgroups([])
os.setgid(entry.pw_gid)
os.setuid(entry.pw_uid)
os.execv(argv[0], argv)
`;
  const exec = unitValue(serviceUnit, 'ExecStart').split(/\s+/);
  return spawn(
    'python3',
    [
      '-c',
      launcher,
      unitValue(socketUnit, 'ListenStream'),
      unitValue(socketUnit, 'SocketMode'),
      unitValue(socketUnit, 'SocketGroup'),
      unitValue(serviceUnit, 'User'),
      unitValue(serviceUnit, 'Environment'),
      ...exec,
    ],
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
}
