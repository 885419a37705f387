// FastCGI throughput and memory, with the peers measured in the same run on the same machine:
//   1. a hello app through the FastCGI client directly: tsgi vs node-fastcgi (50 keep-conn connections);
//   2. through nginx with wrk (2 threads x 50 connections, median of 3 runs): tsgi (1 process and --workers 2)
//      and node-fastcgi behind the same keep-conn upstream, bare node:http behind proxy_pass with upstream
//      keepalive, PHP-FPM (pm static, 1 and 2 children) serving hello.php;
//   3. the listener's resident memory while a 1 GiB upload streams into an app that reads slowly.
// Targets (issue 4): >= 1.5x node-fastcgi, >= the proxy_pass path, ahead of PHP-FPM, --workers 2 >= 1.6x one
// process, < 100 MiB RSS for the upload.
//   node bench/fastcgi.bench.mjs [--quick] [--only client,nginx,upload]
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  cpuBusy,
  findPhpFpm,
  freePort,
  median,
  rssOf,
  startNginx,
  startPhpFpm,
  startProcess,
  wrk,
  groupCpuMs,
} from './lib/fastcgi-stack.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const apps = join(root, 'bench/apps');
const tsgiBin = join(root, 'bin/tsgi.js');
const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, only: { type: 'string' } },
});
const quick = values.quick === true;
const only = new Set((values.only ?? 'client,nginx,upload').split(','));
const WRK = quick ? { duration: '3s', runs: 1, warmup: '1s' } : { duration: '10s', runs: 3, warmup: '2s' };
const CLIENT_SECONDS = quick ? 2 : 5;
const CLIENT_RUNS = quick ? 1 : 3;
const UPLOAD_BYTES = (quick ? 256 : 1024) * 1024 * 1024;

if (!existsSync(join(root, 'dist/fastcgi/index.js'))) {
  console.error('bench fastcgi: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const { connectFastCgi } = await import(join(root, 'dist/fastcgi/public-client.js'));

const HELLO_PARAMS = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/',
  QUERY_STRING: '',
  REQUEST_URI: '/app/',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '127.0.0.1',
  HTTP_HOST: 'localhost',
};

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// --- back ends -----------------------------------------------------------------------------------------

async function tsgiListener(app, workers = 0) {
  const port = await freePort();
  const args = [tsgiBin, 'fastcgi', join(apps, app), '--listen', `127.0.0.1:${port}`];
  // --workers 0 is one process (the default when tsgi binds its own address is a primary and 1 worker).
  args.push('--workers', String(workers));
  const proc = await startProcess(process.execPath, args, { port });
  return { ...proc, address: `127.0.0.1:${port}`, port };
}

async function nodeFastCgi() {
  const port = await freePort();
  const proc = await startProcess(
    process.execPath,
    [join(apps, 'node-fastcgi-hello.mjs'), `127.0.0.1:${port}`],
    {
      port,
      cwd: root,
    },
  );
  return { ...proc, address: `127.0.0.1:${port}`, port };
}

// --- 1. the FastCGI client directly ----------------------------------------------------------------------

async function clientRun(address, seconds, connections = 50) {
  const latencies = [];
  let done = 0;
  let reconnects = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async () => {
    let client = await connectFastCgi(address);
    while (performance.now() < until) {
      const start = performance.now();
      const call = client.request({ params: HELLO_PARAMS });
      call.ended.catch(() => {}); // reported through response()
      try {
        const response = await call.response();
        if (response.body.length !== 13) throw new Error(`bad response from ${address}: ${response.stdout}`);
      } catch (error) {
        if (!client.isClosed) throw error;
        // The peer closed a kept-alive connection (node-fastcgi does after its first request when the next
        // one follows at once): reconnect and go on, as nginx's fastcgi_next_upstream does.
        reconnects++;
        client = await connectFastCgi(address);
        continue;
      }
      latencies.push(performance.now() - start);
      done++;
    }
    client.destroy();
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: connections }, worker));
  const elapsed = (performance.now() - begin) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: done / elapsed, p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN, reconnects };
}

async function clientSection() {
  console.log(
    `\n### 1. Through the FastCGI client directly (50 keep-conn connections, ${CLIENT_RUNS} x ${CLIENT_SECONDS} s)\n`,
  );
  const rows = [];
  for (const [name, start] of [
    ['tsgi fastcgi (1 process)', () => tsgiListener('fastcgi-hello.mjs')],
    ['node-fastcgi 2.0', () => nodeFastCgi()],
  ]) {
    const backend = await start();
    try {
      await clientRun(backend.address, 1); // warm-up
      const runs = [];
      for (let i = 0; i < CLIENT_RUNS; i++) runs.push(await clientRun(backend.address, CLIENT_SECONDS));
      const reconnects = runs.reduce((sum, r) => sum + r.reconnects, 0);
      if (reconnects > 0)
        console.log(`  ${name}: ${fmt(reconnects)} kept-alive connections closed by the server`);
      rows.push({ name, rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), runs });
    } finally {
      await backend.stop();
    }
  }
  table(rows);
  return rows;
}

// --- 2. through nginx ------------------------------------------------------------------------------------

const FASTCGI_LOCATION = (keepConn) => `
        location /app/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME ${join(apps, 'fastcgi-hello.php')};
            fastcgi_keep_conn ${keepConn ? 'on' : 'off'};
            fastcgi_pass backend;
        }`;

// One back end behind its own nginx; every stack is started first and measured in turns (run 1 of each, then
// run 2 of each, ...) so that load from elsewhere on this 2-core machine falls on all of them alike.
async function stackBehindNginx(name, startBackend, { keepalive = 64, http = false } = {}) {
  const backend = await startBackend();
  const upstream = `
    upstream backend {
        server 127.0.0.1:${backend.port};
        ${keepalive > 0 ? `keepalive ${keepalive};` : ''}
    }`;
  const location = http
    ? `
        location /app/ {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend;
        }`
    : FASTCGI_LOCATION(keepalive > 0);
  const nginx = await startNginx({ httpExtra: upstream, location });
  const check = await fetch(`${nginx.url}/app/`);
  const text = await check.text();
  if (check.status !== 200 || text !== 'Hello, world!') throw new Error(`${name}: ${check.status} ${text}`);
  return {
    name,
    url: `${nginx.url}/app/`,
    group: backend.child.pid,
    stop: async () => {
      await nginx.stop();
      await backend.stop();
    },
  };
}

async function nginxSection() {
  console.log(`\n### 2. Through nginx (wrk -t2 -c50, ${WRK.runs} x ${WRK.duration} in turns, median)\n`);
  const specs = [
    ['tsgi fastcgi, 1 process (keep-conn upstream)', () => tsgiListener('fastcgi-hello.mjs')],
    ['tsgi fastcgi --workers 2 (keep-conn upstream)', () => tsgiListener('fastcgi-hello.mjs', 2)],
    ['node-fastcgi 2.0 (keep-conn upstream)', nodeFastCgi],
    [
      'node:http via proxy_pass (upstream keepalive)',
      async () => {
        const port = await freePort();
        const args = [join(apps, 'node-http-hello.mjs'), `127.0.0.1:${port}`];
        return { ...(await startProcess(process.execPath, args, { port })), port };
      },
      { http: true },
    ],
  ];
  const fpm = findPhpFpm();
  if (fpm === undefined) console.log('  (php-fpm not installed: apt-get install php-fpm; PHP rows skipped)');
  else {
    // PHP-FPM children serve one connection at a time: with kept-alive connections nginx would park requests
    // on connections no child is reading, so PHP-FPM runs as deployed, with fastcgi_keep_conn off.
    for (const children of [1, 2]) {
      specs.push([
        `PHP-FPM ${fpm.split('php-fpm')[1]} hello.php, ${children} child${children > 1 ? 'ren' : ''}`,
        async () => {
          const port = await freePort();
          const started = await startPhpFpm({ binary: fpm, port, children });
          return { ...started, port };
        },
        { keepalive: 0 },
      ]);
    }
  }
  const stacks = [];
  try {
    for (const [name, start, options] of specs) stacks.push(await stackBehindNginx(name, start, options));
    for (const stack of stacks) wrk(stack.url, { ...WRK, runs: 1, duration: WRK.warmup, warmup: '0' });
    const busy = await cpuBusy(1000);
    if (busy > 15)
      console.log(`  (note: CPU ${busy}% busy with nothing measured: other load on this machine)`);
    const runs = new Map(stacks.map((stack) => [stack, []]));
    for (let round = 0; round < WRK.runs; round++) {
      for (const stack of stacks) {
        const before = groupCpuMs(stack.group);
        const result = wrk(stack.url, { ...WRK, runs: 1, warmup: '0' });
        const cpuMs = groupCpuMs(stack.group) - before;
        const requests = result.rps * parseFloat(WRK.duration);
        runs.get(stack).push({ ...result.runs[0], errors: result.errors, cpuUs: (cpuMs * 1000) / requests });
      }
    }
    const rows = stacks.map((stack) => {
      const list = runs.get(stack);
      console.log(
        `  ${stack.name}: ${list.map((r) => `${fmt(r.rps)} req/s p99 ${fmt(r.p99, 1)} ms`).join(' | ')}`,
      );
      return {
        name: stack.name,
        rps: median(list.map((r) => r.rps)),
        p99: median(list.map((r) => r.p99)),
        cpuUs: median(list.map((r) => r.cpuUs)),
        errors: list.reduce((sum, r) => sum + r.errors, 0),
      };
    });
    console.log('');
    table(rows);
    return rows;
  } finally {
    for (const stack of stacks) await stack.stop();
  }
}

// --- 3. memory while streaming a big upload -------------------------------------------------------------

async function uploadSection() {
  const mib = UPLOAD_BYTES / 1024 / 1024;
  console.log(
    `\n### 3. Resident memory while streaming a ${fmt(mib)} MiB upload to an app that reads slowly\n`,
  );
  const backend = await tsgiListener('fastcgi-slow-reader.mjs');
  try {
    const pid = backend.child.pid;
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 50);
    const chunk = new Uint8Array(256 * 1024).fill(120);
    async function* body() {
      for (let sent = 0; sent < UPLOAD_BYTES; sent += chunk.length) yield chunk;
    }
    const client = await connectFastCgi(backend.address);
    const start = performance.now();
    const response = await client
      .request({
        params: { ...HELLO_PARAMS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(UPLOAD_BYTES) },
        stdin: body(),
      })
      .response();
    const seconds = (performance.now() - start) / 1000;
    clearInterval(sampler);
    client.destroy();
    if (response.body.toString() !== String(UPLOAD_BYTES)) throw new Error(`upload: got ${response.body}`);
    const peakMiB = peak / 1024 / 1024;
    console.log(
      `  RSS before ${fmt(before / 1024 / 1024, 1)} MiB, peak ${fmt(peakMiB, 1)} MiB while ${fmt(mib)} MiB went through in ${fmt(seconds, 1)} s (${fmt(mib / seconds)} MiB/s)`,
    );
    return { peakMiB, seconds };
  } finally {
    await backend.stop();
  }
}

// --- report ----------------------------------------------------------------------------------------------

function table(rows) {
  const first = rows[0];
  const cpu = rows.some((row) => row.cpuUs !== undefined);
  console.log(`| path | req/s | p99 ms | vs first row |${cpu ? ' back-end CPU µs/request |' : ''}`);
  console.log(`|---|---:|---:|---:|${cpu ? '---:|' : ''}`);
  for (const row of rows) {
    const cells = [row.name, fmt(row.rps), fmt(row.p99, 1), `${fmt(row.rps / first.rps, 2)}x`];
    if (cpu) cells.push(fmt(row.cpuUs, 1));
    console.log(`| ${cells.join(' | ')} |`);
  }
}

function verdict(label, ok, detail) {
  console.log(`  ${ok ? 'MET ' : 'MISS'}  ${label}: ${detail}`);
  return ok;
}

console.log(
  `tsgi FastCGI benchmark — ${new Date().toISOString()}, node ${process.version}, ${quick ? 'QUICK (not for the README)' : 'full'}`,
);
const results = {};
if (only.has('client')) results.client = await clientSection();
if (only.has('nginx')) results.nginx = await nginxSection();
if (only.has('upload')) results.upload = await uploadSection();

console.log('\n### Targets\n');
let allMet = true;
if (results.client) {
  const [tsgi, peer] = results.client;
  allMet =
    verdict('client: >= 1.5x node-fastcgi', tsgi.rps >= 1.5 * peer.rps, `${fmt(tsgi.rps / peer.rps, 2)}x`) &&
    allMet;
}
if (results.nginx) {
  const find = (prefix) => results.nginx.find((row) => row.name.startsWith(prefix));
  const one = find('tsgi fastcgi, 1 process');
  const two = find('tsgi fastcgi --workers 2');
  const peer = find('node-fastcgi');
  const proxy = find('node:http');
  const php = results.nginx.filter((row) => row.name.startsWith('PHP-FPM'));
  allMet =
    verdict('nginx: >= 1.5x node-fastcgi', one.rps >= 1.5 * peer.rps, `${fmt(one.rps / peer.rps, 2)}x`) &&
    allMet;
  allMet =
    verdict('nginx: >= the proxy_pass path', one.rps >= proxy.rps, `${fmt(one.rps / proxy.rps, 2)}x`) &&
    allMet;
  for (const row of php) {
    allMet =
      verdict(`nginx: ahead of ${row.name}`, one.rps > row.rps, `${fmt(one.rps / row.rps, 2)}x`) && allMet;
  }
  allMet =
    verdict(
      'nginx: --workers 2 >= 1.6x one process',
      two.rps >= 1.6 * one.rps,
      `${fmt(two.rps / one.rps, 2)}x`,
    ) && allMet;
  const errors = results.nginx.reduce((sum, row) => sum + row.errors, 0);
  if (errors > 0) console.log(`  NOTE  ${errors} wrk errors (non-2xx or socket) over all rows`);
}
if (results.upload) {
  allMet =
    verdict(
      'upload: peak RSS < 100 MiB',
      results.upload.peakMiB < 100,
      `${fmt(results.upload.peakMiB, 1)} MiB`,
    ) && allMet;
}
process.exit(allMet ? 0 : 1);
