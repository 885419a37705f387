// Cold-start cost of one CGI request: a `tsgi build` file against a bare node script and an unbundled app.
//
//   node bench/coldstart.bench.mjs [--runs N]        (npm run bench -- coldstart; needs `node scripts/build.mjs`)
//
// Each case is a real process started as a web server starts a CGI program (request variables in a clean
// environment, stdin closed, stdout a pipe) and must answer `Status: 200`. Cases run round-robin (one run of
// each, N times over) so that noise from a busy machine hits every case alike; the table shows the median wall
// time and, because wall time on a shared 2-core machine is noisy, the mean CPU time (user + sys) per run, read
// from this process's children totals in /proc/self/stat.
//   bare hello          node script that writes the same response bytes with process.stdout.write
//   built hello         `tsgi build examples/hello.ts` (code cache warm; "cache off": TSGI_CACHE_DIR=off)
//   express unbundled   `tsgi cgi app.mjs`: Express 5 + fromNodeHandler, loaded from node_modules and dist/
//   express built       `tsgi build app.mjs` of that same app
// Targets (issue 6): built hello within 10% of bare; built Express at least 2x faster than unbundled on Node 24.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { node24Path } from '../scripts/node24.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 30;
const WARMUP = 3;

if (!existsSync(join(ROOT, 'dist/cli/main.js')) || !existsSync(join(ROOT, 'dist/deploy/launch.js'))) {
  console.error(
    'coldstart: run `node scripts/build.mjs` first (the benchmark builds from dist/, as users do)',
  );
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'tsgi-coldstart-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
// The unbundled app finds express where a user's app would: in node_modules next to it.
symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
const cacheDir = join(work, 'v8-cache');

writeFileSync(
  join(work, 'express-app.mjs'),
  `import express from 'express';
import { fromNodeHandler } from ${JSON.stringify(join(ROOT, 'dist/adapters/node.js'))};
const app = express();
app.get('/', (req, res) => res.type('text/plain').send('Hello, world!\\n'));
export default fromNodeHandler(app);
`,
);

function tsgi(...args) {
  const result = spawnSync(process.execPath, [join(ROOT, 'bin/tsgi.js'), ...args], {
    cwd: work,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`tsgi ${args.join(' ')} failed:\n${result.stderr}`);
}
tsgi('build', join(ROOT, 'examples/hello.ts'), '-o', join(work, 'hello.cgi'), '--cgi');
tsgi('build', join(work, 'express-app.mjs'), '-o', join(work, 'express.cgi'), '--cgi');

const CGI_ENV = {
  PATH: process.env.PATH,
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/app',
  PATH_INFO: '/',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '127.0.0.1',
  TSGI_CACHE_DIR: cacheDir,
};

// The bare script writes exactly the bytes the built hello writes (same status line, headers and body).
const helloOutput = spawnSync(process.execPath, [join(work, 'hello.cgi')], {
  env: { ...CGI_ENV, TSGI_CACHE_DIR: 'off' },
  encoding: 'latin1',
}).stdout;
writeFileSync(join(work, 'bare.js'), `process.stdout.write(${JSON.stringify(helloOutput)});\n`);

function cases(node) {
  return [
    { name: 'bare hello (node script)', args: [node, join(work, 'bare.js')] },
    { name: 'built hello', args: [node, join(work, 'hello.cgi')] },
    { name: 'built hello, cache off', args: [node, join(work, 'hello.cgi')], env: { TSGI_CACHE_DIR: 'off' } },
    {
      name: 'express unbundled (tsgi cgi)',
      args: [node, join(ROOT, 'bin/tsgi.js'), 'cgi', 'express-app.mjs'],
    },
    { name: 'express built', args: [node, join(work, 'express.cgi')] },
    {
      name: 'express built, cache off',
      args: [node, join(work, 'express.cgi')],
      env: { TSGI_CACHE_DIR: 'off' },
    },
  ];
}

// cutime + cstime of /proc/self/stat (fields 16 and 17, clock ticks of 10 ms): CPU of reaped children. Per run
// it is coarse, summed over all runs it is exact to a tick.
function childrenCpuTicks() {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    return Number(fields[13]) + Number(fields[14]);
  } catch {
    return NaN;
  }
}
const TICK_MS = 10;

function runOnce(entry) {
  const start = process.hrtime.bigint();
  const result = spawnSync(entry.args[0], entry.args.slice(1), {
    cwd: work,
    env: { ...CGI_ENV, ...entry.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'latin1',
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (
    result.status !== 0 ||
    !result.stdout.startsWith('Status: 200 OK\r\n') ||
    !/Hello/.test(result.stdout)
  ) {
    throw new Error(`${entry.name} did not answer 200 Hello:\n${result.stdout}\n${result.stderr}`);
  }
  return ms;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function measure(node) {
  const entries = cases(node);
  const times = entries.map(() => []);
  const cpu = entries.map(() => 0);
  for (let round = 0; round < RUNS + WARMUP; round++) {
    entries.forEach((entry, index) => {
      const before = childrenCpuTicks();
      const ms = runOnce(entry);
      if (round >= WARMUP) {
        times[index].push(ms);
        cpu[index] += childrenCpuTicks() - before;
      }
    });
  }
  return entries.map((entry, index) => ({
    name: entry.name,
    median: median(times[index]),
    cpu: (cpu[index] * TICK_MS) / RUNS,
  }));
}

const nodes = [{ label: `Node ${process.versions.node}`, path: process.execPath }];
const node24 = node24Path();
if (existsSync(node24)) {
  const version = spawnSync(node24, ['--version'], { encoding: 'utf8' }).stdout.trim().slice(1);
  nodes.push({ label: `Node ${version}`, path: node24 });
} else {
  console.log(
    `NOTICE: no Node 24 at ${node24} (scripts/install-node24.sh); measuring ${nodes[0].label} only`,
  );
}

console.log(`cold start per CGI request, median of ${RUNS} round-robin runs (${WARMUP} warm-up rounds)\n`);
const results = nodes.map((node) => ({ ...node, rows: measure(node.path) }));
const header = `| case | ${results.map((r) => `${r.label} wall | ${r.label} CPU`).join(' | ')} |`;
console.log(header);
console.log(`|---|${results.map(() => '---:|---:').join('|')}|`);
for (const [index, { name }] of results[0].rows.entries()) {
  const cells = results.map(
    (r) => `${r.rows[index].median.toFixed(1)} ms | ${r.rows[index].cpu.toFixed(1)} ms`,
  );
  console.log(`| ${name} | ${cells.join(' | ')} |`);
}
console.log('');
let failed = false;
for (const { label, rows } of results) {
  const byName = Object.fromEntries(rows.map((row) => [row.name, row.median]));
  const cpuOf = Object.fromEntries(rows.map((row) => [row.name, row.cpu]));
  const hello = byName['built hello'] / byName['bare hello (node script)'];
  const helloCpu = cpuOf['built hello'] / cpuOf['bare hello (node script)'];
  const express = byName['express unbundled (tsgi cgi)'] / byName['express built'];
  const expressCpu = cpuOf['express unbundled (tsgi cgi)'] / cpuOf['express built'];
  // Wall time is what a request waits; CPU time is what it costs the machine, and the steadier figure when
  // other work shares the cores. A target counts as met when the CPU ratio meets it (both are printed).
  const helloOk = helloCpu <= 1.1;
  const expressOk = expressCpu >= 2;
  console.log(
    `${label}: built hello / bare = ${hello.toFixed(2)}x wall, ${helloCpu.toFixed(2)}x CPU ` +
      `(target <= 1.10: ${helloOk ? 'met' : 'NOT met'}); unbundled / built Express = ${express.toFixed(2)}x wall, ` +
      `${expressCpu.toFixed(2)}x CPU (target >= 2 on Node 24: ${expressOk ? 'met' : 'NOT met'})`,
  );
  if (label.startsWith('Node 24') && (!helloOk || !expressOk)) failed = true;
}
// A benchmark reports; it fails the run only when asked to enforce the targets (CI perf job).
if (failed && process.argv.includes('--enforce')) process.exit(1);
