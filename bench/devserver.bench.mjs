// Cost of the development server per request: a hello app through serve() (toNodeHandler, environ, response
// driver) against the same response from bare node:http, as server CPU time per request under wrk load
// (CPU time, not requests per second: other processes on a 2-core machine move rps far more than CPU time).
// No target; the figure says what the dev server, and every adapter benchmark run on it, pays per request.
//   node bench/devserver.bench.mjs   (after `npm run build`; needs wrk)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

if (!existsSync(fileURLToPath(new URL('../dist/http/index.js', import.meta.url)))) {
  console.error('bench devserver: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
if (spawnSync('wrk', ['--version']).error) {
  console.error('bench devserver: wrk is not installed (apt-get install -y wrk)');
  process.exit(2);
}

const MODES = ['native', 'tsgi', 'tsgi-log', 'tsgi-validate'];
const ROUNDS = 5;
const app = fileURLToPath(new URL('apps/devserver-hello.mjs', import.meta.url));

// One round for one mode: start the server, load it for 3 s with wrk, read its CPU time per request.
async function round(mode) {
  const child = spawn(process.execPath, [app, mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  child.stdin.write('start\n');
  const wrk = spawnSync('wrk', ['-t1', '-c16', '-d3s', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  child.stdin.write('stop\n');
  const [cpu, requests] = String((await lines.next()).value)
    .split(' ')
    .map(Number);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? NaN);
  return { microsPerRequest: cpu / requests, rps };
}

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = Object.fromEntries(MODES.map((mode) => [mode, []]));
// Rounds interleave the modes, so that a burst of load from elsewhere hits all of them alike.
for (let i = 0; i < ROUNDS; i++) for (const mode of MODES) results[mode].push(await round(mode));

console.log(`Node ${process.version}, hello (14 bytes), wrk -t1 -c16 -d3s, median of ${ROUNDS} rounds`);
const base = median(results.native.map((r) => r.microsPerRequest));
for (const mode of MODES) {
  const cpu = median(results[mode].map((r) => r.microsPerRequest));
  const rps = median(results[mode].map((r) => r.rps));
  const ratio = (cpu / base).toFixed(2);
  console.log(
    `  ${mode.padEnd(14)} ${cpu.toFixed(1).padStart(6)} µs CPU/request  (${ratio}× native)  ${rps.toFixed(0)} req/s`,
  );
}
