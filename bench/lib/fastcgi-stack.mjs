// Starting what the FastCGI benchmark measures: back ends, nginx in front of them, PHP-FPM, and wrk runs.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const IS_ROOT = process.getuid?.() === 0;
const live = new Set();
process.once('exit', () => {
  for (const child of live) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, log, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) before listening:\n${log()}`);
    const open = await new Promise((resolve) => {
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
  throw new Error(`nothing listening on ${port} after ${timeoutMs} ms:\n${log()}`);
}

/** Starts a process in its own group and waits until `port` accepts; `stop()` ends the whole group. */
export async function startProcess(command, args, { port, env, cwd } = {}) {
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    cwd,
  });
  live.add(child);
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const log = () => output;
  const stop = async () => {
    if (!live.has(child)) return;
    live.delete(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, 5000);
    if (child.exitCode === null && child.signalCode === null) await exited;
    clearTimeout(timer);
  };
  if (port !== undefined) {
    try {
      await waitForPort(port, child, log);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  return { child, log, stop };
}

/** A private directory the web server's user can read (configs, PHP script). */
export function scratchDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `tsgi-bench-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/**
 * nginx (1 worker, as the harness' peer table) with `httpExtra` in http{} and `location` in the server block;
 * resolves with its port and a stop function.
 */
export async function startNginx({ httpExtra = '', location }) {
  const dir = scratchDir('nginx');
  const port = await freePort();
  const config = `${IS_ROOT ? 'user www-data;' : ''}
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
    keepalive_requests 100000;
    client_max_body_size 2g;
${httpExtra}
    server {
        listen 127.0.0.1:${port};
        server_name localhost;
${location}
    }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), config);
  const test = spawnSync('/usr/sbin/nginx', ['-t', '-q', '-c', join(dir, 'nginx.conf'), '-p', dir], {
    encoding: 'utf8',
  });
  if (test.status !== 0) throw new Error(`nginx -t failed:\n${test.stderr}\n${config}`);
  const nginx = await startProcess('/usr/sbin/nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { port });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await nginx.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The php-fpm binary of this machine (Debian names it php-fpmX.Y). */
export function findPhpFpm() {
  const found = spawnSync('/bin/sh', ['-c', 'ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -1'], {
    encoding: 'utf8',
  });
  return found.stdout.trim() || undefined;
}

/** PHP-FPM with a generated pool (pm static, `children` workers, opcache on) on 127.0.0.1:port. */
export async function startPhpFpm({ binary, port, children }) {
  const dir = scratchDir('php-fpm');
  const config = `[global]
pid = ${dir}/php-fpm.pid
error_log = ${dir}/php-fpm.log
daemonize = no
log_level = warning

[bench]
${IS_ROOT ? 'user = www-data\ngroup = www-data' : ''}
listen = 127.0.0.1:${port}
listen.backlog = 511
pm = static
pm.max_children = ${children}
pm.max_requests = 0
clear_env = no
php_admin_value[opcache.enable] = 1
`;
  writeFileSync(join(dir, 'php-fpm.conf'), config);
  const fpm = await startProcess(binary, ['-F', '-O', '-y', join(dir, 'php-fpm.conf')], { port });
  return {
    child: fpm.child,
    stop: async () => {
      await fpm.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function toMs(text) {
  const value = parseFloat(text);
  if (text.endsWith('us')) return value / 1000;
  if (text.endsWith('ms')) return value;
  if (text.endsWith('m')) return value * 60_000;
  return value * 1000;
}

/** Median of a list of numbers. */
export function median(list) {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * wrk against `url`: a warm-up, then `runs` runs; median req/s and median p99 (ms), plus errors (non-2xx
 * and socket errors summed over the runs).
 */
export function wrk(url, { threads = 2, connections = 50, duration = '10s', runs = 3, warmup = '2s' } = {}) {
  const base = [`-t${threads}`, `-c${connections}`, '--timeout', '10s'];
  if (warmup !== '0') spawnSync('wrk', [...base, `-d${warmup}`, url], { encoding: 'utf8' });
  const results = [];
  let errors = 0;
  for (let i = 0; i < runs; i++) {
    const out = spawnSync('wrk', [...base, `-d${duration}`, '--latency', url], { encoding: 'utf8' }).stdout;
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
    const p99 = toMs(/^\s+99%\s+(\S+)/m.exec(out)?.[1] ?? 'NaN');
    const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    errors += non2xx + (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
    results.push({ rps, p99 });
  }
  return {
    rps: median(results.map((r) => r.rps)),
    p99: median(results.map((r) => r.p99)),
    runs: results,
    errors,
  };
}

/** Resident set size of `pid` in bytes (VmRSS), or 0 when it is gone. */
export function rssOf(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('VmRSS:'));
    return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Percent of CPU time busy over `ms` milliseconds (other load ruins these numbers on a 2-core machine). */
export async function cpuBusy(ms = 1000) {
  const sample = () =>
    readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const b = sample();
  const total = b.reduce((s, v) => s + v, 0) - a.reduce((s, v) => s + v, 0);
  const idle = b[3] + b[4] - a[3] - a[4];
  return Math.round(100 * (1 - idle / total));
}

/** CPU time (user + system, ms) used so far by each live process of process group `pgid`: pid → ms. */
export function processCpuMs(pgid) {
  const each = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    each.set(Number(entry), (Number(fields[11]) + Number(fields[12])) * 10);
  }
  return each;
}

/**
 * CPU time (user + system, ms) used so far by the live processes of process group `pgid` (a back end and its
 * workers or children); the back ends run in their own group (startProcess). Exited processes are not counted.
 */
export function groupCpuMs(pgid) {
  let ms = 0;
  for (const each of processCpuMs(pgid).values()) ms += each;
  return ms;
}
