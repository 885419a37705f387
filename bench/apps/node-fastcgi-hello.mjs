// The peer: the same hello on node-fastcgi 2 (npm), with TCP_NODELAY so Nagle's delay does not cost it 40 ms.
//   node node-fastcgi-hello.mjs HOST:PORT

import fcgi from 'node-fastcgi';

const HELLO = Buffer.from('Hello, world!');
const server = fcgi.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
  res.end(HELLO);
});
server.on('connection', (socket) => socket.setNoDelay?.(true));
const address = process.argv[2];
const colon = address.lastIndexOf(':');
server.listen(Number(address.slice(colon + 1)), address.slice(0, colon), () =>
  process.stderr.write(`node-fastcgi listening on ${address}\n`),
);
process.on('SIGTERM', () => process.exit(0));
