// The yardstick of issue 13: nginx in front, the same app either through `tsgi fastcgi` (the module's bare
// export, detected) or on its framework's own Node server behind `proxy_pass` with upstream keepalive. For
// Express, Koa, Fastify and Hono a JSON route with a path parameter and a query; plus Express on node-fastcgi
// (its drop-in FastCGI server) and the plain hello against node:http. Every stack runs behind its own nginx
// (1 worker), all started first and measured in interleaved rounds, so that load from elsewhere on a 2-core
// machine falls on all of them alike. Printed: req/s per round, the tsgi/native ratio per round and its median,
// and the back end's CPU µs per request (utime + stime of its process group from /proc, before and after).
// Targets: each framework through tsgi >= 1.0x its own server; hello >= 1.0x node:http; Express >= 2x
// node-fastcgi; CPU per request <= the native server's.
//   npm run bench -- frameworks            (after `npm run build`; needs nginx and wrk)
//   node bench/frameworks.bench.mjs [--rounds 3] [--seconds 4] [--only express,hono,hello] [--ab DIR]
// --ab DIR adds, to each comparison, the tsgi row served by another built checkout (DIR/bin/tsgi.js, e.g. the
// commit before a change), measured in the same interleaved rounds: its "ratio vs" line is the A/B.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  cpuBusy,
  freePort,
  groupCpuMs,
  median,
  processCpuMs,
  startNginx,
  startProcess,
  wrk,
} from './lib/fastcgi-stack.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const apps = join(root, 'bench/apps');
const tsgiBin = join(root, 'bin/tsgi.js');
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    only: { type: 'string', default: 'express,koa,fastify,hono,hello' },
    ab: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const ONLY = new Set(values.only.split(','));
const AB_ROOT = values.ab === undefined ? undefined : resolve(values.ab);
const LOAD = { threads: 2, connections: 50, duration: `${SECONDS}s`, runs: 1, warmup: '0' };

for (const checkout of AB_ROOT === undefined ? [root] : [root, AB_ROOT]) {
  if (!existsSync(join(checkout, 'dist/fastcgi/index.js'))) {
    console.error(`bench frameworks: ${checkout}/dist/ is missing; run \`npm run build\` there first`);
    process.exit(2);
  }
}

const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

// --- back ends: [name, start(port) → process, protocol] ---------------------------------------------------

const tsgi =
  (app, bin = tsgiBin) =>
  (port) =>
    startProcess(process.execPath, [bin, 'fastcgi', app, '--listen', `127.0.0.1:${port}`], { port });

// The same tsgi row served by the --ab checkout, or nothing.
function abRow(label, app) {
  if (AB_ROOT === undefined) return [];
  const name = `${label} via tsgi fastcgi (B: ${basename(AB_ROOT)})`;
  return [{ name, start: tsgi(app, join(AB_ROOT, 'bin/tsgi.js')), fastcgi: true }];
}
const native = (which) => (port) =>
  startProcess(process.execPath, [join(apps, 'frameworks/native.mjs'), which, `127.0.0.1:${port}`], {
    port,
    cwd: root,
  });

/** One comparison: the tsgi row against its yardstick rows (the first is the ratio's denominator). */
function comparisons() {
  const list = [];
  for (const framework of ['express', 'koa', 'fastify', 'hono']) {
    if (!ONLY.has(framework)) continue;
    const app = join(apps, `frameworks/${framework}.mjs`);
    const rows = [
      { name: `${framework} via tsgi fastcgi`, start: tsgi(app), fastcgi: true },
      { name: `${framework} on its own server via proxy_pass`, start: native(framework), fastcgi: false },
      ...abRow(framework, app),
    ];
    if (framework === 'express')
      // node-fastcgi takes req.url from REQUEST_URI and knows no SCRIPT_NAME: it gets the whole site.
      rows.push({
        name: 'express on node-fastcgi 2',
        start: native('express-node-fastcgi'),
        fastcgi: true,
        unmounted: true,
      });
    list.push({
      label: framework,
      path: '/app/items/42?q=hello',
      expect: `"framework":"${framework}"`,
      rows,
    });
  }
  if (ONLY.has('hello')) {
    list.push({
      label: 'hello',
      path: '/app/',
      expect: 'Hello, world!',
      rows: [
        { name: 'hello via tsgi fastcgi', start: tsgi(join(apps, 'fastcgi-hello.mjs')), fastcgi: true },
        {
          name: 'hello on node:http via proxy_pass',
          start: (port) =>
            startProcess(process.execPath, [join(apps, 'node-http-hello.mjs'), `127.0.0.1:${port}`], {
              port,
            }),
          fastcgi: false,
        },
        ...abRow('hello', join(apps, 'fastcgi-hello.mjs')),
      ],
    });
  }
  return list;
}

// The app is mounted at /app: FastCGI gets SCRIPT_NAME=/app and PATH_INFO=the rest (the nginx recipe of
// scripts/recipes), proxy_pass strips the prefix. Both upstreams keep their connections open.
function location(fastcgi, unmounted) {
  if (unmounted)
    return `
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_pass backend;
        }`;
  return fastcgi
    ? `
        location /app/ {
            fastcgi_split_path_info ^(/app)(/.*)$;
            include /etc/nginx/fastcgi_params;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            fastcgi_keep_conn on;
            fastcgi_pass backend;
        }`
    : `
        location /app/ {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://backend/;
        }`;
}

async function startStack(row, path, expect) {
  const port = await freePort();
  const backend = await row.start(port);
  const upstream = `
    upstream backend {
        server 127.0.0.1:${port};
        keepalive 64;
    }`;
  const nginx = await startNginx({ httpExtra: upstream, location: location(row.fastcgi, row.unmounted) });
  const url = `${nginx.url}${row.unmounted ? path.replace(/^\/app/, '') : path}`;
  const check = await fetch(url);
  const text = await check.text();
  if (check.status !== 200 || !text.includes(expect)) {
    await nginx.stop();
    await backend.stop();
    throw new Error(`${row.name}: ${check.status} ${text}\n${backend.log()}`);
  }
  return {
    ...row,
    url,
    group: backend.child.pid,
    startLine:
      backend
        .log()
        .split('\n')
        .find((line) => line.includes('listening')) ?? '',
    results: [],
    stop: async () => {
      await nginx.stop();
      await backend.stop();
    },
  };
}

function measure(stack) {
  const before = groupCpuMs(stack.group);
  const beforeEach = processCpuMs(stack.group);
  const result = wrk(stack.url, LOAD);
  const cpuMs = groupCpuMs(stack.group) - before;
  const requests = result.rps * SECONDS;
  // Per process: the group leader (a pool's primary) apart from the rest (its workers).
  let leaderMs = 0;
  for (const [pid, ms] of processCpuMs(stack.group))
    if (pid === stack.group) leaderMs = ms - (beforeEach.get(pid) ?? 0);
  stack.results.push({
    rps: result.rps,
    errors: result.errors,
    cpuUs: (cpuMs * 1000) / requests,
    leaderUs: (leaderMs * 1000) / requests,
  });
}

const pad = (text, width) => String(text).padEnd(width);

async function main() {
  const groups = comparisons();
  const stacks = [];
  try {
    for (const group of groups) {
      group.stacks = [];
      for (const row of group.rows) {
        const stack = await startStack(row, group.path, group.expect);
        group.stacks.push(stack);
        stacks.push(stack);
      }
    }
    for (const stack of stacks)
      if (stack.fastcgi && stack.name.includes('tsgi')) console.log(`  ${stack.startLine}`);
    // Warm-up: JIT and connection pools, one short run each.
    for (const stack of stacks) wrk(stack.url, { ...LOAD, duration: '2s' });
    const busy = await cpuBusy(1000);
    console.log(
      `\nwrk -t${LOAD.threads} -c${LOAD.connections}, ${ROUNDS} interleaved rounds of ${SECONDS} s; idle-machine check: CPU ${busy}% busy with nothing measured\n`,
    );
    for (let round = 0; round < ROUNDS; round++) {
      // Each round visits the stacks in a rotated order, so no stack always runs right after the same other.
      const order = stacks.map((_, i) => stacks[(i + round) % stacks.length]);
      for (const stack of order) measure(stack);
    }
  } finally {
    for (const stack of stacks) await stack.stop();
  }
  const summary = [];
  for (const group of groups) {
    const [tsgiStack, ...others] = group.stacks;
    for (const stack of group.stacks) {
      const rounds = stack.results.map((r) => fmt(r.rps)).join(' | ');
      const errors = stack.results.reduce((sum, r) => sum + r.errors, 0);
      console.log(
        `  ${pad(stack.name, 42)} ${rounds} req/s; CPU ${fmt(median(stack.results.map((r) => r.cpuUs)), 1)} us/request${errors ? `; ${errors} errors` : ''}`,
      );
      if (stack.name.includes('via tsgi fastcgi')) {
        const leader = median(stack.results.map((r) => r.leaderUs));
        const rest = median(stack.results.map((r) => r.cpuUs - r.leaderUs));
        console.log(
          `    of which: worker(s) ${fmt(rest, 1)} us/request, primary ${fmt(leader, 1)} us/request`,
        );
      }
    }
    for (const other of others) {
      const ratios = tsgiStack.results.map((r, i) => r.rps / other.results[i].rps);
      console.log(
        `    ratio vs ${other.name}: ${ratios.map((r) => `${r.toFixed(2)}x`).join(' | ')}; median ${median(ratios).toFixed(2)}x`,
      );
      summary.push({
        app: group.label,
        versus: other.name,
        tsgi: median(tsgiStack.results.map((r) => r.rps)),
        other: median(other.results.map((r) => r.rps)),
        ratio: median(ratios),
        tsgiCpu: median(tsgiStack.results.map((r) => r.cpuUs)),
        otherCpu: median(other.results.map((r) => r.cpuUs)),
      });
    }
  }
  console.log(
    '\n| app | tsgi FastCGI req/s | versus | its req/s | ratio (median of rounds) | CPU µs/req tsgi | versus |',
  );
  console.log('|---|---:|---|---:|---:|---:|---:|');
  for (const row of summary) {
    console.log(
      `| ${row.app} | ${fmt(row.tsgi)} | ${row.versus} | ${fmt(row.other)} | ${row.ratio.toFixed(2)}× | ${fmt(row.tsgiCpu, 1)} | ${fmt(row.otherCpu, 1)} |`,
    );
  }
}

await main();
process.exit(0);
