// Cost of the shared core per request, in CPU time: buildEnviron (15 variables, the front end's own signal),
// runApplication (hello app, one 14-byte chunk, a sink that accepts at once). No target: these
// figures say how much of a front end's per-request time is the core's (FastCGI and the dev server add the I/O).
//   node bench/core.bench.mjs   (after `npm run build`; runs itself again on Node 24 when installed)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { node24Path } from '../scripts/node24.mjs';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
if (!existsSync(`${dist}index.js`)) {
  console.error('bench core: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const { buildEnviron, runApplication } = await import(`${dist}index.js`);
const { createTestEnviron } = await import(`${dist}testing/index.js`);

const vars = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/hello',
  QUERY_STRING: 'a=1',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REQUEST_URI: '/hello?a=1',
  HTTP_HOST: 'localhost',
  HTTP_USER_AGENT: 'curl/8',
  HTTP_ACCEPT: '*/*',
  REMOTE_ADDR: '127.0.0.1',
  REMOTE_PORT: '5555',
  GATEWAY_INTERFACE: 'CGI/1.1',
  SERVER_SOFTWARE: 'nginx',
};
const base = createTestEnviron();
const options = { signal: new AbortController().signal };
const body = [Buffer.from('Hello, world!\n')];
const headers = [
  ['Content-Type', 'text/plain'],
  ['Content-Length', '14'],
];
const app = (_environ, start) => {
  start('200 OK', headers);
  return body;
};
const sink = { sendHead() {}, write() {}, end() {} };

// CPU nanoseconds per call, best of 5 rounds (other processes on the machine only ever make a round slower).
async function measure(label, n, task) {
  for (let i = 0; i < n / 10; i++) await task();
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) await task();
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / n);
  }
  console.log(`  ${label.padEnd(44)} ${best.toFixed(0).padStart(6)} ns/request`);
}

console.log(`Node ${process.version}`);
await measure('buildEnviron', 200_000, () =>
  buildEnviron(vars, base['tsgi.input'], base['tsgi.errors'], options),
);
await measure('runApplication', 100_000, () => runApplication(app, base, sink));

const node24 = node24Path();
if (process.argv[2] !== '--child' && process.execPath !== node24 && existsSync(node24)) {
  spawnSync(node24, [fileURLToPath(import.meta.url), '--child'], { stdio: 'inherit' });
}
