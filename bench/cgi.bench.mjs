// CGI cost per request: `tsgi cgi hello` against a bare `node` script printing the same response, same Node.
// Each run is a fresh process as a web server would start it; variants are interleaved so that machine noise
// falls on all of them alike; the figure is the median wall time. Target: tsgi ≤ 1.15 × the bare script.
// A second table gives each process's own CPU time (user + system, read by a --require hook at exit): on a busy
// machine wall times wander with the load, CPU time much less.
//   node bench/cgi.bench.mjs [--runs N] [--node PATH]…   (default: this Node, and Node 24 when installed)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { node24Path } from '../scripts/node24.mjs';

const TARGET = 1.15;
const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'test/fixtures/apps');
const tsgi = join(root, 'bin/tsgi.js');

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: process.env.BENCH_RUNS ?? '40' },
    node: { type: 'string', multiple: true },
  },
});
const runs = Number(values.runs);
const nodes = values.node ?? [process.execPath, node24Path()].filter((path) => existsSync(path));

if (!existsSync(join(root, 'dist/cli/cgi-entry.js'))) {
  console.error('bench cgi: dist/ is missing; run `npm run build` first');
  process.exit(2);
}

const scratch = mkdtempSync(join(tmpdir(), 'tsgi-bench-cgi-'));
const cpuHook = join(scratch, 'cpu-at-exit.cjs');
writeFileSync(
  cpuHook,
  "process.on('exit', () => { const u = process.cpuUsage(); require('fs').writeSync(2, `\\ncpu-us ${u.user + u.system}\\n`); });\n",
);
const cgiEnv = (cacheDir) => ({
  PATH: process.env.PATH,
  // A private transpile/compile cache: the warm-up runs fill it, as the first requests on a server would.
  TSGI_CACHE_DIR: cacheDir,
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/hello',
  PATH_INFO: '',
  QUERY_STRING: '',
  SERVER_NAME: '127.0.0.1',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REMOTE_ADDR: '127.0.0.1',
  HTTP_HOST: '127.0.0.1',
});

const variants = [
  { name: 'bare node (process.stdout)', args: [join(fixtures, 'hello-bare.mjs')] },
  { name: 'bare node (fs.writeSync)', args: [join(fixtures, 'hello-bare-sync.mjs')] },
  { name: 'tsgi cgi hello.mjs', args: [tsgi, 'cgi', join(fixtures, 'hello.mjs')] },
  { name: 'tsgi cgi hello.ts', args: [tsgi, 'cgi', join(fixtures, 'hello.ts')] },
];

function spawnChecked(node, args, env) {
  const result = spawnSync(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = result.stdout.toString();
  if (result.status !== 0 || !out.endsWith('Hello, world!\n')) {
    throw new Error(`${node} ${args.join(' ')} failed (${result.status}): ${out}${result.stderr}`);
  }
  return result;
}

/** Wall time of one run, in ms. */
function once(node, args, env) {
  const start = process.hrtime.bigint();
  spawnChecked(node, args, env);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** CPU time (user + system) of one run, in ms, as the process itself saw it at exit. */
function cpuOnce(node, args, env) {
  const { stderr } = spawnChecked(node, ['--require', cpuHook, ...args], env);
  return Number(/cpu-us (\d+)/.exec(stderr.toString())?.[1]) / 1000;
}

const median = (list) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const rows = [];
try {
  for (const [index, node] of nodes.entries()) {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
    const env = cgiEnv(join(scratch, `warm-${index}`));
    for (const variant of variants) for (let i = 0; i < 3; i++) once(node, variant.args, env);
    const times = variants.map(() => []);
    const cpu = variants.map(() => []);
    for (let i = 0; i < runs; i++) {
      // Rotate the order every round so that no variant always runs right after another.
      for (let k = 0; k < variants.length; k++) {
        const j = (i + k) % variants.length;
        times[j].push(once(node, variants[j].args, env));
        cpu[j].push(cpuOnce(node, variants[j].args, env));
      }
    }
    // The first request after a deploy: nothing cached yet (esbuild runs on Node without type stripping).
    const cold = [];
    for (let i = 0; i < Math.min(5, runs); i++) {
      cold.push(once(node, variants[3].args, cgiEnv(join(scratch, `cold-${index}-${i}`))));
    }
    rows.push({ version, medians: times.map(median), cpu: cpu.map(median), cold: median(cold) });
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

console.log(
  `CGI cost per request, median wall time of ${runs} runs (ms); ratio = tsgi / bare node (process.stdout)`,
);
console.log('');
console.log(
  `| Node | ${variants.map((v) => v.name).join(' | ')} | ratio .mjs | ratio .ts | .ts, empty cache |`,
);
console.log(`|---|${variants.map(() => '---:').join('|')}|---:|---:|---:|`);
let over = false;
for (const { version, medians, cold } of rows) {
  const [bare, , js, ts] = medians;
  const ratios = [js / bare, ts / bare];
  over ||= ratios.some((ratio) => ratio > TARGET);
  const cells = [
    ...medians.map((m) => m.toFixed(1)),
    ...ratios.map((r) => `${r.toFixed(2)}×`),
    cold.toFixed(1),
  ];
  console.log(`| ${version} | ${cells.join(' | ')} |`);
}
console.log('');
console.log(`CPU time per request (user + system), median of ${runs} runs (ms)`);
console.log('');
console.log(`| Node | ${variants.map((v) => v.name).join(' | ')} | ratio .mjs | ratio .ts |`);
console.log(`|---|${variants.map(() => '---:').join('|')}|---:|---:|`);
for (const { version, cpu } of rows) {
  const [bare, , js, ts] = cpu;
  const cells = [...cpu.map((m) => m.toFixed(1)), `${(js / bare).toFixed(2)}×`, `${(ts / bare).toFixed(2)}×`];
  console.log(`| ${version} | ${cells.join(' | ')} |`);
}
console.log('');
console.log(over ? `wall time: over the ${TARGET}× target` : `wall time: within the ${TARGET}× target`);
