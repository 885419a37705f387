// fromNodeHandler, response side: a handler's ServerResponse becomes startResponse and body chunks.
import { describe, expect, it } from 'vitest';
import { fromNodeHandler } from '../../../src/adapters/node.js';
import { runApplication } from '../../../src/shared/respond.js';
import { LazyCancellation } from '../../../src/shared/cancellation.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const tick = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('fromNodeHandler: the response', () => {
  it('turns status, headers and body into startResponse and chunks, with no status line or chunk framing', async () => {
    const app = fromNodeHandler((_req, res) => {
      res.statusCode = 201;
      res.setHeader('Content-Type', 'text/plain');
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.write('hello ');
      res.end('world');
    });
    const response = await callApp(app);
    expect(response.status).toBe('201 Created');
    expect(response.headers).toEqual([
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
    expect(response.text).toBe('hello world');
    expect(response.outcome.ok).toBe(true);
  });

  it('adds Content-Length for a body given whole to end(), as node:http does', async () => {
    const response = await callApp(fromNodeHandler((_req, res) => res.end('12345')));
    expect(response.header('content-length')).toBe('5');
    const empty = await callApp(fromNodeHandler((_req, res) => res.end()));
    expect(empty.header('content-length')).toBe('0');
  });

  it('merges writeHead headers (object, nested and flat arrays) with earlier setHeader calls', async () => {
    const object = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('X-Early', '1');
        res.writeHead(404, 'Nope', { 'X-Late': '2', 'Content-Length': 0 });
        res.end();
      }),
    );
    expect(object.status).toBe('404 Nope');
    expect(object.headers).toEqual([
      ['X-Early', '1'],
      ['X-Late', '2'],
      ['Content-Length', '0'],
    ]);
    const flat = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('Set-Cookie', 'old=1');
        res.writeHead(200, ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
        res.end();
      }),
    );
    expect(flat.headers.filter(([name]) => name === 'Set-Cookie')).toEqual([
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
    const nested = await callApp(
      fromNodeHandler((_req, res) => {
        res.writeHead(200, [
          ['X-A', '1'],
          ['X-A', '2'],
        ] as unknown as string[]);
        res.end();
      }),
    );
    expect(nested.headers.filter(([name]) => name === 'X-A')).toHaveLength(2);
  });

  it('takes a head given whole to writeHead (Fastify), validated as node:http does, hop-by-hop headers dropped', async () => {
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.writeHead(201, {
          'content-type': 'application/json',
          connection: 'keep-alive',
          'x-list': ['a', 'b'],
          'content-length': 2,
        });
        res.end('{}', null as unknown as BufferEncoding, null as unknown as () => void);
      }),
    );
    expect(response.status).toBe('201 Created');
    expect(response.headers).toEqual([
      ['content-type', 'application/json'],
      ['x-list', 'a'],
      ['x-list', 'b'],
      ['content-length', '2'],
    ]);
    expect(response.text).toBe('{}');
    let thrown: unknown;
    const refused = await callApp(
      fromNodeHandler((_req, res) => {
        try {
          res.writeHead(200, { 'x-bad': 'a\r\nInjected: yes' });
        } catch (error) {
          thrown = error;
        }
        res.end('after');
      }),
    );
    expect((thrown as { code?: string }).code).toBe('ERR_INVALID_CHAR');
    expect(refused.headers).toEqual([['Content-Length', '5']]);
    expect(refused.text).toBe('after');
  });

  it("runs write and end callbacks once the bytes are taken, then 'finish' and 'close', as node:http", async () => {
    const events: string[] = [];
    const app = fromNodeHandler((_req, res) => {
      res.on('finish', () => events.push(`finish ${String(res.writableFinished)}`));
      res.on('close', () => events.push('close'));
      res.write('a', () => events.push('write callback'));
      setTimeout(() => res.end('b', () => events.push('end callback')), 5);
    });
    const response = await callApp(app);
    await tick();
    expect(response.text).toBe('ab');
    // Node 20 runs end()'s callback on 'finish', Node 24 just before it: Node's own end() decides.
    expect(events[0]).toBe('write callback');
    expect(events.slice(1, 3).sort()).toEqual(['end callback', 'finish true']);
    expect(events[3]).toBe('close');
  });

  it('passes what a handler writes to res.socket itself on as body bytes', async () => {
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('Content-Type', 'text/plain');
        res.flushHeaders();
        res.socket!.write('raw ');
        res.end('end');
      }),
    );
    expect(response.header('content-type')).toBe('text/plain');
    expect(response.text).toBe('raw end');
  });

  it('ignores body writes after a 204 or 304 head, as node:http does', async () => {
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.writeHead(304);
        expect(res.write('ignored')).toBe(true);
        res.end('also ignored');
      }),
    );
    expect(response.status).toBe('304 Not Modified');
    expect(response.body.byteLength).toBe(0);
  });

  it('drops Transfer-Encoding and other hop-by-hop headers so Node never frames the body', async () => {
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('Transfer-Encoding', 'chunked');
        res.writeHead(200, { Connection: 'close', 'Keep-Alive': 'timeout=5', 'X-Ok': 'yes' });
        res.write('abc');
        res.end('def');
      }),
    );
    expect(response.headers).toEqual([['X-Ok', 'yes']]);
    expect(response.text).toBe('abcdef');
  });

  it('keeps the head for an empty body of 204 and for HEAD, with the declared Content-Length', async () => {
    const noContent = await callApp(
      fromNodeHandler((_req, res) => {
        res.statusCode = 204;
        res.end();
      }),
    );
    expect(noContent.status).toBe('204 No Content');
    expect(noContent.body.byteLength).toBe(0);
    const head = await callApp(
      fromNodeHandler((_req, res) => {
        res.setHeader('Content-Length', '11');
        res.end('hello world');
      }),
      createTestEnviron({ REQUEST_METHOD: 'HEAD' }),
    );
    expect(head.header('content-length')).toBe('11');
    expect(head.body.byteLength).toBe(0);
    expect(head.outcome.ok).toBe(true);
  });

  it('ignores trailers with one log line and ignores 1xx interim responses', async () => {
    const environ = createTestEnviron();
    const response = await callApp(
      fromNodeHandler((_req, res) => {
        res.writeContinue();
        res.writeEarlyHints({ link: '</a.css>; rel=preload' });
        res.addTrailers({ 'X-Sum': '1' });
        res.addTrailers({ 'X-Sum': '2' });
        res.end('body');
      }),
      environ,
    );
    expect(response.status).toBe('200 OK');
    expect(response.text).toBe('body');
    expect(response.errors.match(/addTrailers\(\) ignored/g)).toHaveLength(1);
  });

  it('sends the head on flushHeaders() before any body byte', async () => {
    let headAt = -1;
    let writes = 0;
    const app = fromNodeHandler((_req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.flushHeaders();
      setTimeout(() => res.end('data: 1\n\n'), 20);
    });
    const environ = createTestEnviron();
    const outcome = await runApplication(app, environ, {
      sendHead(status) {
        expect(status).toBe('200 OK');
        headAt = writes;
      },
      write() {
        writes += 1;
      },
      end() {},
    });
    expect(outcome.ok).toBe(true);
    expect(headAt).toBe(0);
    expect(writes).toBe(1);
  });

  it('turns a thrown error into the driver 500 and an error after the head into a cut-off', async () => {
    const thrown = await callApp(
      fromNodeHandler(() => {
        throw new Error('boom');
      }),
    );
    expect(thrown.statusCode).toBe(500);
    expect(thrown.errors).toContain('boom');
    const late = await callApp(
      fromNodeHandler(async (_req, res) => {
        res.write('partial');
        await tick();
        throw new Error('late boom');
      }),
    );
    expect(late.statusCode).toBe(200);
    expect(late.text).toBe('partial');
    expect(late.outcome.ok).toBe(false);
  });

  it('cuts the response off when the handler destroys it, and survives a write after end', async () => {
    const destroyed = await callApp(
      fromNodeHandler((_req, res) => {
        res.write('x');
        setTimeout(() => res.destroy(), 5);
      }),
    );
    expect(destroyed.outcome.ok).toBe(false);
    const afterEnd = await callApp(
      fromNodeHandler((_req, res) => {
        res.end('done');
        res.write('more');
      }),
    );
    expect(afterEnd.text).toBe('done');
    expect(afterEnd.outcome.ok).toBe(true);
  });

  it('applies back-pressure: res.write() returns false until the front end has taken the bytes', async () => {
    const results: boolean[] = [];
    let drains = 0;
    const app = fromNodeHandler((_req, res) => {
      const big = Buffer.alloc(64 * 1024, 1);
      results.push(res.write(big));
      res.once('drain', () => {
        drains += 1;
        res.end();
      });
    });
    let received = 0;
    const outcome = await runApplication(app, createTestEnviron(), {
      sendHead() {},
      async write(chunk) {
        await tick(10);
        received += chunk.byteLength;
      },
      end() {},
    });
    expect(results).toEqual([false]);
    expect(drains).toBe(1);
    expect(received).toBe(64 * 1024);
    expect(outcome.ok).toBe(true);
  });
});

describe('fromNodeHandler: cost per request (issue 13)', () => {
  it('does not read tsgi.signal, which a front end creates only when something reads it', async () => {
    let reads = 0;
    // As a front end does: the driver watches a LazyCancellation, tsgi.signal is made only when read.
    const cancellation = new LazyCancellation();
    const environ = createTestEnviron({}, { signal: () => (reads++, cancellation.signal()) });
    const response = await callApp(
      fromNodeHandler((_req, res) => res.end('ok')),
      environ,
      { cancellation },
    );
    expect(response.text).toBe('ok');
    expect(reads).toBe(0);
  });

  it("ends the body when the handler's end() has been handed out, not a tick later at 'finish' (one FastCGI write)", async () => {
    const events: string[] = [];
    const app = fromNodeHandler((_req, res) => {
      res.on('finish', () => events.push('finish'));
      res.on('close', () => events.push('close'));
      res.end('hello');
    });
    const body = (await app(
      createTestEnviron(),
      () => () => Promise.resolve(),
    )) as AsyncIterable<Uint8Array> & {
      close(): void;
    };
    const iterator = body[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe('hello');
    // Node 20 emits 'finish' a tick after the last write completes; the body must not wait for that tick
    // (the driver then writes the last chunk and the end of the response together).
    let ticked = false;
    process.nextTick(() => (ticked = true));
    const last = await iterator.next();
    expect(last.done).toBe(true);
    expect(ticked).toBe(false);
    body.close();
    await tick();
    // The handler still sees 'finish' before 'close', as on node:http.
    expect(events).toEqual(['finish', 'close']);
  });
});
