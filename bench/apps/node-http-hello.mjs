// What a Node user runs behind nginx proxy_pass instead of FastCGI: the same hello on bare node:http.
//   node node-http-hello.mjs HOST:PORT
import { createServer } from 'node:http';

const HELLO = Buffer.from('Hello, world!');
const server = createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
  res.end(HELLO);
});
server.keepAliveTimeout = 65_000; // longer than nginx's upstream keepalive_timeout (60 s)
const address = process.argv[2];
const colon = address.lastIndexOf(':');
server.listen(Number(address.slice(colon + 1)), address.slice(0, colon), () =>
  process.stderr.write(`node:http listening on ${address}\n`),
);
process.on('SIGTERM', () => process.exit(0));
