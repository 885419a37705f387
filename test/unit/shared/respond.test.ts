// Tests for src/shared/respond.ts: the PEP 3333 server-side rules of the response driver, against a recording sink.
import { describe, expect, test, vi } from 'vitest';
import { TsgiError } from '../../../src/shared/errors.js';
import { runApplication } from '../../../src/shared/respond.js';
import type { Application, Environ, Header, ResponseSink } from '../../../src/shared/types.js';
import { createTestEnviron } from '../../../src/testing/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const OK: [string, Header[]] = ['200 OK', [['Content-Type', 'text/plain']]];

type SinkEvent = ['head', string, Header[]] | ['write', string] | ['end', boolean];

// A sink that records every call in order; `delay` makes writes resolve later (back-pressure).
function recordingSink(options: { failWrite?: boolean; delay?: () => Promise<void> } = {}) {
  const events: SinkEvent[] = [];
  const sink: ResponseSink = {
    sendHead(status, headers) {
      events.push(['head', status, [...headers]]);
    },
    async write(chunk) {
      if (options.failWrite) throw new Error('EPIPE');
      if (options.delay) await options.delay();
      events.push(['write', new TextDecoder().decode(chunk)]);
    },
    end(ok) {
      events.push(['end', ok]);
    },
  };
  const wire = () => JSON.stringify(events);
  return { sink, events, wire };
}

function environ(overrides: Record<string, unknown> = {}): Environ & { 'tsgi.errors': { text: string } } {
  return createTestEnviron(overrides) as Environ & { 'tsgi.errors': { text: string } };
}

// A body whose iterator counts next()/return() and whose close() counts calls.
function trackedBody(chunks: unknown[], options: { throwAt?: number } = {}) {
  const counts = { next: 0, return: 0, close: 0 };
  const body = {
    [Symbol.iterator]() {
      let index = 0;
      return {
        next() {
          counts.next++;
          if (index === options.throwAt) throw new Error('iteration failed');
          return index < chunks.length
            ? { done: false, value: chunks[index++] }
            : { done: true, value: undefined };
        },
        return() {
          counts.return++;
          return { done: true, value: undefined };
        },
      };
    },
    close() {
      counts.close++;
    },
  };
  return { body: body as unknown as Iterable<Uint8Array> & { close(): void }, counts };
}

async function run(app: Application, env = environ(), sinkOptions = {}) {
  const recorder = recordingSink(sinkOptions);
  const onError = vi.fn();
  const outcome = await runApplication(app, env, recorder.sink, { onError });
  return { ...recorder, outcome, onError, errors: env['tsgi.errors'].text };
}

const errorPage: SinkEvent[] = [
  [
    'head',
    '500 Internal Server Error',
    [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', '22'],
    ],
  ],
  ['write', 'Internal Server Error\n'],
  ['end', true],
];

describe('runApplication: a normal response', () => {
  test('sends the head, each chunk in order, then end(true)', async () => {
    const { events, outcome } = await run((_env, start) => {
      start(...OK);
      return [bytes('hello '), bytes('world')];
    });
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', 'hello '],
      ['write', 'world'],
      ['end', true],
    ]);
    expect(outcome).toEqual({ ok: true, status: 200, bytes: 11, headersSent: true });
  });

  test('runs an async application with an async generator body', async () => {
    const { events } = await run(async (_env, start) => {
      start(...OK);
      return (async function* () {
        yield bytes('a');
        yield bytes('b');
      })();
    });
    expect(events.map((event) => event[0])).toEqual(['head', 'write', 'write', 'end']);
  });

  test('sends the head of an empty body at the end', async () => {
    const { events, outcome } = await run((_env, start) => {
      start('204 No Content', []);
      return [];
    });
    expect(events).toEqual([
      ['head', '204 No Content', []],
      ['end', true],
    ]);
    expect(outcome).toMatchObject({ ok: true, status: 204, bytes: 0 });
  });

  test('a status without a reason phrase is sent with the standard one', async () => {
    const { events } = await run((_env, start) => {
      start('404', []);
      return [];
    });
    expect(events[0]).toEqual(['head', '404 Not Found', []]);
  });

  test('a startResponse called from inside the body generator is honoured', async () => {
    const { events } = await run((_env, start) =>
      (function* () {
        start(...OK);
        yield bytes('late start');
      })(),
    );
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', 'late start'],
      ['end', true],
    ]);
  });

  test('headers the app mutates after startResponse are sent as they were at the call', async () => {
    const { events } = await run((_env, start) => {
      const headers: [string, string][] = [['X-A', 'safe']];
      start('200 OK', headers);
      headers[0]![1] = 'x\r\nSet-Cookie: evil=1';
      headers.push(['X-B', 'added']);
      return [bytes('x')];
    });
    expect(events[0]).toEqual(['head', '200 OK', [['X-A', 'safe']]]);
  });
});

describe('runApplication: lazy head', () => {
  test('does not send the head before the first non-empty chunk', async () => {
    let headSentAtEmptyChunk: boolean | undefined;
    const recorder = recordingSink();
    await runApplication(
      (_env, start) =>
        (function* () {
          start(...OK);
          yield new Uint8Array(0);
          headSentAtEmptyChunk = recorder.events.length > 0;
          yield bytes('x');
        })(),
      environ(),
      recorder.sink,
    );
    expect(headSentAtEmptyChunk).toBe(false);
    expect(recorder.events.map((event) => event[0])).toEqual(['head', 'write', 'end']);
  });

  test('an error after empty chunks but before any byte still gets a clean 500', async () => {
    const { events } = await run((_env, start) =>
      (function* () {
        start(...OK);
        yield new Uint8Array(0);
        throw new Error('late failure');
      })(),
    );
    expect(events).toEqual(errorPage);
  });
});

describe('runApplication: startResponse rules', () => {
  test('a second call without excInfo is an error: 500', async () => {
    const { events, outcome } = await run((_env, start) => {
      start(...OK);
      start(...OK);
      return [];
    });
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({ code: 'ERR_START_RESPONSE_TWICE' });
  });

  test('a second call with excInfo before the head replaces status and headers', async () => {
    const { events } = await run((_env, start) => {
      start(...OK);
      try {
        throw new Error('handled');
      } catch (error) {
        start('503 Service Unavailable', [['Retry-After', '5']], error);
      }
      return [bytes('later')];
    });
    expect(events).toEqual([
      ['head', '503 Service Unavailable', [['Retry-After', '5']]],
      ['write', 'later'],
      ['end', true],
    ]);
  });

  test('a call with excInfo after the head re-throws it, and the response is cut off', async () => {
    const original = new Error('original');
    let rethrown: unknown;
    const { events, outcome } = await run((_env, start) =>
      (function* () {
        start(...OK);
        yield bytes('part');
        try {
          start('500 Oops', [], original);
        } catch (error) {
          rethrown = error;
          throw error;
        }
      })(),
    );
    expect(rethrown).toBe(original);
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', 'part'],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, headersSent: true, status: 200, error: original });
  });

  test('a call refused by validation records nothing, so the app may call again without excInfo', async () => {
    let refused: unknown;
    const { events } = await run((_env, start) => {
      try {
        start('200 OK', [['X-A', 'bad\nvalue']]);
      } catch (error) {
        refused = error;
      }
      start('200 OK', [['X-A', 'good']]);
      return [];
    });
    expect(refused).toMatchObject({ code: 'ERR_INVALID_HEADER_VALUE' });
    expect(events).toEqual([
      ['head', '200 OK', [['X-A', 'good']]],
      ['end', true],
    ]);
  });

  test('returning without calling startResponse is a 500', async () => {
    const { events, outcome } = await run(() => []);
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({ code: 'ERR_NO_START_RESPONSE' });
  });
});

describe('runApplication: write()', () => {
  test('a body chunk before startResponse is an error: 500', async () => {
    const { events, outcome } = await run(() => [bytes('too early')]);
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({ code: 'ERR_WRITE_BEFORE_START' });
  });

  test('write() after the response ended rejects with ERR_WRITE_AFTER_END', async () => {
    let write: ((chunk: Uint8Array) => Promise<void>) | undefined;
    const { events } = await run((_env, start) => {
      write = start(...OK);
      return [];
    });
    await expect(write!(bytes('after'))).rejects.toMatchObject({ code: 'ERR_WRITE_AFTER_END' });
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['end', true],
    ]);
  });

  test('writes and body chunks arrive in call order, awaited or not', async () => {
    const { events } = await run((_env, start) => {
      const write = start(...OK);
      void write(bytes('1'));
      void write(bytes('2'));
      return [bytes('3')];
    });
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', '1'],
      ['write', '2'],
      ['write', '3'],
      ['end', true],
    ]);
  });

  test('a string passed to write() is refused with a message naming the fix', async () => {
    let caught: unknown;
    const { events } = await run(async (_env, start) => {
      const write = start(...OK);
      caught = await write('text' as unknown as Uint8Array).catch((error: unknown) => error);
      return [bytes('ok')];
    });
    expect(caught).toMatchObject({
      code: 'ERR_CHUNK_NOT_BYTES',
      message: expect.stringContaining('TextEncoder'),
    });
    // A failed write fails the whole response, even when the app caught it: no silently missing bytes.
    expect(events).toEqual(errorPage);
  });
});

describe('runApplication: invalid status and headers never reach the sink', () => {
  test.each([
    ['200 OK', [['X-A', 'v\r\nSet-Cookie: injected=1']]],
    ['200 OK', [['X-A', 'v\nInjected: 1']]],
    ['200 OK', [['X-A\r\nInjected', 'v']]],
    ['200 OK\r\nInjected: 1', []],
    ['200 OK', [['Connection', 'close']]],
    ['200 OK', [['Transfer-Encoding', 'chunked']]],
    ['200 OK', [['Status', '302 Found']]],
    ['20 OK', []],
    ['100 Continue', []],
    ['101 Switching Protocols', []],
    ['200 OK', [['Content-Length', '-1']]],
    [
      '200 OK',
      [
        ['Content-Length', '1'],
        ['content-length', '1'],
      ],
    ],
  ])('status %j with headers %j becomes a 500', async (status, headers) => {
    const { events, wire, outcome } = await run((_env, start) => {
      start(status, headers as unknown as Header[]);
      return [bytes('x')];
    });
    expect(events).toEqual(errorPage);
    expect(wire()).not.toMatch(/njected|Connection|chunked|302/);
    expect(outcome.error).toBeInstanceOf(TsgiError);
  });
});

describe('runApplication: body type errors', () => {
  test.each([
    ['a string', 'hello', /returned a string/],
    ['a Uint8Array', bytes('x'), /returned a Uint8Array/],
    ['null', null, /returned null/],
    ['a number', 5, /returned number/],
    ['an object', {}, /returned object/],
    ['undefined', undefined, /returned undefined/],
  ])('a body that is %s becomes a 500 whose log names the fix', async (_kind, body, message) => {
    const { events, outcome, errors } = await run((_env, start) => {
      start(...OK);
      return body as unknown as Iterable<Uint8Array>;
    });
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({
      code: 'ERR_BODY_NOT_ITERABLE',
      message: expect.stringMatching(message),
    });
    expect(errors).toMatch(/iterable/);
  });

  test.each([
    ['a string', 'text', /TextEncoder/],
    ['a number', 65, /number/],
    ['an ArrayBuffer', new ArrayBuffer(2), /new Uint8Array\(buffer\)/],
    ['an array', [1, 2], /Array/],
  ])('a first chunk that is %s becomes a 500', async (_kind, chunk, message) => {
    const { events, outcome } = await run((_env, start) => {
      start(...OK);
      return [chunk] as unknown as Uint8Array[];
    });
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({
      code: 'ERR_CHUNK_NOT_BYTES',
      message: expect.stringMatching(message),
    });
  });

  test('a string chunk after the head cuts the response off', async () => {
    const { events, outcome } = await run((_env, start) => {
      start(...OK);
      return [bytes('ok'), 'text'] as unknown as Uint8Array[];
    });
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', 'ok'],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, bytes: 2 });
  });

  test('a Buffer is a Uint8Array and is accepted', async () => {
    const { events } = await run((_env, start) => {
      start(...OK);
      return [Buffer.from('buf')];
    });
    expect(events[1]).toEqual(['write', 'buf']);
  });
});

describe('runApplication: application errors', () => {
  test('a throw before the head becomes a short text/plain 500, with the stack in tsgi.errors and onError called', async () => {
    const failure = new Error('database down');
    const env = environ({ PATH_INFO: '/orders' });
    const { events, outcome, errors, onError } = await run(() => {
      throw failure;
    }, env);
    expect(events).toEqual(errorPage);
    expect(outcome).toEqual({ ok: true, status: 500, bytes: 22, headersSent: true, error: failure });
    expect(errors).toMatch(/^tsgi: application error in GET \/orders: Error: database down\n {4}at /);
    expect(onError).toHaveBeenCalledExactlyOnceWith(failure, env);
  });

  test('the error page never contains the error message', async () => {
    const { wire } = await run(() => {
      throw new Error('secret-password');
    });
    expect(wire()).not.toContain('secret-password');
  });

  test('a rejected async application is handled like a throw', async () => {
    const { events } = await run(async () => {
      throw new Error('async');
    });
    expect(events).toEqual(errorPage);
  });

  test('a non-Error thrown value is logged too', async () => {
    const { errors, outcome } = await run(() => {
      throw 'just a string';
    });
    expect(errors).toContain('just a string');
    expect(outcome.error).toBe('just a string');
  });

  test('a throw after the head cuts the response off with end(false)', async () => {
    const { events, outcome, errors } = await run((_env, start) =>
      (function* () {
        start(...OK);
        yield bytes('partial');
        throw new Error('mid-stream');
      })(),
    );
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', 'partial'],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, headersSent: true, status: 200, bytes: 7 });
    expect(errors).toContain('mid-stream');
  });

  test('a truncated request body (RequestError) before the head becomes a 400 with a one-line log', async () => {
    const env = environ({ REQUEST_METHOD: 'POST', body: 'abc', CONTENT_LENGTH: '10' });
    const { events, outcome, errors } = await run(async (environ, start) => {
      const data = await environ['tsgi.input'].read();
      start(...OK);
      return [data];
    }, env);
    expect(events).toEqual([
      [
        'head',
        '400 Bad Request',
        [
          ['Content-Type', 'text/plain; charset=utf-8'],
          ['Content-Length', '12'],
        ],
      ],
      ['write', 'Bad Request\n'],
      ['end', true],
    ]);
    expect(outcome).toMatchObject({
      ok: true,
      status: 400,
      error: expect.objectContaining({ code: 'ERR_BODY_TRUNCATED' }),
    });
    expect(errors).toBe(
      'tsgi: bad request in POST /: tsgi: the request body ended after 3 of 10 bytes (CONTENT_LENGTH)\n',
    );
  });

  test('an environ without tsgi.signal or a working tsgi.errors still gets a response', async () => {
    const env = environ();
    delete (env as Partial<Environ>)['tsgi.signal'];
    (env as { 'tsgi.errors': unknown })['tsgi.errors'] = {
      write() {
        throw new Error('stderr closed');
      },
    };
    const recorder = recordingSink();
    const outcome = await runApplication(
      () => {
        throw new Error('x');
      },
      env,
      recorder.sink,
    );
    expect(recorder.events).toEqual(errorPage);
    expect(outcome.status).toBe(500);
  });

  test('an onError hook that throws is logged and changes nothing', async () => {
    const env = environ();
    const recorder = recordingSink();
    const outcome = await runApplication(
      () => {
        throw new Error('first');
      },
      env,
      recorder.sink,
      {
        onError: () => {
          throw new Error('hook broke');
        },
      },
    );
    expect(recorder.events).toEqual(errorPage);
    expect(outcome.ok).toBe(true);
    expect((env['tsgi.errors'] as unknown as { text: string }).text).toContain('hook broke');
  });
});

describe('runApplication: Content-Length', () => {
  test('a body matching its Content-Length is complete', async () => {
    const { events, outcome } = await run((_env, start) => {
      start('200 OK', [['Content-Length', '5']]);
      return [bytes('he'), bytes('llo')];
    });
    expect(events.at(-1)).toEqual(['end', true]);
    expect(outcome.ok).toBe(true);
  });

  test('a first chunk longer than Content-Length is never sent: 500', async () => {
    const { events, outcome } = await run((_env, start) => {
      start('200 OK', [['Content-Length', '3']]);
      return [bytes('toolong')];
    });
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({ code: 'ERR_CONTENT_LENGTH_EXCEEDED' });
  });

  test('more bytes than declared after the head: the overflowing chunk is not sent, the response is cut off and logged', async () => {
    const { events, outcome, errors } = await run((_env, start) => {
      start('200 OK', [['Content-Length', '4']]);
      return [bytes('abc'), bytes('de')];
    });
    expect(events).toEqual([
      ['head', '200 OK', [['Content-Length', '4']]],
      ['write', 'abc'],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({
      ok: false,
      bytes: 3,
      error: expect.objectContaining({ code: 'ERR_CONTENT_LENGTH_EXCEEDED' }),
    });
    expect(errors).toContain('longer than its Content-Length 4');
  });

  test('fewer bytes than declared: the response is cut off and logged', async () => {
    const { events, outcome, errors } = await run((_env, start) => {
      start('200 OK', [['Content-Length', '10']]);
      return [bytes('abc')];
    });
    expect(events.at(-1)).toEqual(['end', false]);
    expect(outcome.error).toMatchObject({ code: 'ERR_CONTENT_LENGTH_SHORT' });
    expect(errors).toContain('3 bytes but Content-Length says 10');
  });

  test('an empty body with a non-zero Content-Length is a 500, before any head', async () => {
    const { events } = await run((_env, start) => {
      start('200 OK', [['Content-Length', '10']]);
      return [];
    });
    expect(events).toEqual(errorPage);
  });

  test.each([
    ['HEAD', '200 OK'],
    ['GET', '304 Not Modified'],
    ['GET', '204 No Content'],
  ])('a %s request answered %s may declare a Content-Length without a body', async (method, status) => {
    const { events, outcome } = await run(
      (_env, start) => {
        start(status, [['Content-Length', '42']]);
        return [];
      },
      environ({ REQUEST_METHOD: method }),
    );
    expect(events).toEqual([
      ['head', status, [['Content-Length', '42']]],
      ['end', true],
    ]);
    expect(outcome.ok).toBe(true);
  });
});

describe('runApplication: close() and return()', () => {
  test('close() is called once after a complete iteration, and return() is not needed', async () => {
    const { body, counts } = trackedBody([bytes('a')]);
    await run((_env, start) => {
      start(...OK);
      return body;
    });
    expect(counts).toEqual({ next: 2, return: 0, close: 1 });
  });

  test('close() and return() are called once when iteration throws', async () => {
    const { body, counts } = trackedBody([bytes('a'), bytes('b')], { throwAt: 1 });
    const { events } = await run((_env, start) => {
      start(...OK);
      return body;
    });
    expect(counts).toEqual({ next: 2, return: 1, close: 1 });
    expect(events.at(-1)).toEqual(['end', false]);
  });

  test('close() and return() are called once when the driver stops the body (bad chunk)', async () => {
    const { body, counts } = trackedBody([bytes('a'), 'bad', bytes('c')]);
    await run((_env, start) => {
      start(...OK);
      return body;
    });
    expect(counts).toEqual({ next: 2, return: 1, close: 1 });
  });

  test('close() is awaited before the response ends', async () => {
    const order: string[] = [];
    const recorder = recordingSink();
    const origEnd = recorder.sink.end;
    recorder.sink.end = (ok) => {
      order.push('end');
      return origEnd(ok);
    };
    await runApplication(
      (_env, start) => {
        start(...OK);
        return Object.assign([bytes('x')], {
          async close() {
            await new Promise((resolve) => setTimeout(resolve, 5));
            order.push('closed');
          },
        });
      },
      environ(),
      recorder.sink,
    );
    expect(order).toEqual(['closed', 'end']);
  });

  test('a close() that throws after a full body cuts the response off and is logged', async () => {
    const { events, errors } = await run((_env, start) => {
      start(...OK);
      return Object.assign([bytes('x')], {
        close() {
          throw new Error('cleanup failed');
        },
      });
    });
    expect(events.at(-1)).toEqual(['end', false]);
    expect(errors).toContain('cleanup failed');
  });

  test('a close() that throws while another error is handled is logged, and the first error is reported', async () => {
    const first = new Error('first');
    const { outcome, errors } = await run(() =>
      Object.assign(
        (function* (): Generator<Uint8Array> {
          if (first) throw first;
          yield bytes('never');
        })(),
        {
          close() {
            throw new Error('second');
          },
        },
      ),
    );
    expect(outcome.error).toBe(first);
    expect(errors).toContain('second');
  });

  test('a return() that throws is logged and the original error is reported', async () => {
    const body = {
      [Symbol.iterator]: () => ({
        next: () => ({ done: false, value: 'not bytes' }),
        return: () => {
          throw new Error('return broke');
        },
      }),
    };
    const { outcome, errors, events } = await run((_env, start) => {
      start(...OK);
      return body as unknown as Iterable<Uint8Array>;
    });
    expect(events).toEqual(errorPage);
    expect(outcome.error).toMatchObject({ code: 'ERR_CHUNK_NOT_BYTES' });
    expect(errors).toContain('return broke');
  });

  test('a generator’s finally block runs when the driver stops early', async () => {
    let cleaned = 0;
    await run((_env, start) =>
      (function* () {
        try {
          start(...OK);
          yield bytes('a');
          yield 'bad' as unknown as Uint8Array;
          yield bytes('never');
        } finally {
          cleaned++;
        }
      })(),
    );
    expect(cleaned).toBe(1);
  });
});

describe('runApplication: abort and back-pressure', () => {
  test('stops iterating when tsgi.signal aborts, cuts off quietly, and closes the body once', async () => {
    const controller = new AbortController();
    const env = environ({ 'tsgi.signal': controller.signal });
    let produced = 0;
    let closed = 0;
    const { events, outcome, errors, onError } = await run((_env, start) => {
      start(...OK);
      const body = (async function* () {
        try {
          while (true) {
            produced++;
            if (produced === 3) controller.abort();
            yield bytes(String(produced));
          }
        } finally {
          closed++;
        }
      })();
      return body;
    }, env);
    expect(produced).toBe(3);
    expect(closed).toBe(1);
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['write', '1'],
      ['write', '2'],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'ERR_ABORTED' }) });
    expect(errors).toBe('');
    expect(onError).not.toHaveBeenCalled();
  });

  test('an abort while the body waits forever still ends the response', async () => {
    const controller = new AbortController();
    let closeCalls = 0;
    const body = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<Uint8Array>>(() => undefined),
        return: async () => ({ done: true as const, value: undefined }),
      }),
      close: () => void closeCalls++,
    };
    setTimeout(() => controller.abort(), 10);
    const { events, outcome } = await run(
      (_env, start) => {
        start(...OK);
        return body;
      },
      environ({ 'tsgi.signal': controller.signal }),
    );
    expect(events).toEqual([['end', false]]);
    expect(outcome).toMatchObject({ ok: false, headersSent: false });
    expect(closeCalls).toBe(1);
  });

  test('an abort while an async application is still working ends the response, and its late body is closed', async () => {
    const controller = new AbortController();
    let finish: (() => void) | undefined;
    let closed = 0;
    const running = run(
      async (_env, start) => {
        await new Promise<void>((resolve) => (finish = resolve));
        start(...OK);
        return Object.assign([bytes('late')], { close: () => void closed++ });
      },
      environ({ 'tsgi.signal': controller.signal }),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const { events, outcome } = await running;
    expect(events).toEqual([['end', false]]);
    expect(outcome).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'ERR_ABORTED' }) });
    expect(closed).toBe(0);
    finish!();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(closed).toBe(1);
  });

  test.each(['hang', 'reject'] as const)(
    'after an abort, a close() that would %s is called once, not waited for, and crashes nothing',
    async (kind) => {
      const controller = new AbortController();
      let closeCalls = 0;
      const body = Object.assign(
        (async function* () {
          controller.abort();
          yield bytes('x');
        })(),
        {
          close: () => {
            closeCalls++;
            return kind === 'hang'
              ? new Promise<void>(() => undefined)
              : new Promise<void>((_resolve, reject) => setTimeout(() => reject(new Error('late close')), 1));
          },
        },
      );
      const { events } = await run(
        (_env, start) => {
          start(...OK);
          return body;
        },
        environ({ 'tsgi.signal': controller.signal }),
      );
      expect(events).toEqual([['end', false]]);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(closeCalls).toBe(1);
    },
  );

  test('an already aborted request sends nothing but end(false), and the body is still closed once', async () => {
    const controller = new AbortController();
    controller.abort();
    let closed = 0;
    const { events } = await run(
      (_env, start) => {
        start(...OK);
        return Object.assign([bytes('x')], { close: () => void closed++ });
      },
      environ({ 'tsgi.signal': controller.signal }),
    );
    expect(events).toEqual([['end', false]]);
    await new Promise((resolve) => setTimeout(resolve, 1));
    expect(closed).toBe(1);
  });

  test('waits for each sink write before pulling the next chunk', async () => {
    const log: string[] = [];
    let release: (() => void) | undefined;
    const delay = () => new Promise<void>((resolve) => (release = resolve));
    const recorder = recordingSink({ delay });
    const running = runApplication(
      (_env, start) =>
        (function* () {
          start(...OK);
          log.push('pull 1');
          yield bytes('1');
          log.push('pull 2');
          yield bytes('2');
        })(),
      environ(),
      recorder.sink,
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(log).toEqual(['pull 1']);
    release!();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(log).toEqual(['pull 1', 'pull 2']);
    release!();
    await running;
  });

  test('a transport failure ends the response without an error page or a log line', async () => {
    const { events, outcome, errors, onError } = await run(
      (_env, start) => {
        start(...OK);
        return [bytes('a'), bytes('b')];
      },
      environ(),
      { failWrite: true },
    );
    expect(events).toEqual([
      ['head', '200 OK', OK[1]],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, error: expect.objectContaining({ code: 'ERR_TRANSPORT' }) });
    expect(errors).toBe('');
    expect(onError).not.toHaveBeenCalled();
  });

  test('never rejects, even when sink.end throws', async () => {
    const sink: ResponseSink = {
      sendHead: () => undefined,
      write: () => undefined,
      end: () => {
        throw new Error('end failed');
      },
    };
    const outcome = await runApplication(
      (_env, start) => {
        start(...OK);
        return [];
      },
      environ(),
      sink,
    );
    expect(outcome).toMatchObject({ ok: false, error: expect.objectContaining({ message: 'end failed' }) });
  });
});

// The driver sends at once when the sink answers synchronously and waits only when it returns a promise; the
// wire must not depend on which happened.
describe('runApplication: a sink that answers synchronously', () => {
  function syncSink(asyncFrom = Infinity, throwOnWrite = false) {
    const events: SinkEvent[] = [];
    let writes = 0;
    const sink: ResponseSink = {
      sendHead(status, headers) {
        events.push(['head', status, [...headers]]);
      },
      write(chunk) {
        if (throwOnWrite) throw new Error('EPIPE');
        events.push(['write', new TextDecoder().decode(chunk)]);
        return ++writes >= asyncFrom ? new Promise((resolve) => setImmediate(resolve)) : undefined;
      },
      end(ok) {
        events.push(['end', ok]);
      },
    };
    return { sink, events };
  }

  const apps: Record<string, () => Application> = {
    'an array with empty chunks first': () => (_e, start) => {
      start(...OK);
      return [bytes(''), bytes('a'), bytes('bc')];
    },
    'a Content-Length kept': () => (_e, start) => {
      start('200 OK', [['Content-Length', '3']]);
      return [bytes('ab'), bytes('c')];
    },
    'a body over its Content-Length': () => (_e, start) => {
      start('200 OK', [['Content-Length', '2']]);
      return [bytes('ab'), bytes('c')];
    },
    'a body over its Content-Length at the first chunk': () => (_e, start) => {
      start('200 OK', [['Content-Length', '1']]);
      return [bytes('ab')];
    },
    'a body short of its Content-Length': () => (_e, start) => {
      start('200 OK', [['Content-Length', '5']]);
      return [bytes('ab')];
    },
    'a string chunk after a good one': () => (_e, start) => {
      start(...OK);
      return [bytes('a'), 'b'] as unknown as Uint8Array[];
    },
    'write() before the body': () => (_e, start) => {
      const write = start(...OK);
      void write(bytes('w'));
      return [bytes('x')];
    },
    'a generator': () => (_e, start) => {
      start(...OK);
      return (function* () {
        yield bytes('g1');
        yield bytes('g2');
      })();
    },
    'no body': () => (_e, start) => {
      start('204 No Content', []);
      return [];
    },
  };

  for (const [name, make] of Object.entries(apps)) {
    test(`sends the same calls as with an asynchronous sink: ${name}`, async () => {
      const sync = syncSink();
      const syncOutcome = await runApplication(make(), environ(), sync.sink);
      const recorder = recordingSink();
      const asyncOutcome = await runApplication(make(), environ(), recorder.sink);
      expect(sync.events).toEqual(recorder.events);
      expect({ ...syncOutcome, error: undefined }).toEqual({ ...asyncOutcome, error: undefined });
      expect((syncOutcome.error as { code?: string } | undefined)?.code).toBe(
        (asyncOutcome.error as { code?: string } | undefined)?.code,
      );
    });
  }

  test('keeps order, Content-Length and close() when the sink starts answering with promises mid-body', async () => {
    const { sink, events } = syncSink(2);
    const { body, counts } = trackedBody([bytes('a'), bytes('b'), bytes('c'), bytes('d')]);
    const outcome = await runApplication(
      (_e, start) => {
        start('200 OK', [['Content-Length', '4']]);
        return body;
      },
      environ(),
      sink,
    );
    expect(events).toEqual([
      ['head', '200 OK', [['Content-Length', '4']]],
      ['write', 'a'],
      ['write', 'b'],
      ['write', 'c'],
      ['write', 'd'],
      ['end', true],
    ]);
    expect(outcome).toMatchObject({ ok: true, bytes: 4, status: 200 });
    expect(counts).toEqual({ next: 5, return: 0, close: 1 });
  });

  test('a chunk yielded by the next() that aborted the request is not written', async () => {
    const { sink, events } = syncSink();
    const controller = new AbortController();
    const outcome = await runApplication(
      (_e, start) => {
        start(...OK);
        return (function* () {
          yield bytes('a');
          controller.abort();
          yield bytes('b');
        })();
      },
      environ({ 'tsgi.signal': controller.signal }),
      sink,
    );
    expect(events).toEqual([
      ['head', ...OK],
      ['write', 'a'],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, bytes: 1 });
  });

  test('a sink write that throws cuts the response off quietly and closes the body once', async () => {
    const { sink, events } = syncSink(Infinity, true);
    const { body, counts } = trackedBody([bytes('a'), bytes('b')]);
    const env = environ();
    const outcome = await runApplication(
      (_e, start) => {
        start(...OK);
        return body;
      },
      env,
      sink,
    );
    expect(events).toEqual([
      ['head', ...OK],
      ['end', false],
    ]);
    expect(outcome).toMatchObject({ ok: false, bytes: 0, headersSent: true });
    expect(counts).toEqual({ next: 1, return: 1, close: 1 });
    expect(env['tsgi.errors'].text).toBe('');
  });
});
