// The FastCGI responders tsgi is compared with, started on loopback for a test: PHP-FPM (Debian) and node-fastcgi
// (npm devDependency, the hello app of bench/apps).
import { readdirSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_USER, freePort, launch, makeServerDir, type RunningServer } from './servers.js';

const IS_ROOT = process.getuid?.() === 0;

/** The php-fpm binary of this machine (Debian names it php-fpmX.Y), or undefined. */
export function findPhpFpm(): string | undefined {
  const names = readdirSync('/usr/sbin').filter((name) => /^php-fpm\d+\.\d+$/.test(name));
  const newest = names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).at(-1);
  return newest === undefined ? undefined : `/usr/sbin/${newest}`;
}

/** True when PHP-FPM is installed; under CI=true a missing one is a failure with the install command. */
export function hasPhpFpm(): boolean {
  if (findPhpFpm() !== undefined) return true;
  const message =
    'php-fpm is not installed (install: apt-get install -y php-fpm, or run scripts/install-servers.sh)';
  if (process.env.CI === 'true') throw new Error(`CI=true and ${message}`);
  console.warn(`NOTICE: skipping tests that need ${message}`);
  return false;
}

/** A running PHP-FPM pool and the PHP scripts it serves. */
export interface RunningPhpFpm extends RunningServer {
  /** `host:port` to hand to a FastCGI client. */
  readonly address: string;
  /** Absolute path of script `name` (for SCRIPT_FILENAME). */
  script(name: string): string;
}

/**
 * PHP-FPM (pm static, `children` workers) on 127.0.0.1, serving `scripts` (file name → PHP source) from `dir`;
 * `dir`/data is writable by the scripts.
 */
export async function startPhpFpm(scripts: Record<string, string>, children = 2): Promise<RunningPhpFpm> {
  const binary = findPhpFpm();
  if (binary === undefined) throw new Error('php-fpm is not installed (run scripts/install-servers.sh)');
  // data/ belongs to the pool's user: scripts may write there.
  const dir = makeServerDir('php-fpm', ['data']);
  const port = await freePort();
  for (const [name, source] of Object.entries(scripts)) {
    writeFileSync(join(dir, name), source);
    chmodSync(join(dir, name), 0o644);
  }
  const config = `[global]
pid = ${dir}/php-fpm.pid
error_log = ${dir}/php-fpm.log
daemonize = no
log_level = warning

[conform]
${IS_ROOT ? `user = ${SERVER_USER}\ngroup = ${SERVER_USER}` : ''}
listen = 127.0.0.1:${port}
pm = static
pm.max_children = ${children}
catch_workers_output = yes
`;
  writeFileSync(join(dir, 'php-fpm.conf'), config);
  const server = await launch({
    name: 'php-fpm',
    dir,
    port,
    command: binary,
    args: ['-F', '-O', '-y', join(dir, 'php-fpm.conf')],
    logFiles: [join(dir, 'php-fpm.log')],
  });
  return { ...server, address: `127.0.0.1:${port}`, script: (name) => join(dir, name) };
}

const NODE_FASTCGI_HELLO = fileURLToPath(new URL('../../bench/apps/node-fastcgi-hello.mjs', import.meta.url));

/** node-fastcgi 2 serving a hello app on 127.0.0.1 (a child process: some inputs make it exit). */
export async function startNodeFastcgi(): Promise<RunningServer & { address: string }> {
  const dir = makeServerDir('node-fastcgi');
  const port = await freePort();
  const server = await launch({
    name: 'node-fastcgi',
    dir,
    port,
    command: process.execPath,
    args: [NODE_FASTCGI_HELLO, `127.0.0.1:${port}`],
    logFiles: [],
  });
  return { ...server, address: `127.0.0.1:${port}` };
}
