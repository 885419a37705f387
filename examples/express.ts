// An Express 5 app as a tsgi application: `tsgi serve examples/express.ts`, `tsgi cgi …`, `tsgi fastcgi …`.
// In your own app, import from 'tsgi/adapters/node' instead of the relative path used inside this repository.
import { createHash } from 'node:crypto';
import express, { type Request } from 'express';
import { fromNodeHandler, getEnviron } from '../src/adapters/node.js';

const app = express();

/** Writes one line to `tsgi.errors`: the web server's error log under CGI/FastCGI, stderr for `tsgi serve`. */
function log(req: Request, line: string): void {
  getEnviron(req)?.['tsgi.errors'].write(`express: ${line}\n`);
}

app.get('/hello/:name', (req, res) => {
  res.type('text/plain').send(`hello ${req.params.name}`);
});

app.post('/json', express.json(), (req, res) => {
  res.json({ received: req.body as unknown });
});

// Reads the upload as a stream: the body is hashed chunk by chunk and never held whole.
app.post('/upload', async (req, res) => {
  const hash = createHash('sha256');
  let bytes = 0;
  let maxBuffered = 0;
  for await (const chunk of req) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
    maxBuffered = Math.max(maxBuffered, req.readableLength);
  }
  res.json({ bytes, sha256: hash.digest('hex'), maxBuffered });
});

// The first line goes out at once; the second a moment later.
app.get('/stream', (_req, res) => {
  res.type('text/plain');
  res.write('first\n');
  setTimeout(() => res.end('second\n'), 300);
});

app.get('/cookies', (_req, res) => {
  res.cookie('a', '1').cookie('b', '2').send('two cookies');
});

app.get('/redirect', (_req, res) => res.redirect('/hello/world'));

app.get('/error', () => {
  throw new Error('boom from express');
});

// Writes until the client goes away, then says how far it got.
app.get('/forever', (req, res) => {
  res.type('text/plain');
  let chunks = 0;
  const timer = setInterval(() => {
    chunks += 1;
    res.write(`chunk ${chunks}\n`);
  }, 10);
  res.on('close', () => {
    clearInterval(timer);
    log(req, `/forever closed after ${chunks} chunks (destroyed: ${res.destroyed})`);
  });
});

export default fromNodeHandler(app);
