// A Hono 4 app as a tsgi application: `tsgi serve examples/hono.ts`, `tsgi cgi …`, `tsgi fastcgi …`.
// In your own app, import from 'tsgi/adapters/fetch' instead of the relative path used inside this repository.
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { setCookie } from 'hono/cookie';
import { fromFetchHandler } from '../src/adapters/fetch.js';
import type { Environ } from '../src/shared/types.js';

// fromFetchHandler passes the environ as Hono's `env`.
const app = new Hono<{ Bindings: Environ }>();
const encoder = new TextEncoder();

app.get('/hello/:name', (c) => c.text(`hello ${c.req.param('name')}`));

app.post('/json', async (c) => c.json({ received: await c.req.json<unknown>() }));

app.post('/upload', async (c) => {
  const hash = createHash('sha256');
  let bytes = 0;
  const reader = c.req.raw.body!.getReader();
  for (let step = await reader.read(); !step.done; step = await reader.read()) {
    hash.update(step.value);
    bytes += step.value.byteLength;
  }
  return c.json({ bytes, sha256: hash.digest('hex'), maxBuffered: null });
});

app.get('/stream', (c) => {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode('first\n'));
      setTimeout(() => {
        controller.enqueue(encoder.encode('second\n'));
        controller.close();
      }, 300);
    },
  });
  return c.body(body, 200, { 'content-type': 'text/plain; charset=UTF-8' });
});

app.get('/cookies', (c) => {
  setCookie(c, 'a', '1');
  setCookie(c, 'b', '2');
  return c.text('two cookies');
});

app.get('/redirect', (c) => c.redirect('/hello/world'));

app.get('/error', () => {
  throw new Error('boom from hono');
});

// Writes until the client goes away (the stream is cancelled), then says how far it got.
app.get('/forever', (c) => {
  const errors = c.env['tsgi.errors'];
  let chunks = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        chunks += 1;
        controller.enqueue(encoder.encode(`chunk ${chunks}\n`));
      },
      cancel() {
        errors.write(
          `hono: /forever closed after ${chunks} chunks (signal aborted: ${c.req.raw.signal.aborted})\n`,
        );
      },
    },
    { highWaterMark: 0 },
  );
  return c.body(body, 200, { 'content-type': 'text/plain; charset=UTF-8' });
});

export default fromFetchHandler(app.fetch);
