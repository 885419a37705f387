// Script directories and the CGI host (issue 12), each against its yardstick on the same nginx, in one run with
// interleaved rounds (one round = every row once; the ratio is taken per round, then the median):
//   1. --scripts ROOT serving hello.mjs  vs  the same file as the listener's one APP          (target >= 0.9x)
//   2. --cgi-bin DIR running a shell hello  vs  fcgiwrap running it (both fork per request)   (target >= 1.0x)
//   3. --scripts ROOT serving hello.mjs  vs  the same app as a CGI program (tsgi build --cgi)  (target >= 20x)
// The in-process rows also give the listener's CPU us per request (steadier than req/s on a busy 2-core box).
//   npm run bench -- scripts            node bench/scripts.bench.mjs [--quick] [--rounds N]
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cpuBusy,
  freePort,
  groupCpuMs,
  median,
  scratchDir,
  startNginx,
  startProcess,
  wrk,
} from './lib/fastcgi-stack.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsgiBin = join(root, 'bin/tsgi.js');
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, rounds: { type: 'string' } } });
const quick = values.quick === true;
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const DURATION = quick ? '2s' : '4s';
// In-process rows: the FastCGI benchmark's load. Forking rows: fewer connections, so that the machine measures
// forks and not a queue of 50 (fcgiwrap serves one request per process at a time).
const HOT = { threads: 2, connections: 50 };
const FORK = { threads: 2, connections: 8 };

if (!existsSync(join(root, 'dist/cli/main.js'))) {
  console.error('bench scripts: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
if (!existsSync('/usr/sbin/fcgiwrap')) {
  console.error('bench scripts: fcgiwrap is missing; run scripts/install-servers.sh');
  process.exit(2);
}

// --- the files served --------------------------------------------------------------------------------------
const dir = scratchDir('scripts');
const www = join(dir, 'www');
mkdirSync(join(www, 'cgi-bin'), { recursive: true, mode: 0o755 });
for (const path of [www, join(www, 'cgi-bin')]) chmodSync(path, 0o755);
copyFileSync(join(root, 'bench/apps/fastcgi-hello.mjs'), join(www, 'hello.mjs'));
chmodSync(join(www, 'hello.mjs'), 0o644);
writeFileSync(
  join(www, 'cgi-bin/hello.sh'),
  "#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\nContent-Length: 13\\r\\n\\r\\nHello, world!'\n",
  { mode: 0o755 },
);
// The same hello app as a CGI program, in its fastest form (one bundled file with a V8 code cache).
const built = spawnSync(
  process.execPath,
  [
    tsgiBin,
    'build',
    join(www, 'hello.mjs'),
    '-o',
    join(www, 'cgi-bin/hello-app'),
    '--cgi',
    '--node',
    process.execPath,
  ],
  { encoding: 'utf8' },
);
if (built.status !== 0) throw new Error(`tsgi build failed: ${built.stderr}`);

// --- back ends and one nginx in front of all of them -------------------------------------------------------
async function listener(args) {
  const port = await freePort();
  const proc = await startProcess(
    process.execPath,
    [tsgiBin, 'fastcgi', ...args, '--listen', `127.0.0.1:${port}`],
    {
      port,
    },
  );
  return { ...proc, port };
}
const app = await listener([join(www, 'hello.mjs')]);
const scripts = await listener(['--scripts', www]);
// Two processes fork in parallel, as fcgiwrap's two below.
const cgiBin = await listener(['--cgi-bin', join(www, 'cgi-bin'), '--workers', '2']);
const wrapPort = await freePort();
// fcgiwrap with 2 preforked processes: one per core, its best on this machine.
const fcgiwrap = await startProcess('/usr/sbin/fcgiwrap', ['-c', '2', '-s', `tcp:127.0.0.1:${wrapPort}`], {
  port: wrapPort,
});

const upstream = (name, port) => `upstream ${name} { server 127.0.0.1:${port}; keepalive 32; }\n`;
const pass = (name) => `include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_keep_conn on;
            fastcgi_pass ${name};`;
const nginx = await startNginx({
  httpExtra: [
    upstream('one_app', app.port),
    upstream('scripts', scripts.port),
    upstream('cgi_bin', cgiBin.port),
    upstream('fcgiwrap', wrapPort),
  ].join(''),
  location: `        root ${www};
        location /app/ { fastcgi_split_path_info ^(/app)(/.*)$; ${pass('one_app')} }
        location ~ \\.mjs(/|$) { fastcgi_split_path_info ^(.+?\\.mjs)(/.*)?$; ${pass('scripts')} }
        location /cgi-bin/ { fastcgi_split_path_info ^(/cgi-bin/[^/]+)(/.*)?$; ${pass('cgi_bin')} }
        location /wrap/ {
            fastcgi_split_path_info ^/wrap(/[^/]+)(/.*)?$;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME ${www}/cgi-bin$fastcgi_script_name;
            fastcgi_keep_conn on;
            fastcgi_pass fcgiwrap;
        }`,
});

const rows = [
  { name: 'one APP (tsgi fastcgi hello.mjs)', path: '/app/', load: HOT, group: app.child.pid },
  { name: '--scripts www/hello.mjs', path: '/hello.mjs', load: HOT, group: scripts.child.pid },
  // The forking rows count the gateway's own processes only: tsgi's programs run in process groups of their
  // own, and fcgiwrap's are reaped (a reaped child's CPU is its parent's cutime, not in utime/stime).
  { name: '--cgi-bin shell hello.sh', path: '/cgi-bin/hello.sh', load: FORK, group: cgiBin.child.pid },
  { name: 'fcgiwrap shell hello.sh', path: '/wrap/hello.sh', load: FORK, group: fcgiwrap.child.pid },
  {
    name: 'hello app as CGI (--cgi-bin, tsgi build)',
    path: '/cgi-bin/hello-app',
    load: FORK,
    group: cgiBin.child.pid,
  },
];

const stop = async () => {
  await nginx.stop();
  for (const proc of [app, scripts, cgiBin, fcgiwrap]) await proc.stop();
  rmSync(dir, { recursive: true, force: true });
};

try {
  for (const row of rows) {
    const check = await fetch(nginx.url + row.path);
    const text = await check.text();
    if (check.status !== 200 || text !== 'Hello, world!')
      throw new Error(`${row.name}: ${check.status} ${text.slice(0, 200)}`);
  }
  console.log(
    `machine busy before the run: ${await cpuBusy(1000)}% (2 cores; numbers from a busy machine are low)`,
  );
  console.log(
    'forking rows: tsgi fastcgi --cgi-bin --workers 2 (a primary and two workers) against fcgiwrap -c 2 (two ' +
      'preforked processes, one request each at a time); wrk with 8 connections through nginx keepalive',
  );
  const results = new Map(rows.map((row) => [row.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const row of rows) {
      const before = row.group === undefined ? 0 : groupCpuMs(row.group);
      const result = wrk(nginx.url + row.path, { ...row.load, duration: DURATION, runs: 1, warmup: '1s' });
      const cpuMs = row.group === undefined ? NaN : groupCpuMs(row.group) - before;
      const seconds = Number(DURATION.replace('s', ''));
      const requests = result.rps * seconds;
      results
        .get(row.name)
        .push({ rps: result.rps, errors: result.errors, cpuUs: (cpuMs * 1000) / requests });
    }
  }
  console.log('\n| row | req/s (median) | gateway CPU us/request (forked programs excluded) | errors |');
  console.log('|---|---:|---:|---:|');
  for (const row of rows) {
    const list = results.get(row.name);
    const cpu = median(list.map((r) => r.cpuUs));
    const errors = list.reduce((sum, r) => sum + r.errors, 0);
    console.log(
      `| ${row.name} | ${Math.round(median(list.map((r) => r.rps)))} | ${Number.isNaN(cpu) ? '-' : cpu.toFixed(1)} | ${errors} |`,
    );
  }
  const ratio = (a, b) => median(results.get(a).map((r, i) => r.rps / results.get(b)[i].rps));
  const checks = [
    ['--scripts / one APP', ratio(rows[1].name, rows[0].name), 0.9],
    ['--cgi-bin / fcgiwrap (shell)', ratio(rows[2].name, rows[3].name), 1.0],
    ['--scripts / same app as CGI', ratio(rows[1].name, rows[4].name), 20],
  ];
  console.log('\n| ratio (median of per-round ratios) | value | target |');
  console.log('|---|---:|---:|');
  for (const [name, value, target] of checks)
    console.log(`| ${name} | ${value.toFixed(2)}x | >= ${target}x ${value >= target ? 'met' : 'MISSED'} |`);
} finally {
  await stop();
}
