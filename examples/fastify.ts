// A Fastify 5 app as a tsgi application: `tsgi serve examples/fastify.ts`, `tsgi cgi …`, `tsgi fastcgi …`.
// In your own app, import from 'tsgi/adapters/node' instead of the relative path used inside this repository.
import { createHash } from 'node:crypto';
import { PassThrough, type Readable } from 'node:stream';
import fastify, { type FastifyRequest } from 'fastify';
import { fromFastify, getEnviron } from '../src/adapters/node.js';

const app = fastify();

function log(request: FastifyRequest, line: string): void {
  getEnviron(request.raw)?.['tsgi.errors'].write(`fastify: ${line}\n`);
}

// Uploads arrive as the raw stream, so the route can read them piece by piece.
app.addContentTypeParser('application/octet-stream', (_request, payload, done) => done(null, payload));

app.get<{ Params: { name: string } }>('/hello/:name', async (request, reply) => {
  reply.type('text/plain');
  return `hello ${request.params.name}`;
});

app.post('/json', async (request) => ({ received: request.body }));

app.post('/upload', async (request) => {
  const stream = request.body as Readable;
  const hash = createHash('sha256');
  let bytes = 0;
  let maxBuffered = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
    maxBuffered = Math.max(maxBuffered, request.raw.readableLength);
  }
  return { bytes, sha256: hash.digest('hex'), maxBuffered };
});

app.get('/stream', async (_request, reply) => {
  const body = new PassThrough();
  body.write('first\n');
  setTimeout(() => body.end('second\n'), 300);
  return reply.type('text/plain').send(body);
});

app.get('/cookies', async (_request, reply) => {
  reply.header('set-cookie', ['a=1; Path=/', 'b=2; Path=/']);
  return 'two cookies';
});

app.get('/redirect', async (_request, reply) => reply.redirect('/hello/world'));

app.get('/error', async () => {
  throw new Error('boom from fastify');
});

app.get('/forever', async (request, reply) => {
  const body = new PassThrough();
  let chunks = 0;
  const timer = setInterval(() => {
    chunks += 1;
    body.write(`chunk ${chunks}\n`);
  }, 10);
  reply.raw.on('close', () => {
    clearInterval(timer);
    log(request, `/forever closed after ${chunks} chunks (destroyed: ${reply.raw.destroyed})`);
  });
  return reply.type('text/plain').send(body);
});

export default fromFastify(app);
