// fromFastCgi against real PHP-FPM (Debian), mounted inside an Express app through toNodeHandler: variables,
// status and headers, a streamed upload and a streamed answer, a client that leaves, PHP-FPM going away.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromFastCgi, type FastCgiApplication } from '../../src/fastcgi/index.js';
import { toNodeHandler } from '../../src/http/to-node.js';
import { hasPhpFpm, startPhpFpm, type RunningPhpFpm } from '../helpers/fastcgi-peers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const SCRIPTS = {
  'info.php': `<?php
http_response_code(201);
header('X-Php: yes');
setcookie('a', '1');
setcookie('b', '2');
header('Content-Type: application/json');
$body = file_get_contents('php://input');
echo json_encode([
  'method' => $_SERVER['REQUEST_METHOD'],
  'uri' => $_SERVER['REQUEST_URI'],
  'script_name' => $_SERVER['SCRIPT_NAME'],
  'query' => $_GET,
  'trace' => $_SERVER['HTTP_X_TRACE'] ?? null,
  'length' => strlen($body),
  'sha256' => hash('sha256', $body),
]);
`,
  'stream.php': `<?php
while (ob_get_level()) ob_end_flush();
header('Content-Type: text/plain');
echo "first\\n"; flush();
usleep(800000);
echo "last\\n";
`,
  // Counts its iterations in a file; PHP stops a script when a write to a gone client fails.
  'slow.php': `<?php
while (ob_get_level()) ob_end_flush();
header('Content-Type: text/plain');
for ($i = 1; $i <= 200; $i++) {
  echo str_repeat('x', 1024), "\\n"; flush();
  file_put_contents(__DIR__ . '/data/progress', (string)$i);
  usleep(20000);
}
`,
};

describe.skipIf(!hasPhpFpm())('fromFastCgi → PHP-FPM, mounted in Express', () => {
  let fpm: RunningPhpFpm;
  let php: FastCgiApplication;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    fpm = await startPhpFpm(SCRIPTS, 3);
    // The mount is SCRIPT_NAME's start and PATH_INFO names the script, as nginx's $fastcgi_script_name would.
    php = fromFastCgi(fpm.address, {
      params: (environ) => ({
        SCRIPT_FILENAME: fpm.script(environ.PATH_INFO.replace(/^\/+/, '').replace(/[^\w.-]/g, '')),
        SCRIPT_NAME: `${environ.SCRIPT_NAME}${environ.PATH_INFO}`,
        PATH_INFO: '',
      }),
    });
    const app = express();
    app.get('/express', (_req, res) => {
      res.send('from express');
    });
    app.use('/php', toNodeHandler(php));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }, 30_000);

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await php?.close();
    await fpm?.stop();
  });

  it('serves a PHP script beside an Express route: variables, status, headers, cookies', async () => {
    expect(await (await fetch(`${base}/express`)).text()).toBe('from express');
    const response = await fetch(`${base}/php/info.php?x=1&y=%C3%A9`, { headers: { 'X-Trace': 'abc' } });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-php')).toBe('yes');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(await response.json()).toMatchObject({
      method: 'GET',
      uri: '/php/info.php?x=1&y=%C3%A9',
      script_name: '/php/info.php',
      query: { x: '1', y: 'é' },
      trace: 'abc',
      length: 0,
    });
  });

  it('streams a 2 MiB upload to PHP byte for byte', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const response = await fetch(`${base}/php/info.php`, { method: 'POST', body });
    expect(await response.json()).toMatchObject({
      method: 'POST',
      length: body.length,
      sha256: createHash('sha256').update(body).digest('hex'),
    });
  });

  it("streams PHP's output as it is flushed, not at the end", async () => {
    const started = Date.now();
    const response = await fetch(`${base}/php/stream.php`);
    const reader = response.body!.getReader();
    const first = await reader.read();
    const firstAt = Date.now() - started;
    let text = Buffer.from(first.value!).toString();
    for (let next = await reader.read(); !next.done; next = await reader.read())
      text += Buffer.from(next.value).toString();
    expect(text).toBe('first\nlast\n');
    expect(firstAt).toBeLessThan(600);
    expect(Date.now() - started).toBeGreaterThanOrEqual(750);
  });

  it('a client that leaves stops the PHP script, and the next requests are served', async () => {
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${base}/php/slow.php`, (response) => {
        response.once('data', () => {
          request.destroy();
          resolve();
        });
      });
      request.on('error', () => undefined);
      request.once('error', reject);
      request.end();
    });
    await sleep(1000);
    const progress = (): number => Number(readFileSync(join(fpm.dir, 'data', 'progress'), 'utf8'));
    const afterLeaving = progress();
    await sleep(500);
    // Run to its end the script would take 4 s and reach 200.
    expect(progress()).toBe(afterLeaving);
    expect(afterLeaving).toBeLessThan(200);
    const responses = await Promise.all(Array.from({ length: 6 }, () => fetch(`${base}/php/info.php`)));
    expect(responses.map((r) => r.status)).toEqual(Array(6).fill(201));
  });

  it('keeps its connections to PHP-FPM open between requests', async () => {
    for (let i = 0; i < 10; i++) expect((await fetch(`${base}/php/info.php`)).status).toBe(201);
    expect(php.connections().open).toBeLessThanOrEqual(3);
    expect(php.connections().idle).toBeGreaterThanOrEqual(1);
  });

  it('answers 502 with one log line once PHP-FPM is gone', async () => {
    const lonely = fromFastCgi(fpm.address, { params: { SCRIPT_FILENAME: fpm.script('info.php') } });
    const app = express();
    const errors: string[] = [];
    app.use(
      '/php',
      toNodeHandler(lonely, { errors: { write: (text: string | Uint8Array) => errors.push(String(text)) } }),
    );
    await fpm.stop();
    const gone = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => gone.once('listening', resolve));
    const response = await fetch(`http://127.0.0.1:${(gone.address() as { port: number }).port}/php/x`);
    expect(response.status).toBe(502);
    expect(errors.join('')).toMatch(/^tsgi fromFastCgi: 127\.0\.0\.1:\d+ cannot be reached: ECONNREFUSED\n$/);
    gone.closeAllConnections();
    await new Promise((resolve) => gone.close(resolve));
    await lonely.close();
  });
});
