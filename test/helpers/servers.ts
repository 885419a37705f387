// Starts real nginx, Apache httpd, lighttpd and busybox httpd on loopback from a config the test supplies, and stops them.
// Each server gets its own temp directory (config, pid, logs) and a free port; when run as root the servers
// drop to SERVER_USER, as they do in production, so file and socket permissions are tested for real.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findTool } from './tools.js';

/** The unprivileged user the web servers run as (Debian's). */
export const SERVER_USER = 'www-data';
const IS_ROOT = process.getuid?.() === 0;

/** A started web server. */
export interface RunningServer {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The server's private temp directory (config, logs, sockets may go here). */
  readonly dir: string;
  /** Everything the server wrote to its error logs and stderr so far (for assertion messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A TCP port on 127.0.0.1 that nothing listens on, for a server this test starts next. Taken below the kernel's
 * ephemeral range (net.ipv4.ip_local_port_range): a port from bind(0) is an ephemeral one, which any outgoing
 * connection of a test file running in parallel (a load loop opens thousands) may take as its local port
 * before the server binds it. (One full CI run had `tsgi doctor` behind nginx print nothing, most likely for
 * this reason: no other test of that file failed.)
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  const first = Math.max(1024, low - 12_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = first + Math.floor(Math.random() * (low - first));
    if (await canListen(port)) return port;
  }
  throw new Error(`freePort: no free port found in ${first}-${low - 1}`);
}

/** The first port of the kernel's ephemeral range. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 2048) return low;
  } catch {
    // not Linux: Linux's default below
  }
  return 32768;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Replaces every `{{NAME}}` in a template (a file path ending in a known extension, or template text) with
 * `vars.NAME`; a placeholder left without a value is an error, so a recipe cannot silently rot.
 */
export function renderTemplate(pathOrText: string, vars: Readonly<Record<string, string | number>>): string {
  const text = existsSync(pathOrText) ? readFileSync(pathOrText, 'utf8') : pathOrText;
  return text.replace(/\{\{([A-Z0-9_]+)\}\}/g, (_, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`renderTemplate: no value for {{${name}}}`);
    return String(value);
  });
}

/**
 * A temp directory every user can traverse (the web server's user must reach configs, sockets and scripts
 * in it); `owned` sub-directories belong to SERVER_USER when run as root.
 */
export function makeServerDir(prefix: string, owned: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), `tsgi-${prefix}-`));
  chmodSync(dir, 0o755);
  for (const name of owned) {
    const sub = join(dir, name);
    mkdirSync(sub, { recursive: true });
    if (IS_ROOT) chownSync(sub, serverUid(), serverGid());
  }
  return dir;
}

let ids: { uid: number; gid: number } | undefined;
function serverIds(): { uid: number; gid: number } {
  if (ids === undefined) {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith(`${SERVER_USER}:`));
    const fields = line?.split(':') ?? [];
    ids = { uid: Number(fields[2] ?? 33), gid: Number(fields[3] ?? 33) };
  }
  return ids;
}
/** uid of SERVER_USER. */
export const serverUid = (): number => serverIds().uid;
/** gid of SERVER_USER. */
export const serverGid = (): number => serverIds().gid;

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before listening`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not listening on ${port} after ${timeoutMs} ms`);
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** A server process to start in its own process group and wait for on `port`. */
export interface Launch {
  name: string;
  dir: string;
  port: number;
  command: string;
  args: string[];
  logFiles: string[];
}

/** Starts a server process, waits until it listens on `port`, and returns how to read its log and stop it. */
export async function launch({ name, dir, port, command, args, logFiles }: Launch): Promise<RunningServer> {
  let output = '';
  // detached: the server leads its own process group, so stop() also reaps its workers and CGI children.
  const child = spawn(command, args, { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const log = (): string =>
    [output, ...logFiles.filter((file) => existsSync(file)).map((file) => readFileSync(file, 'utf8'))].join(
      '\n',
    );
  const stop = async (): Promise<void> => {
    if (!running.has(child)) return;
    running.delete(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    killGroup(child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
    if (child.exitCode === null) await exited;
    clearTimeout(timer);
    if (process.env.TSGI_KEEP_SERVER_DIRS !== '1') rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, 15_000);
  } catch (error) {
    const text = log();
    await stop();
    throw new Error(`${name} did not start: ${(error as Error).message}\n${text}`);
  }
  return { port, url: `http://127.0.0.1:${port}`, dir, log, stop };
}

function requireBinary(name: string): string {
  const path = findTool(name);
  if (path === undefined) throw new Error(`${name} is not installed (run scripts/install-servers.sh)`);
  return path;
}

export interface NginxOptions {
  /** The body of the `server { }` block (listen, server_name and root are provided). */
  server: string;
  /** Extra lines inside `http { }` (upstreams, maps). */
  http?: string;
  port?: number;
  dir?: string;
}

/** Starts nginx in the foreground (`daemon off`) with one server block on 127.0.0.1:port. */
export async function startNginx(options: NginxOptions): Promise<RunningServer> {
  const nginx = requireBinary('nginx');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? makeServerDir('nginx');
  mkdirSync(join(dir, 'htdocs'), { recursive: true });
  const config = `${IS_ROOT ? `user ${SERVER_USER};` : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    fastcgi_temp_path ${dir}/fastcgi_temp;
    proxy_temp_path ${dir}/proxy_temp;
    uwsgi_temp_path ${dir}/uwsgi_temp;
    scgi_temp_path ${dir}/scgi_temp;
    default_type application/octet-stream;
    keepalive_requests 100000;
    client_max_body_size 64m;
${options.http ?? ''}
    server {
        listen 127.0.0.1:${port};
        server_name localhost;
        root ${dir}/htdocs;
${options.server}
    }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeConfig(file, config);
  return launch({
    name: 'nginx',
    dir,
    port,
    command: nginx,
    args: ['-c', file, '-p', dir],
    logFiles: [join(dir, 'error.log')],
  });
}

export interface ApacheOptions {
  /** Directives after the base config (ScriptAlias, ProxyPass, <Directory> blocks …). */
  config: string;
  /** Module names without `mod_`/`_module`, e.g. ['cgid', 'alias', 'proxy', 'proxy_fcgi']. */
  modules: string[];
  mpm?: 'event' | 'worker' | 'prefork';
  port?: number;
  dir?: string;
}

/** Starts Apache httpd (`apache2 -DFOREGROUND`) with a self-contained config (no /etc/apache2 includes). */
export async function startApache(options: ApacheOptions): Promise<RunningServer> {
  const apache = requireBinary('apache2');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? makeServerDir('apache');
  mkdirSync(join(dir, 'htdocs'), { recursive: true });
  const modules = [
    'authz_core',
    'mime',
    ...options.modules.filter((m) => m !== 'authz_core' && m !== 'mime'),
  ];
  const config = `ServerRoot "${dir}"
Listen 127.0.0.1:${port}
ServerName 127.0.0.1
PidFile "${dir}/apache2.pid"
DefaultRuntimeDir "${dir}"
Mutex file:${dir} default
ErrorLog "${dir}/error.log"
LogLevel warn
${IS_ROOT ? `User ${SERVER_USER}\nGroup ${SERVER_USER}` : ''}
LoadModule mpm_${options.mpm ?? 'event'}_module /usr/lib/apache2/modules/mod_mpm_${options.mpm ?? 'event'}.so
${modules.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n')}
TypesConfig /etc/mime.types
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 15
Timeout 60
DocumentRoot "${dir}/htdocs"
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory "${dir}/htdocs">
    Require all granted
</Directory>
${options.config}
`;
  const file = join(dir, 'apache2.conf');
  await writeConfig(file, config);
  await checkConfig(apache, ['-t', '-f', file], config);
  return launch({
    name: 'apache2',
    dir,
    port,
    command: apache,
    args: ['-f', file, '-DFOREGROUND'],
    logFiles: [join(dir, 'error.log')],
  });
}

export interface LighttpdOptions {
  /** Directives after the base config (cgi.assign, fastcgi.server …). */
  config: string;
  /** Module names, e.g. ['mod_cgi', 'mod_alias']. */
  modules: string[];
  port?: number;
  dir?: string;
}

/** Starts lighttpd (`lighttpd -D`), dropping to SERVER_USER after binding when run as root. */
export async function startLighttpd(options: LighttpdOptions): Promise<RunningServer> {
  const lighttpd = requireBinary('lighttpd');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? makeServerDir('lighttpd', ['run']);
  mkdirSync(join(dir, 'htdocs'), { recursive: true });
  if (!existsSync(join(dir, 'run'))) makeOwnedDir(join(dir, 'run'));
  const config = `server.modules = ( ${options.modules.map((m) => `"${m}"`).join(', ')} )
server.document-root = "${dir}/htdocs"
server.bind = "127.0.0.1"
server.port = ${port}
server.pid-file = "${dir}/lighttpd.pid"
server.errorlog = "${dir}/run/error.log"
server.upload-dirs = ( "${dir}/run" )
server.max-keep-alive-requests = 100000
server.max-connections = 4096
server.max-fds = 16384
${IS_ROOT ? `server.username = "${SERVER_USER}"\nserver.groupname = "${SERVER_USER}"` : ''}
${options.config}
`;
  const file = join(dir, 'lighttpd.conf');
  await writeConfig(file, config);
  await checkConfig(lighttpd, ['-tt', '-f', file], config);
  return launch({
    name: 'lighttpd',
    dir,
    port,
    command: lighttpd,
    args: ['-D', '-f', file],
    logFiles: [join(dir, 'run', 'error.log')],
  });
}

export interface BusyboxOptions {
  /** The document root; its `cgi-bin/` holds the CGI programs (busybox httpd runs any file there). */
  home: string;
  port?: number;
  dir?: string;
}

/**
 * Starts busybox httpd (`busybox httpd -f`), the small server of embedded systems and containers: CGI only,
 * from `HOME/cgi-bin/`, one forked process per connection, the script's stderr left on the server's.
 */
export async function startBusybox(options: BusyboxOptions): Promise<RunningServer> {
  const busybox = requireBinary('busybox');
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? makeServerDir('busybox');
  const config = join(dir, 'httpd.conf');
  await writeConfig(config, '');
  return launch({
    name: 'busybox httpd',
    dir,
    port,
    command: busybox,
    args: [
      'httpd',
      '-f',
      '-vv',
      '-p',
      `127.0.0.1:${port}`,
      '-h',
      options.home,
      '-c',
      config,
      ...(IS_ROOT ? ['-u', `${SERVER_USER}:${SERVER_USER}`] : []),
    ],
    logFiles: [],
  });
}

function makeOwnedDir(path: string): void {
  mkdirSync(path, { recursive: true });
  if (IS_ROOT) chownSync(path, serverUid(), serverGid());
}

async function writeConfig(file: string, text: string): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, text, { mode: 0o644 });
}

async function checkConfig(binary: string, args: string[], config: string): Promise<void> {
  const { spawnSync } = await import('node:child_process');
  const result = spawnSync(binary, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(
      `${binary} ${args.join(' ')} failed:\n${result.stderr}${result.stdout}\n--- config ---\n${config}`,
    );
  }
}
