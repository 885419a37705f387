// A Koa 3 app (with @koa/router) as a tsgi application: `tsgi serve examples/koa.ts`, `tsgi cgi …`, `tsgi fastcgi …`.
// In your own app, import from 'tsgi/adapters/node' instead of the relative path used inside this repository.
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import { fromNodeHandler, getEnviron } from '../src/adapters/node.js';

const app = new Koa();
const router = new Router();
// Koa prints every error itself; the 500 still goes to the client. Keep the test output to the point.
app.silent = true;

function log(ctx: Context, line: string): void {
  getEnviron(ctx.req)?.['tsgi.errors'].write(`koa: ${line}\n`);
}

async function readBody(ctx: Context): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of ctx.req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

router.get('/hello/:name', (ctx) => {
  ctx.type = 'text/plain';
  ctx.body = `hello ${ctx.params.name}`;
});

router.post('/json', async (ctx) => {
  ctx.body = { received: JSON.parse((await readBody(ctx)).toString('utf8')) as unknown };
});

router.post('/upload', async (ctx) => {
  const hash = createHash('sha256');
  let bytes = 0;
  let maxBuffered = 0;
  for await (const chunk of ctx.req) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
    maxBuffered = Math.max(maxBuffered, ctx.req.readableLength);
  }
  ctx.body = { bytes, sha256: hash.digest('hex'), maxBuffered };
});

router.get('/stream', (ctx) => {
  const body = new PassThrough();
  ctx.type = 'text/plain';
  ctx.body = body;
  body.write('first\n');
  setTimeout(() => body.end('second\n'), 300);
});

router.get('/cookies', (ctx) => {
  ctx.cookies.set('a', '1', { signed: false });
  ctx.cookies.set('b', '2', { signed: false });
  ctx.body = 'two cookies';
});

router.get('/redirect', (ctx) => ctx.redirect('/hello/world'));

router.get('/error', () => {
  throw new Error('boom from koa');
});

router.get('/forever', (ctx) => {
  const body = new PassThrough();
  let chunks = 0;
  const timer = setInterval(() => {
    chunks += 1;
    body.write(`chunk ${chunks}\n`);
  }, 10);
  ctx.res.on('close', () => {
    clearInterval(timer);
    log(ctx, `/forever closed after ${chunks} chunks (destroyed: ${ctx.res.destroyed})`);
  });
  ctx.type = 'text/plain';
  ctx.body = body;
});

app.use(router.routes()).use(router.allowedMethods());

export default fromNodeHandler(app.callback());
