// Express and Hono hello apps on the development server through the adapters (fromNodeHandler, fromFetchHandler)
// against the same apps on their native servers (app.listen, @hono/node-server), as requests per second under
// wrk and as server CPU time per request (the steadier figure on a shared 2-core machine). Target: ≥ 0.9× native.
//   node bench/adapters.bench.mjs   (after `npm run build` or `node scripts/build.mjs --js-only`; needs wrk)
// The same file is the server: `node bench/adapters.bench.mjs --serve <mode>` prints its port, serves until told.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// tsgi-hello: a plain tsgi app on the same development server, the floor any adapter on it starts from.
const MODES = ['express-native', 'express-tsgi', 'hono-native', 'hono-tsgi', 'tsgi-hello'];
const ROUNDS = 3;
const LOAD = ['-t1', '-c16', '-d3s'];
const HELLO = 'Hello, world!\n';

/** The app for `mode`; `count()` is called once per request in every mode alike. */
async function startServer(mode, count) {
  const dist = (path) => new URL(`../dist/${path}`, import.meta.url).href;
  if (mode === 'tsgi-hello') {
    const { serve } = await import(dist('http/index.js'));
    const body = new TextEncoder().encode(HELLO);
    const app = (_environ, startResponse) => {
      count();
      startResponse('200 OK', [
        ['Content-Type', 'text/plain; charset=utf-8'],
        ['Content-Length', String(body.byteLength)],
      ]);
      return [body];
    };
    return (await serve(app, { port: 0, log: false })).port;
  }
  if (mode.startsWith('express')) {
    const { default: express } = await import('express');
    const app = express();
    app.get('/', (_req, res) => {
      count();
      res.type('text/plain').send(HELLO);
    });
    if (mode === 'express-native') return listen(createServer(app));
    const [{ serve }, { fromNodeHandler }] = await Promise.all([
      import(dist('http/index.js')),
      import(dist('adapters/node.js')),
    ]);
    return (await serve(fromNodeHandler(app), { port: 0, log: false })).port;
  }
  const { Hono } = await import('hono');
  const app = new Hono().get('/', (c) => {
    count();
    return c.text(HELLO);
  });
  if (mode === 'hono-native') {
    const { serve } = await import('@hono/node-server');
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((resolve) => (server.listening ? resolve() : server.once('listening', resolve)));
    return server.address().port;
  }
  const [{ serve }, { fromFetchHandler }] = await Promise.all([
    import(dist('http/index.js')),
    import(dist('adapters/fetch.js')),
  ]);
  return (await serve(fromFetchHandler(app.fetch), { port: 0, log: false })).port;
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

// Child: serve, report the port, then CPU microseconds and requests between "start" and "stop" on stdin.
async function serveMode(mode) {
  let requests = 0;
  const port = await startServer(mode, () => (requests += 1));
  console.log(port);
  let cpuStart;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'start') {
      requests = 0;
      cpuStart = process.cpuUsage();
    } else if (line === 'stop') {
      const cpu = process.cpuUsage(cpuStart);
      console.log(`${cpu.user + cpu.system} ${requests}`);
      process.exit(0);
    }
  }
}

async function round(mode) {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, '--serve', mode], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  // Warm-up: JIT and connection set-up, not measured.
  spawnSync('wrk', ['-t1', '-c16', '-d1s', `http://127.0.0.1:${port}/`]);
  child.stdin.write('start\n');
  const wrk = spawnSync('wrk', [...LOAD, `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  child.stdin.write('stop\n');
  const [cpu, requests] = String((await lines.next()).value)
    .split(' ')
    .map(Number);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk.stdout)?.[1] ?? NaN);
  return { rps, microsPerRequest: cpu / requests };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  if (!existsSync(fileURLToPath(new URL('../dist/adapters/node.js', import.meta.url)))) {
    console.error(
      'bench adapters: dist/ is missing; run `npm run build` (or node scripts/build.mjs --js-only) first',
    );
    process.exit(2);
  }
  if (spawnSync('wrk', ['--version']).error) {
    console.error('bench adapters: wrk is not installed (apt-get install -y wrk)');
    process.exit(2);
  }
  const results = Object.fromEntries(MODES.map((mode) => [mode, []]));
  // Rounds interleave the modes, so that load from elsewhere on the machine hits all of them alike.
  for (let i = 0; i < ROUNDS; i++) for (const mode of MODES) results[mode].push(await round(mode));

  console.log(
    `Node ${process.version}, hello (${HELLO.length} bytes), wrk ${LOAD.join(' ')}, median of ${ROUNDS} rounds`,
  );
  console.log(
    '| app | native req/s | via tsgi req/s | req/s ratio | CPU µs/req native | CPU µs/req tsgi | CPU ratio (native/tsgi) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  let worst = Infinity;
  for (const name of ['express', 'hono']) {
    const native = results[`${name}-native`];
    const tsgi = results[`${name}-tsgi`];
    const rps = [median(native.map((r) => r.rps)), median(tsgi.map((r) => r.rps))];
    const cpu = [median(native.map((r) => r.microsPerRequest)), median(tsgi.map((r) => r.microsPerRequest))];
    const rpsRatio = rps[1] / rps[0];
    const cpuRatio = cpu[0] / cpu[1];
    worst = Math.min(worst, rpsRatio);
    console.log(
      `| ${name} | ${rps[0].toFixed(0)} | ${rps[1].toFixed(0)} | ${rpsRatio.toFixed(2)}× | ${cpu[0].toFixed(1)} | ${cpu[1].toFixed(1)} | ${cpuRatio.toFixed(2)}× |`,
    );
  }
  const floor = results['tsgi-hello'];
  console.log(
    `| plain tsgi app (dev server floor) | | ${median(floor.map((r) => r.rps)).toFixed(0)} | | | ${median(floor.map((r) => r.microsPerRequest)).toFixed(1)} | |`,
  );
  console.log(
    `target ≥ 0.90× native req/s: ${worst >= 0.9 ? 'met' : 'NOT met'} (worst ${worst.toFixed(2)}×)`,
  );
}

if (process.argv[2] === '--serve') await serveMode(process.argv[3]);
else await main();
