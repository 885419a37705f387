// validate(): the server-side rules (input, startResponse/write answers, body iteration and close), and streaming.
// A misbehaving server exists nowhere real, so the server side of these tests is driven by hand; every
// conforming case also runs through the real response driver (runApplication).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { validate } from '../../../src/middleware/validate.js';
import { RequestError, ValidationError } from '../../../src/shared/errors.js';
import { createInput } from '../../../src/shared/input.js';
import { runApplication } from '../../../src/shared/respond.js';
import type { Application, Body, Environ, Header, Input, StartResponse } from '../../../src/shared/types.js';
import { callApp, collectErrors, createTestEnviron } from '../../../src/testing/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (chunk: Uint8Array): string => new TextDecoder().decode(chunk);
const PLAIN: Header[] = [['Content-Type', 'text/plain']];

/** A server's startResponse that accepts everything and whose write resolves at once. */
const lenientStart: StartResponse = () => async () => undefined;

/** An input that hands out `chunks` one per read()/next(), whatever was asked: a broken server's input. */
function scriptedInput(chunks: readonly unknown[]): Input {
  const queue = [...chunks];
  const take = async (): Promise<Uint8Array> => (queue.shift() ?? new Uint8Array(0)) as Uint8Array;
  return {
    read: take,
    async *[Symbol.asyncIterator]() {
      while (queue.length > 0) yield await take();
    },
  };
}

/** A test environ whose input is `input` with CONTENT_LENGTH `length` (undefined: none). */
function environWithInput(input: Input, length: string | undefined, terminated = false): Environ {
  const environ = createTestEnviron({ 'tsgi.input': input, 'tsgi.input_terminated': terminated });
  if (length === undefined) delete environ.CONTENT_LENGTH;
  else environ.CONTENT_LENGTH = length;
  return environ;
}

/** An application that reads its body with `reader` and answers 200 with what it read. */
function reading(reader: (input: Input) => Promise<string>): Application {
  return async (environ, startResponse) => {
    const text = await reader(environ['tsgi.input']);
    startResponse('200 OK', PLAIN);
    return [bytes(text)];
  };
}

async function expectRejection(promise: Promise<unknown>, clause: string, message: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ValidationError);
  expect(error).toMatchObject({ code: clause, message: `tsgi validate: [${clause}] ${message}` });
}

describe('validate: tsgi.input', () => {
  it('passes read(size), read() and reads past the end through from the real input', async () => {
    const app = reading(async (input) => {
      const parts = [await input.read(2), await input.read(), await input.read(), await input.read(5)];
      return parts.map((part) => `[${decode(part)}]`).join('');
    });
    const response = await callApp(
      validate(app),
      createTestEnviron({ body: 'abcde', REQUEST_METHOD: 'POST' }),
    );
    expect(response.outcome.error).toBeUndefined();
    expect(response.text).toBe('[ab][cde][][]');
  });

  it('passes iteration of the real input through chunk by chunk', async () => {
    const app = reading(async (input) => {
      let text = '';
      for await (const chunk of input) text += decode(chunk);
      return text;
    });
    const response = await callApp(
      validate(app),
      createTestEnviron({ body: 'streamed', REQUEST_METHOD: 'PUT' }),
    );
    expect(response.text).toBe('streamed');
  });

  it("lets the real input's RequestError for a truncated body through untouched", async () => {
    async function* threeBytes(): AsyncIterable<Uint8Array> {
      yield bytes('abc');
    }
    const input = createInput(threeBytes(), { contentLength: 5 });
    const response = await callApp(
      validate(reading(async (i) => decode(await i.read()))),
      environWithInput(input, '5'),
    );
    expect(response.outcome.error).toBeInstanceOf(RequestError);
    expect(response.outcome.error).toMatchObject({ code: 'ERR_BODY_TRUNCATED' });
  });

  it.each<[string, (input: Input) => Promise<unknown>, string]>([
    [
      'a negative size',
      (input) => input.read(-1),
      'read(size) takes one non-negative integer, or nothing for the rest of the body',
    ],
    ['a fractional size', (input) => input.read(1.5), 'read(size) takes one non-negative integer'],
    [
      'two arguments',
      (input) => (input.read as (...args: number[]) => Promise<Uint8Array>)(1, 2),
      'read(size) takes one',
    ],
  ])('refuses read() with %s (input.read-size)', async (_name, call, message) => {
    const response = await callApp(
      validate(reading(async (input) => String(await call(input)))),
      createTestEnviron({ body: 'x' }),
    );
    expect(response.outcome.error).toMatchObject({ code: 'input.read-size' });
    expect((response.outcome.error as Error).message).toContain(message);
  });

  it('refuses a second read while the first is pending (input.one-reader)', async () => {
    const app = reading(async (input) => {
      const [a, b] = await Promise.all([input.read(1), input.read(1)]);
      return decode(a) + decode(b);
    });
    const response = await callApp(validate(app), createTestEnviron({ body: 'ab' }));
    expect(response.outcome.error).toMatchObject({
      code: 'input.one-reader',
      message:
        'tsgi validate: [input.one-reader] read() was called while another read of tsgi.input is pending: await it first',
    });
  });

  it.each<[string, unknown[], string | undefined, (input: Input) => Promise<unknown>, string, string]>([
    [
      'a string from read()',
      ['abc'],
      '3',
      (input) => input.read(),
      'input.bytes',
      `the server's tsgi.input read() produced "abc", not a Uint8Array`,
    ],
    [
      'more than read(size) asked',
      [bytes('abcde')],
      '5',
      (input) => input.read(2),
      'input.bytes',
      `the server's tsgi.input.read(2) returned 5 bytes, more than asked`,
    ],
    [
      'more than CONTENT_LENGTH',
      [bytes('abc'), bytes('def')],
      '5',
      async (input) => [await input.read(3), await input.read(3)],
      'input.content-length',
      `the server's tsgi.input produced 6 bytes but CONTENT_LENGTH is 5: stop there`,
    ],
    [
      'a body without CONTENT_LENGTH',
      [bytes('x')],
      undefined,
      (input) => input.read(),
      'input.content-length',
      `the server's tsgi.input produced 1 bytes but there is no CONTENT_LENGTH (no body): stop there`,
    ],
    [
      'an early end from read(size)',
      [bytes('abc')],
      '5',
      async (input) => [await input.read(3), await input.read(3)],
      'input.eof',
      `the server's tsgi.input ended after 3 of CONTENT_LENGTH 5 bytes: reject with RequestError ERR_BODY_TRUNCATED instead`,
    ],
    [
      'a partial read()',
      [bytes('abc')],
      '5',
      (input) => input.read(),
      'input.eof',
      `the server's tsgi.input.read() returned 3 bytes, not the rest (2 more)`,
    ],
    [
      'an early end of iteration',
      [bytes('abc')],
      '5',
      async (input) => {
        for await (const _ of input);
      },
      'input.eof',
      `the server's tsgi.input ended after 3 of CONTENT_LENGTH 5 bytes: reject with RequestError ERR_BODY_TRUNCATED instead`,
    ],
  ])('refuses a server input that gives %s', async (_name, chunks, length, use, clause, message) => {
    const environ = environWithInput(scriptedInput(chunks), length);
    await expectRejection((async () => use((await validateInput(environ)) as Input))(), clause, message);
  });

  it('accepts a body without CONTENT_LENGTH when tsgi.input_terminated is true', async () => {
    const environ = environWithInput(scriptedInput([bytes('chunked')]), undefined, true);
    const input = await validateInput(environ);
    expect(decode(await input.read())).toBe('chunked');
    expect((await input.read()).length).toBe(0);
  });
});

/** Calls the validated identity app with `environ` and returns the wrapped tsgi.input it saw. */
async function validateInput(environ: Environ): Promise<Input> {
  let seen: Input | undefined;
  await validate((env, startResponse) => {
    seen = env['tsgi.input'];
    startResponse('200 OK', PLAIN);
    return [];
  })(environ, lenientStart);
  return seen as Input;
}

describe("validate: the server's startResponse and write", () => {
  it('refuses a startResponse that returns no write function (start.write)', async () => {
    const app = validate(hello200());
    await expectRejection(
      Promise.resolve().then(() => app(createTestEnviron(), (() => undefined) as unknown as StartResponse)),
      'start.write',
      `the server's startResponse returned undefined`,
    );
  });

  it('refuses a write that returns no Promise (write.promise)', async () => {
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN)(bytes('x'));
      return [];
    };
    const syncWrite = (() => () => undefined) as unknown as StartResponse;
    await expectRejection(
      Promise.resolve().then(() => validate(app)(createTestEnviron(), syncWrite)),
      'write.promise',
      `the server's write() returned undefined, not a Promise`,
    );
  });

  it('refuses a server that re-throws excInfo before any body byte was sent (start.lazy-head)', async () => {
    const eager: StartResponse = (_status, _headers, excInfo) => {
      if (excInfo !== undefined) throw excInfo;
      return async () => undefined;
    };
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      startResponse('500 Internal Server Error', PLAIN, new Error('late failure'));
      return [];
    };
    await expectRejection(
      Promise.resolve().then(() => validate(app)(createTestEnviron(), eager)),
      'start.lazy-head',
      `the server re-threw excInfo although no body byte was sent yet: hold the head until the first non-empty chunk (PEP 3333)`,
    );
    // With Content-Length: 0 the server may send the head at once: its re-throw is then correct.
    const empty: Application = (_environ, startResponse) => {
      startResponse('200 OK', [...PLAIN, ['Content-Length', '0']]);
      startResponse('500 Internal Server Error', PLAIN, new Error('late failure'));
      return [];
    };
    await expect(Promise.resolve().then(() => validate(empty)(createTestEnviron(), eager))).rejects.toThrow(
      'late failure',
    );
  });

  it('refuses a server that accepts excInfo after the head went out (start.exc-info); the real driver re-throws', async () => {
    const failure = new Error('failed mid-body');
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return (function* () {
        yield bytes('first');
        startResponse('500 Internal Server Error', PLAIN, failure);
      })();
    };
    const body = await validate(app)(createTestEnviron(), lenientStart);
    const iterator = (body as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
    expect(decode((await iterator.next()).value as Uint8Array)).toBe('first');
    await expectRejection(
      iterator.next(),
      'start.exc-info',
      `the server accepted a new head after sending the first: it must re-throw excInfo`,
    );
    const response = await callApp(validate(app));
    expect(response.outcome.error).toBe(failure);
    expect(response.text).toBe('first');
    expect(response.outcome.ok).toBe(false);
  });
});

function hello200(): Application {
  return (_environ, startResponse) => {
    startResponse('200 OK', PLAIN);
    return [bytes('a'), bytes('b')];
  };
}

/** The validated body of `app`, produced against a lenient server. */
async function validatedBody(app: Application = hello200()): Promise<Body & AsyncIterable<Uint8Array>> {
  return (await validate(app)(createTestEnviron(), lenientStart)) as Body & AsyncIterable<Uint8Array>;
}

describe("validate: the server's iteration and close()", () => {
  it('refuses a second iteration of the body (body.iterate-once)', async () => {
    const body = await validatedBody();
    body[Symbol.asyncIterator]();
    expect(() => body[Symbol.asyncIterator]()).toThrow(
      'tsgi validate: [body.iterate-once] the server iterated the body a second time: iterate it once',
    );
  });

  it('refuses an iteration that starts after close() (body.iterate-once)', async () => {
    const body = await validatedBody();
    await body.close?.();
    expect(() => body[Symbol.asyncIterator]()).toThrow(
      'tsgi validate: [body.iterate-once] the server iterated the body after close()',
    );
  });

  it('refuses a next() while the previous one is pending (body.one-next)', async () => {
    const iterator = (await validatedBody())[Symbol.asyncIterator]();
    const first = iterator.next();
    await expectRejection(
      iterator.next(),
      'body.one-next',
      'the server called next() while the previous one was pending: await it',
    );
    expect(decode((await first).value as Uint8Array)).toBe('a');
  });

  it('refuses a next() after close() (body.after-close)', async () => {
    const body = await validatedBody();
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    await body.close?.();
    await expectRejection(
      iterator.next(),
      'body.after-close',
      'the server asked for a chunk after close(): stop iterating',
    );
  });

  it("refuses a second close() and calls the application's close() once (body.close-once)", async () => {
    let closes = 0;
    const body = await validatedBody((_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return Object.assign([bytes('a')], { close: () => void (closes += 1) });
    });
    await body.close?.();
    await expectRejection(
      Promise.resolve(body.close?.()),
      'body.close-once',
      `the server called the body's close() twice: call it once`,
    );
    expect(closes).toBe(1);
  });

  it("closes a hung application's body at once when the server calls close() during a pending next()", async () => {
    let closes = 0;
    const body = await validatedBody((_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      const hung = (async function* () {
        yield bytes('a');
        await new Promise(() => undefined); // never settles
      })();
      return Object.assign(hung, { close: () => void (closes += 1) });
    });
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    void iterator.next(); // pending forever
    await body.close?.(); // must not wait behind it
    expect(closes).toBe(1);
  });

  it('reports on tsgi.errors a body the server dropped without close() (body.close-once)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const errors = collectErrors();
    await (async () => {
      const environ = createTestEnviron({ 'tsgi.errors': errors, PATH_INFO: '/dropped' });
      const body = await validate(hello200())(environ, lenientStart);
      expect(body).toBeDefined(); // taken, never iterated nor closed, then dropped
    })();
    for (let round = 0; round < 50 && errors.text === ''; round += 1) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(errors.text).toBe(
      'tsgi validate: [body.close-once] the server dropped the body of GET /dropped without calling close()\n',
    );
  });
});

describe('validate: streaming', () => {
  it('passes each chunk to the server before the application produces the next (nothing buffered)', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return (async function* () {
        yield bytes('first');
        await gate; // opened only by the sink receiving "first"
        yield bytes('second');
      })();
    };
    const received: string[] = [];
    const outcome = await runApplication(validate(app), createTestEnviron(), {
      sendHead() {},
      write(chunk) {
        received.push(decode(chunk));
        release();
      },
      end() {},
    });
    expect(outcome.ok).toBe(true);
    expect(received).toEqual(['first', 'second']);
  });

  it('closes the application body once and reports nothing when the client goes away mid-body', async () => {
    const controller = new AbortController();
    let closes = 0;
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      const body = (async function* () {
        yield bytes('first');
        controller.abort();
        await new Promise(() => undefined); // never produces the second chunk
      })();
      return Object.assign(body, { close: () => void (closes += 1) });
    };
    const response = await callApp(validate(app), createTestEnviron({}, { signal: controller.signal }));
    expect(response.outcome.ok).toBe(false);
    expect(response.text).toBe('first');
    expect(closes).toBe(1);
    expect(response.errors).toBe('');
  });
});
