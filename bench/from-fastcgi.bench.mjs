// fromFastCgi as a gateway, against nginx doing the same job: wrk -> gateway -> FastCGI responder, for two
// responders (PHP-FPM hello.php, pm static 2 children; `tsgi fastcgi` hello, 1 process). The node gateway is
// node:http + toNodeHandler(fromFastCgi(...)), what an Express app that mounts a PHP app pays; nginx uses
// fastcgi_keep_conn with an upstream keepalive pool. Rounds interleave the four paths (wrk -t1 -c16 -d3s each),
// medians of 5, with the hello app served by node:http itself as the baseline. No target in issue 12: the figures say what the gateway costs per request (CPU µs of the node
// gateway process) and how its throughput compares with nginx's in front of the same responder.
//   node bench/from-fastcgi.bench.mjs   (after `npm run build`; needs wrk, nginx, php-fpm)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findPhpFpm, freePort, median, startNginx, startPhpFpm, startProcess } from './lib/fastcgi-stack.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const apps = join(root, 'bench/apps');
const ROUNDS = 5;
const fpmBinary = findPhpFpm();
if (!existsSync(join(root, 'dist/fastcgi/index.js'))) {
  console.error('bench from-fastcgi: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
if (spawnSync('wrk', ['--version']).error || fpmBinary === undefined) {
  console.error('bench from-fastcgi: needs wrk and php-fpm (scripts/install-servers.sh)');
  process.exit(2);
}
const script = join(apps, 'fastcgi-hello.php');

async function nginxTo(port) {
  const nginx = await startNginx({
    httpExtra: `    upstream backend { server 127.0.0.1:${port}; keepalive 16; }`,
    location: `
        location /app/ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME ${script};
            fastcgi_keep_conn on;
            fastcgi_pass backend;
        }`,
  });
  return { url: `${nginx.url}/app/`, start() {}, stop: async () => NaN, close: () => nginx.stop() };
}

async function gatewayTo(port) {
  const target = port === 'direct' ? 'direct' : `127.0.0.1:${port}`;
  const child = spawn(process.execPath, [join(apps, 'fastcgi-gateway.mjs'), target, script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const gatewayPort = Number((await lines.next()).value);
  return {
    url: `http://127.0.0.1:${gatewayPort}/app/`,
    start: () => child.stdin.write('start\n'),
    async stop() {
      child.stdin.write('stop\n');
      const [cpu, requests] = String((await lines.next()).value)
        .split(' ')
        .map(Number);
      return cpu / requests;
    },
    close: async () => {
      child.stdin.write('exit\n');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

const fpmPort = await freePort();
const fpm = await startPhpFpm({ binary: fpmBinary, port: fpmPort, children: 2 });
const tsgiPort = await freePort();
const tsgi = await startProcess(
  process.execPath,
  [
    join(root, 'bin/tsgi.js'),
    'fastcgi',
    join(apps, 'fastcgi-hello.mjs'),
    '--listen',
    `127.0.0.1:${tsgiPort}`,
  ],
  { port: tsgiPort },
);
const paths = {
  'hello on node:http, no hop': await gatewayTo('direct'),
  'nginx -> PHP-FPM': await nginxTo(fpmPort),
  'fromFastCgi -> PHP-FPM': await gatewayTo(fpmPort),
  'nginx -> tsgi fastcgi': await nginxTo(tsgiPort),
  'fromFastCgi -> tsgi fastcgi': await gatewayTo(tsgiPort),
};
for (const [name, path] of Object.entries(paths)) {
  const response = await fetch(path.url);
  const text = await response.text();
  if (response.status !== 200 || text !== 'Hello, world!')
    throw new Error(`${name}: ${response.status} ${text}`);
}

const results = Object.fromEntries(Object.keys(paths).map((name) => [name, { rps: [], cpu: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, path] of Object.entries(paths)) {
    path.start();
    const out = spawnSync('wrk', ['-t1', '-c16', '-d3s', path.url], { encoding: 'utf8' }).stdout;
    results[name].cpu.push(await path.stop());
    results[name].rps.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN));
    if (/Non-2xx|Socket errors/.test(out))
      console.log(`  ${name}: ${out.match(/(Non-2xx.*|Socket errors.*)/)?.[0]}`);
  }
}

console.log(
  `Node ${process.version}, hello (13 bytes), wrk -t1 -c16 -d3s, median of ${ROUNDS} interleaved rounds`,
);
for (const [name, { rps, cpu }] of Object.entries(results)) {
  const cpuText = Number.isNaN(median(cpu)) ? '' : `  gateway ${median(cpu).toFixed(1)} µs CPU/request`;
  console.log(`  ${name.padEnd(28)} ${median(rps).toFixed(0).padStart(7)} req/s${cpuText}`);
}
for (const backend of ['PHP-FPM', 'tsgi fastcgi']) {
  const ratio = median(results[`fromFastCgi -> ${backend}`].rps) / median(results[`nginx -> ${backend}`].rps);
  console.log(`  fromFastCgi / nginx in front of ${backend}: ${ratio.toFixed(2)}x`);
}
const hop =
  median(results['fromFastCgi -> tsgi fastcgi'].cpu) - median(results['hello on node:http, no hop'].cpu);
console.log(
  `  the FastCGI hop costs the gateway ${hop.toFixed(1)} µs CPU/request over serving the app itself`,
);
for (const path of Object.values(paths)) await path.close();
await fpm.stop();
await tsgi.stop();
