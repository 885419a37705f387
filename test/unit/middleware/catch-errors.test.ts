// catchErrors(): errors before the head become a 500 page, after it they cut the response off; aborts stay quiet.
import { describe, expect, it } from 'vitest';
import { catchErrors } from '../../../src/middleware/catch-errors.js';
import { validate } from '../../../src/middleware/validate.js';
import type { Application, Header } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const PLAIN: Header[] = [['Content-Type', 'text/plain']];
const PAGE = 'A server error occurred. The details are in the server error log.\n';

describe('catchErrors', () => {
  it('passes a working application through untouched', async () => {
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return [bytes('fine')];
    };
    const response = await callApp(catchErrors(app));
    expect(response.status).toBe('200 OK');
    expect(response.text).toBe('fine');
    expect(response.errors).toBe('');
  });

  it('turns an error thrown by the call into a short text/plain 500 and logs the stack', async () => {
    const app: Application = () => {
      throw new Error('database is down');
    };
    const response = await callApp(catchErrors(app), createTestEnviron({ PATH_INFO: '/orders' }));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.headers).toEqual([
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Content-Length', String(PAGE.length)],
    ]);
    expect(response.text).toBe(PAGE);
    expect(response.text).not.toContain('database');
    expect(response.outcome.ok).toBe(true);
    expect(response.errors).toMatch(
      /^tsgi: error in application \(GET \/orders\): Error: database is down\n {4}at /,
    );
  });

  it('replaces a head the application already started, through excInfo', async () => {
    const app: Application = async (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      throw new Error('after startResponse');
    };
    const response = await callApp(catchErrors(app));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.text).toBe(PAGE);
  });

  it('turns an error from the body before its first byte into the 500 page and closes the body once', async () => {
    let closes = 0;
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      const body = (async function* () {
        yield new Uint8Array(0);
        throw new Error('template failed');
      })();
      return Object.assign(body, { close: () => void (closes += 1) });
    };
    const response = await callApp(catchErrors(app));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.text).toBe(PAGE);
    expect(response.errors).toContain('Error: template failed');
    expect(closes).toBe(1);
  });

  it('re-throws an error after the first body byte, unlogged by itself, so the driver cuts off and logs once', async () => {
    const failure = new Error('failed mid-stream');
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return (function* () {
        yield bytes('partial');
        throw failure;
      })();
    };
    const response = await callApp(catchErrors(app));
    expect(response.status).toBe('200 OK');
    expect(response.text).toBe('partial');
    expect(response.outcome.ok).toBe(false);
    expect(response.outcome.error).toBe(failure);
    expect(response.errors).not.toContain('tsgi: error in application');
    expect(response.errors.split('failed mid-stream').length).toBe(2);
  });

  it('re-throws after a write() of body bytes, since the head may be on the wire', async () => {
    const failure = new Error('after write');
    const app: Application = async (_environ, startResponse) => {
      const write = startResponse('200 OK', PLAIN);
      await write(bytes('sent'));
      throw failure;
    };
    const response = await callApp(catchErrors(app));
    expect(response.text).toBe('sent');
    expect(response.outcome.error).toBe(failure);
    expect(response.outcome.ok).toBe(false);
  });

  it('shows the error and stack in the page with debug: true', async () => {
    const app: Application = () => {
      throw new TypeError('undefined is not a function');
    };
    const response = await callApp(catchErrors(app, { debug: true }));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.text).toMatch(
      /^500 Internal Server Error\n\nTypeError: undefined is not a function\n {4}at .*catch-errors\.test\.ts/,
    );
    expect(response.header('Content-Length')).toBe(String(response.body.length));
  });

  it.each([
    ['tsgi.signal aborted', new Error('gone'), true],
    ['EPIPE', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), false],
    ['ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), false],
  ])(
    'stays quiet when the client went away (%s): re-thrown, no page, no log line',
    async (_name, error, abort) => {
      const controller = new AbortController();
      if (abort) controller.abort();
      const environ = createTestEnviron({}, { signal: controller.signal });
      const app: Application = () => {
        throw error;
      };
      const heads: string[] = [];
      const outcome = await Promise.resolve(
        catchErrors(app)(environ, (status) => {
          heads.push(status);
          return async () => undefined;
        }),
      ).then(
        () => 'resolved',
        (reason: unknown) => reason,
      );
      expect(outcome).toBe(error);
      expect(heads).toEqual([]);
      expect((environ['tsgi.errors'] as unknown as { text: string }).text).toBe('');
    },
  );

  it("closes a hung application's body at once when the server calls close() during a pending next()", async () => {
    let closes = 0;
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      const hung = (async function* () {
        yield bytes('a');
        await new Promise(() => undefined); // never settles
      })();
      return Object.assign(hung, { close: () => void (closes += 1) });
    };
    const body = (await catchErrors(app)(
      createTestEnviron(),
      () => async () => undefined,
    )) as AsyncIterable<Uint8Array> & {
      close(): Promise<void>;
    };
    const iterator = body[Symbol.asyncIterator]();
    await iterator.next();
    void iterator.next(); // pending forever
    await body.close(); // must not wait behind it
    expect(closes).toBe(1);
  });

  it('leaves a return value that is not a body to the driver, which refuses it with its own message', async () => {
    const app = ((_environ: unknown, startResponse: (status: string, headers: Header[]) => unknown) => {
      startResponse('200 OK', PLAIN);
      return { not: 'iterable' };
    }) as unknown as Application;
    const response = await callApp(catchErrors(app));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.outcome.error).toMatchObject({ code: 'ERR_BODY_NOT_ITERABLE' });
  });

  it('turns a body whose iterator cannot even be opened into the 500 page', async () => {
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return {
        [Symbol.iterator](): Iterator<Uint8Array> {
          throw new Error('cannot open the file');
        },
      };
    };
    const response = await callApp(catchErrors(app));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.text).toBe(PAGE);
    expect(response.errors).toContain('Error: cannot open the file');
  });

  it('turns a validator breach inside it into the 500 page (catchErrors(validate(app)))', async () => {
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', [['Location', '/next\r\nSet-Cookie: x=1']]);
      return [];
    };
    const response = await callApp(catchErrors(validate(app)));
    expect(response.status).toBe('500 Internal Server Error');
    expect(response.headers.some(([name]) => name === 'Set-Cookie')).toBe(false);
    expect(response.errors).toContain('tsgi validate: [headers.value] the Location header value');
  });
});
