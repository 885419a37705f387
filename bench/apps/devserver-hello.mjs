// One hello server for bench/devserver: bare node:http, or the same response from a tsgi app through serve().
//   node devserver-hello.mjs native|tsgi|tsgi-log|tsgi-validate
// Prints its port; on stdin `start` zeroes its CPU and request counters, on `stop` prints `cpuMicros requests`.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const mode = process.argv[2] ?? 'tsgi';
const HELLO = Buffer.from('Hello, world!\n');
const HEADERS = [
  ['Content-Type', 'text/plain'],
  ['Content-Length', String(HELLO.length)],
];
let requests = 0;
let since = process.cpuUsage();

let server;
if (mode === 'native') {
  server = createServer((_req, res) => {
    res.writeHead(200, HEADERS.flat());
    res.end(HELLO);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
} else {
  const { serve } = await import(new URL('../../dist/http/index.js', import.meta.url).href);
  const app = (_environ, startResponse) => {
    startResponse('200 OK', HEADERS);
    return [HELLO];
  };
  // The access log goes to a sink that drops it: the formatting is measured, the terminal is not.
  const log = mode === 'tsgi-log' ? () => undefined : false;
  ({ server } = await serve(app, { port: 0, log, validate: mode === 'tsgi-validate' }));
}
server.on('request', () => requests++);
process.stdout.write(`${server.address().port}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'start') {
    requests = 0;
    since = process.cpuUsage();
  } else if (line === 'stop') {
    const used = process.cpuUsage(since);
    process.stdout.write(`${used.user + used.system} ${requests}\n`);
    process.exit(0);
  }
}
