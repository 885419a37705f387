// The yardstick: the same app on its framework's own Node server, or Express on node-fastcgi.
//   node native.mjs express|koa|fastify|hono|express-node-fastcgi HOST:PORT
const [which, address] = process.argv.slice(2);
const colon = address.lastIndexOf(':');
const host = address.slice(0, colon);
const port = Number(address.slice(colon + 1));
const framework = which.replace(/-node-fastcgi$/, '');
const { default: app } = await import(`./${framework}.mjs`);
let server;
if (which === 'express-node-fastcgi') {
  const { default: fcgi } = await import('node-fastcgi');
  server = fcgi.createServer(app);
  // Without TCP_NODELAY, Nagle's delay costs node-fastcgi 40 ms per response.
  server.on('connection', (socket) => socket.setNoDelay?.(true));
  server.listen(port, host);
} else if (framework === 'fastify') {
  await app.listen({ port, host });
  server = app.server;
} else if (framework === 'hono') {
  const { serve } = await import('@hono/node-server');
  server = serve({ fetch: app.fetch, port, hostname: host });
} else {
  server = app.listen(port, host);
}
// Longer than nginx's upstream keepalive_timeout (60 s), as a deployment behind proxy_pass sets it.
if (which !== 'express-node-fastcgi') server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => process.exit(0));
