// The Node bridge's own cost per request, in one process (issue 13): serveRequest as the FastCGI front end calls
// it (a LazyCancellation per request, an environ as nginx sends it), the app through fromNodeHandler/fromFastify,
// a sink that takes everything at once. "plain" is the same response as a tsgi app (the floor), "null" a bare
// (req, res) handler (setHeader + end(json)), then the frameworks' bench route. With --base DIST, the same run
// also measures another build (e.g. main's dist copied aside) in interleaved rounds: an A/B on a busy machine.
// CPU µs per request, medians (and minimums) of the rounds. No target: the frameworks bench is the yardstick.
//   node bench/node-bridge.bench.mjs [--base DIST] [--apps plain,null,express,koa,fastify] [--n 3000] [--rounds 11]
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    apps: { type: 'string', default: 'plain,null,express,koa,fastify' },
    n: { type: 'string', default: '3000' },
    rounds: { type: 'string', default: '11' },
  },
});
const dist = fileURLToPath(new URL('../dist', import.meta.url));
if (!existsSync(`${dist}/index.js`)) {
  console.error('bench node-bridge: dist/ is missing; run `npm run build` first');
  process.exit(2);
}
const frameworks = new URL('apps/frameworks/', import.meta.url);
const N = Number(values.n);
const ROUNDS = Number(values.rounds);
const APPS = values.apps.split(',');

const vars = {
  QUERY_STRING: 'q=hello',
  REQUEST_METHOD: 'GET',
  CONTENT_TYPE: '',
  CONTENT_LENGTH: '',
  SCRIPT_NAME: '/app',
  REQUEST_URI: '/app/items/42?q=hello',
  DOCUMENT_URI: '/app/items/42',
  DOCUMENT_ROOT: '/etc/nginx/html',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REQUEST_SCHEME: 'http',
  GATEWAY_INTERFACE: 'CGI/1.1',
  SERVER_SOFTWARE: 'nginx/1.22.1',
  REMOTE_ADDR: '127.0.0.1',
  REMOTE_PORT: '40000',
  SERVER_ADDR: '127.0.0.1',
  SERVER_PORT: '8080',
  SERVER_NAME: 'localhost',
  REDIRECT_STATUS: '200',
  PATH_INFO: '/items/42',
  HTTP_HOST: '127.0.0.1:8080',
};
const payload = JSON.stringify({ id: '42', q: 'hello', framework: 'null' });
const head = [
  ['Content-Type', 'application/json; charset=utf-8'],
  ['Content-Length', String(Buffer.byteLength(payload))],
];

async function handler(name, lib) {
  if (name === 'plain') {
    return (_environ, startResponse) => {
      startResponse('200 OK', head);
      return [Buffer.from(payload)];
    };
  }
  if (name === 'null') {
    return lib.fromNodeHandler((_req, res) => {
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.end(payload);
    });
  }
  const { default: app } = await import(new URL(`${name}.mjs`, frameworks).href);
  if (name === 'koa') return lib.fromNodeHandler(app.callback());
  if (name === 'fastify') return lib.fromFastify(app);
  return lib.fromNodeHandler(app);
}

async function side(root) {
  const load = (path) => import(pathToFileURL(`${root}/${path}`).href);
  const lib = { ...(await load('index.js')), ...(await load('adapters/node.js')) };
  const errors = { write() {} };
  const sink = { sendHead() {}, write() {}, end() {} };
  const apps = {};
  for (const name of APPS) apps[name] = await handler(name, lib);
  return {
    root,
    async run(name) {
      const cancellation = new lib.LazyCancellation();
      const outcome = await lib.serveRequest(apps[name], {
        variables: vars,
        errors,
        sink,
        environ: {
          multithread: false,
          multiprocess: true,
          signal: cancellation.signal,
          inputTerminated: true,
        },
        cancellation,
      });
      if (!outcome.ok || outcome.status !== 200)
        throw new Error(`${root} ${name}: ${JSON.stringify(outcome)}`);
      // Each request from its own macrotask, as from a socket read: in one long microtask chain Node never runs
      // the nextTick queue, which then grows without end and looks like a leak.
      await new Promise(setImmediate);
    },
  };
}

async function round(current, name, n) {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await current.run(name);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

const sides = [await side(dist)];
if (values.base) sides.unshift(await side(values.base));
const median = (list) => [...list].sort((a, b) => a - b)[list.length >> 1];
console.log(`Node ${process.version}; ${ROUNDS} interleaved rounds of ${N} requests; CPU µs per request`);
if (values.base) console.log(`base ${values.base} against this dist`);
for (const name of APPS) {
  for (const current of sides) await round(current, name, N / 4);
  const results = sides.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < sides.length; i++) {
      const at = (i + r) % sides.length;
      results[at].push(await round(sides[at], name, N));
    }
  }
  const cells = results.map((list) => `${median(list).toFixed(1)} (min ${Math.min(...list).toFixed(1)})`);
  const ratio =
    sides.length === 2 ? `  new/base ${(median(results[1]) / median(results[0])).toFixed(2)}` : '';
  console.log(`  ${name.padEnd(8)} ${cells.join('  ->  ')}${ratio}`);
}
