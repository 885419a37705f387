// The gateway for bench/from-fastcgi: node:http + toNodeHandler(fromFastCgi(ADDRESS)), the way an Express app
// mounts a PHP app. Prints its port; on stdin `start` zeroes its CPU and request counters, `stop` prints
// `cpuMicros requests`.
//   node fastcgi-gateway.mjs HOST:PORT SCRIPT_FILENAME
//   node fastcgi-gateway.mjs direct        (the baseline: the hello app itself on node:http, no FastCGI hop)
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

const [address, scriptFilename] = process.argv.slice(2);
const { fromFastCgi } = await import(new URL('../../dist/fastcgi/index.js', import.meta.url).href);
const { toNodeHandler } = await import(new URL('../../dist/http/index.js', import.meta.url).href);
const HELLO = Buffer.from('Hello, world!');
const hello = (_environ, startResponse) => {
  startResponse('200 OK', [
    ['Content-Type', 'text/plain'],
    ['Content-Length', String(HELLO.length)],
  ]);
  return [HELLO];
};
const app =
  address === 'direct' ? hello : fromFastCgi(address, { params: { SCRIPT_FILENAME: scriptFilename } });
let requests = 0;
const server = createServer(toNodeHandler(app));
server.on('request', () => requests++);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
process.stdout.write(`${server.address().port}\n`);
let since = process.cpuUsage();
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'start') {
    requests = 0;
    since = process.cpuUsage();
  } else if (line === 'stop') {
    const used = process.cpuUsage(since);
    process.stdout.write(`${used.user + used.system} ${requests}\n`);
  } else if (line === 'exit') process.exit(0);
}
