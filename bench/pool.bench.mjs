// The pool (issue 10): what the status/ping pages cost every other request, and requests lost across reloads.
//   1. CPU per request of a hello app through the FastCGI client (10 keep-conn connections), one process
//      without and with --status-path/--ping-path, interleaved rounds, medians (the pages' path check is
//      the per-request cost; the target is within noise).
//   2. 5 reloads (SIGHUP) of a 2-worker pool behind nginx while 8 keep-alive HTTP clients send GETs: requests
//      that did not get a 200 (target 0).
//   3. The stack probe thread of each worker (a blocked worker's stack in the slow log and the watchdog line):
//      a 2-worker pool with and without it (--no-stack-probe), interleaved: resident memory per worker, time
//      from start to listening, and CPU per request (the probe does nothing per request: target within noise).
//   node bench/pool.bench.mjs [--quick]

import { Agent, request } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, groupCpuMs, median, rssOf, startNginx, startProcess } from './lib/fastcgi-stack.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsgiBin = join(root, 'bin/tsgi.js');
const app = join(root, 'bench/apps/fastcgi-hello.mjs');
const { values } = parseArgs({ options: { quick: { type: 'boolean' } } });
const quick = values.quick === true;
const ROUNDS = quick ? 4 : 8;
const REQUESTS = quick ? 5000 : 20_000;
const RELOADS = 5;
const { connectFastCgi } = await import(join(root, 'dist/fastcgi/public-client.js'));

const PARAMS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/',
  QUERY_STRING: '',
  REQUEST_URI: '/app/',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

async function listener(extra) {
  const port = await freePort();
  const args = [tsgiBin, 'fastcgi', app, '--listen', `127.0.0.1:${port}`, ...extra];
  const proc = await startProcess(process.execPath, args, { port });
  return { ...proc, address: `127.0.0.1:${port}` };
}

// `count` requests over 10 kept-alive connections; the listener's CPU time (its process group) per request.
async function cpuPerRequest(target, count) {
  const before = groupCpuMs(target.child.pid);
  let left = count;
  const worker = async () => {
    const client = await connectFastCgi(target.address);
    while (left-- > 0) {
      const call = client.request({ params: PARAMS });
      call.ended.catch(() => {});
      await call.response();
    }
    client.destroy();
  };
  await Promise.all(Array.from({ length: 10 }, worker));
  return ((groupCpuMs(target.child.pid) - before) * 1000) / count;
}

console.log(
  '### status/ping pages: CPU per request of every other request (one process, 10 keep-conn connections)\n',
);
const plain = await listener(['--workers', '0']);
const paged = await listener(['--workers', '0', '--status-path', '/status', '--ping-path', '/ping']);
try {
  await cpuPerRequest(plain, 2000); // warm-up
  await cpuPerRequest(paged, 2000);
  const results = { plain: [], paged: [] };
  // ABBA order, so that whatever favours the first (or second) run of a round favours both sides alike.
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['plain', 'paged'] : ['paged', 'plain'];
    for (const name of order)
      results[name].push(await cpuPerRequest(name === 'plain' ? plain : paged, REQUESTS));
  }
  const a = median(results.plain);
  const b = median(results.paged);
  console.log(`| listener | CPU µs/request (median of ${ROUNDS} x ${REQUESTS}) |`);
  console.log('|---|---|');
  console.log(`| no pages | ${a.toFixed(1)} |`);
  console.log(`| --status-path + --ping-path | ${b.toFixed(1)} |`);
  console.log(
    `\ncost of the pages per request: ${(b - a).toFixed(2)} µs (${(((b - a) / a) * 100).toFixed(1)}%)`,
  );
  const status = await connectFastCgi(paged.address, { keepConn: false });
  const page = await status
    .request({ params: { ...PARAMS, SCRIPT_NAME: '/status', PATH_INFO: '' } })
    .response();
  status.destroy();
  console.log(`(the status page answered: ${page.body.toString().split('\n')[4]})`);
} finally {
  await plain.stop();
  await paged.stop();
}

console.log('\n### the stack probe: a 2-worker pool with and without it (--no-stack-probe)\n');
// Pids of the pool's workers (children of the primary).
const workersOf = (pid) =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
// Starts a pool and times it from spawn to its start line (which comes once the workers listen).
async function timedPool(extra) {
  const started = performance.now();
  const pool = await listener(['--workers', '2', ...extra]);
  while (!pool.log().includes('listening on')) await new Promise((resolve) => setTimeout(resolve, 5));
  return { pool, startMs: performance.now() - started };
}
{
  const results = { with: { start: [], rss: [], cpu: [] }, without: { start: [], rss: [], cpu: [] } };
  for (let round = 0; round < ROUNDS / 2; round++) {
    const order = round % 2 === 0 ? ['with', 'without'] : ['without', 'with'];
    for (const name of order) {
      const { pool, startMs } = await timedPool(name === 'with' ? [] : ['--no-stack-probe']);
      try {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const workers = workersOf(pool.child.pid);
        results[name].start.push(startMs);
        results[name].rss.push(workers.reduce((sum, pid) => sum + rssOf(pid), 0) / workers.length / 1048576);
        await cpuPerRequest(pool, 1000); // warm-up
        results[name].cpu.push(await cpuPerRequest(pool, REQUESTS / 2));
      } finally {
        await pool.stop();
      }
    }
  }
  console.log(
    `| workers | resident MiB per worker | ms to listening | CPU µs/request (pool, ${REQUESTS / 2} x ${ROUNDS / 2}) |`,
  );
  console.log('|---|---|---|---|');
  for (const name of ['with', 'without']) {
    const r = results[name];
    console.log(
      `| ${name === 'with' ? 'with the probe (default)' : '--no-stack-probe'} | ${median(r.rss).toFixed(1)} | ${median(r.start).toFixed(0)} | ${median(r.cpu).toFixed(1)} |`,
    );
  }
  console.log(`(${process.version}; medians)`);
}

console.log(
  `\n### ${RELOADS} reloads (SIGHUP) of a 2-worker pool behind nginx under load (8 keep-alive clients)\n`,
);
const pool = await listener(['--workers', '2']);
const nginx = await startNginx({
  httpExtra: `upstream pool { server ${pool.address}; keepalive 32; }`,
  location: `location / {
        include /etc/nginx/fastcgi_params;
        fastcgi_keep_conn on;
        fastcgi_pass pool;
    }`,
});
try {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let running = true;
  let ok = 0;
  const lost = [];
  const one = () =>
    new Promise((resolve) => {
      const req = request(`${nginx.url}/`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? null : `HTTP ${res.statusCode}`));
      });
      req.on('error', (error) => resolve(error.message));
      req.end();
    });
  const clients = Array.from({ length: 8 }, async () => {
    while (running) {
      const failure = await one();
      if (failure === null) ok++;
      else lost.push(failure);
    }
  });
  const reloaded = (n) => (pool.log().match(/reloaded:/g) ?? []).length >= n;
  const started = Date.now();
  for (let i = 1; i <= RELOADS; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.kill(pool.child.pid, 'SIGHUP');
    while (!reloaded(i)) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  running = false;
  await Promise.all(clients);
  agent.destroy();
  const seconds = (Date.now() - started) / 1000;
  console.log(`| reloads | requests | per second | lost |`);
  console.log('|---|---|---|---|');
  console.log(
    `| ${RELOADS} | ${ok + lost.length} | ${Math.round((ok + lost.length) / seconds)} | ${lost.length} |`,
  );
  if (lost.length > 0) console.log(`lost: ${[...new Set(lost)].join('; ')}`);
  console.log(
    `\n(pool log: ${
      pool
        .log()
        .split('\n')
        .filter((l) => l.includes('reloaded')).length
    } reloads logged)`,
  );
  process.exitCode = lost.length === 0 ? 0 : 1;
} finally {
  await nginx.stop();
  await pool.stop();
}
