// validate(): the application-side rules and the environ rules, run through the real response driver.
import { describe, expect, it } from 'vitest';
import { validate } from '../../../src/middleware/validate.js';
import { ValidationError } from '../../../src/shared/errors.js';
import type { Application, Environ, Header, StartResponse } from '../../../src/shared/types.js';
import { callApp, createTestEnviron, type TestResponse } from '../../../src/testing/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const PLAIN: Header[] = [['Content-Type', 'text/plain']];

/** An application that sends `status` and `headers` and then `chunks`. */
function respond(status: string, headers: readonly Header[], ...chunks: Uint8Array[]): Application {
  return (_environ, startResponse) => {
    startResponse(status, headers);
    return chunks;
  };
}

const hello = respond('200 OK', PLAIN, bytes('hello'));

/** Runs `app` under the validator through the real driver. */
function run(app: Application, environ: Environ = createTestEnviron()): Promise<TestResponse> {
  return callApp(validate(app), environ);
}

/** Asserts that the response failed on rule `clause` with a message containing `message`. */
function expectBreach(response: TestResponse, clause: string, message: string): void {
  expect(response.outcome.error).toBeInstanceOf(ValidationError);
  expect(response.outcome.error).toMatchObject({ code: clause });
  expect((response.outcome.error as Error).message).toContain(`tsgi validate: [${clause}] ${message}`);
}

/** A test environ with `change` applied after it was built (so builder fix-ups cannot undo it). */
function environWith(change: (environ: Record<string, unknown>) => void): Environ {
  const environ = createTestEnviron();
  change(environ);
  return environ;
}

describe('validate: a conforming application', () => {
  it('passes status, headers and body through unchanged and writes nothing to tsgi.errors', async () => {
    const response = await run(hello);
    expect(response.status).toBe('200 OK');
    expect(response.headers).toEqual(PLAIN);
    expect(response.text).toBe('hello');
    expect(response.outcome.ok).toBe(true);
    expect(response.errors).toBe('');
  });

  it('accepts an async application with an async generator body and a write() before it', async () => {
    const app: Application = async (_environ, startResponse) => {
      const write = startResponse('200 OK', [...PLAIN, ['Content-Length', '6']]);
      await write(bytes('ab'));
      return (async function* () {
        yield bytes('cd');
        yield new Uint8Array(0);
        yield Buffer.from('ef');
      })();
    };
    const response = await run(app);
    expect(response.text).toBe('abcdef');
    expect(response.outcome.ok).toBe(true);
  });

  it('refuses something that is not a function at wrap time', () => {
    expect(() => validate(42 as unknown as Application)).toThrow(
      'tsgi validate: [call.app] validate() needs an application function, got number 42',
    );
  });
});

describe('validate: the return value', () => {
  it.each([
    ['a string', 'hello', 'the application returned "hello": return an array of Uint8Array, e.g. [bytes]'],
    ['a Uint8Array', bytes('hi'), 'the application returned a Uint8Array of 2 bytes: return an array'],
    [
      'undefined',
      undefined,
      'the application returned undefined: return an iterable of Uint8Array, [] for no body',
    ],
    ['a number', 7, 'the application returned number 7: return an iterable'],
  ])('refuses %s with call.return', async (_name, value, message) => {
    const app = ((_environ: Environ, startResponse: StartResponse) => {
      startResponse('200 OK', PLAIN);
      return value;
    }) as unknown as Application;
    const response = await run(app);
    expectBreach(response, 'call.return', message);
    expect(response.statusCode).toBe(500);
  });
});

describe('validate: the environ', () => {
  it.each<[string, (environ: Record<string, unknown>) => void, string, string]>([
    [
      'QUERY_STRING missing',
      (e) => delete e.QUERY_STRING,
      'environ.required',
      'the environ has no QUERY_STRING: set it, "" if empty',
    ],
    [
      'tsgi.input_terminated missing',
      (e) => delete e['tsgi.input_terminated'],
      'environ.required',
      'the environ has no tsgi.input_terminated: build the environ with buildEnviron()',
    ],
    [
      'a number CGI value',
      (e) => (e.HTTP_X_COUNT = 5),
      'environ.cgi-strings',
      'HTTP_X_COUNT must be a string, got number 5: convert it to a string',
    ],
    [
      'an undefined CGI value',
      (e) => (e.REMOTE_USER = undefined),
      'environ.cgi-strings',
      'REMOTE_USER must be a string, got undefined: delete the key instead of setting undefined',
    ],
    [
      'a UTF-8-decoded PATH_INFO',
      (e) => (e.PATH_INFO = '/日本'),
      'environ.latin1',
      'PATH_INFO has a character above U+00FF ("/日本"): decode request bytes as ISO-8859-1 (bytesToLatin1), not UTF-8',
    ],
    [
      'HTTP_CONTENT_LENGTH',
      (e) => (e.HTTP_CONTENT_LENGTH = '3'),
      'environ.http-content',
      'HTTP_CONTENT_LENGTH must not be in the environ: use CONTENT_LENGTH',
    ],
    [
      'HTTP_CONTENT_TYPE',
      (e) => (e.HTTP_CONTENT_TYPE = 'text/plain'),
      'environ.http-content',
      'HTTP_CONTENT_TYPE must not be in the environ: use CONTENT_TYPE',
    ],
    [
      'a method with a space',
      (e) => (e.REQUEST_METHOD = 'GE T'),
      'environ.request-method',
      'REQUEST_METHOD "GE T" is not an HTTP token (e.g. "GET")',
    ],
    [
      'SCRIPT_NAME "/"',
      (e) => (e.SCRIPT_NAME = '/'),
      'environ.script-name',
      `SCRIPT_NAME cannot be '/', make it '' and PATH_INFO '/'`,
    ],
    [
      'a relative SCRIPT_NAME',
      (e) => (e.SCRIPT_NAME = 'app'),
      'environ.script-name',
      `SCRIPT_NAME "app" must be empty or start with '/'`,
    ],
    [
      'a relative PATH_INFO',
      (e) => (e.PATH_INFO = 'x'),
      'environ.path-info',
      `PATH_INFO "x" must be empty or start with '/'`,
    ],
    [
      'PATH_INFO "*" for GET',
      (e) => (e.PATH_INFO = '*'),
      'environ.path-info',
      `PATH_INFO '*' is only for OPTIONS, not "GET"`,
    ],
    [
      'both paths empty',
      (e) => (e.PATH_INFO = ''),
      'environ.path-nonempty',
      `SCRIPT_NAME and PATH_INFO are both empty: make PATH_INFO '/'`,
    ],
    [
      'an empty SERVER_NAME',
      (e) => (e.SERVER_NAME = ''),
      'environ.server-name',
      `SERVER_NAME is empty: set the server's host name`,
    ],
    [
      'a named SERVER_PORT',
      (e) => (e.SERVER_PORT = 'http'),
      'environ.server-port',
      'SERVER_PORT "http" must be decimal digits, e.g. "80"',
    ],
    [
      'a bad SERVER_PROTOCOL',
      (e) => (e.SERVER_PROTOCOL = 'HTTP 1.1'),
      'environ.server-protocol',
      'SERVER_PROTOCOL "HTTP 1.1" must look like "HTTP/1.1"',
    ],
    [
      'an empty CONTENT_LENGTH',
      (e) => (e.CONTENT_LENGTH = ''),
      'environ.content-length',
      'CONTENT_LENGTH is empty: delete the key (no body)',
    ],
    [
      'a negative CONTENT_LENGTH',
      (e) => (e.CONTENT_LENGTH = '-1'),
      'environ.content-length',
      'CONTENT_LENGTH "-1" must be decimal digits, at most 2^53 - 1, or absent',
    ],
    [
      'a CONTENT_LENGTH beyond 2^53 - 1, which no body parser counts exactly',
      (e) => (e.CONTENT_LENGTH = '99999999999999999999'),
      'environ.content-length',
      'CONTENT_LENGTH "99999999999999999999" must be decimal digits, at most 2^53 - 1, or absent',
    ],
    [
      'tsgi.version [1, 1]',
      (e) => (e['tsgi.version'] = [1, 1]),
      'environ.version',
      'tsgi.version must be [1, 0], got an array of 2',
    ],
    [
      'tsgi.url_scheme "ftp"',
      (e) => (e['tsgi.url_scheme'] = 'ftp'),
      'environ.url-scheme',
      'tsgi.url_scheme must be "http" or "https", got "ftp"',
    ],
    [
      'an input without read',
      (e) => (e['tsgi.input'] = {}),
      'environ.input',
      'tsgi.input must have read(size?) and [Symbol.asyncIterator](): use createInput()',
    ],
    [
      'errors without write',
      (e) => (e['tsgi.errors'] = { log() {} }),
      'environ.errors',
      'tsgi.errors must have write(text), got an object (Object)',
    ],
    [
      'a string flag',
      (e) => (e['tsgi.run_once'] = 'yes'),
      'environ.flags',
      'tsgi.run_once must be true or false, got "yes"',
    ],
    [
      'a signal that is not an AbortSignal',
      (e) => (e['tsgi.signal'] = { aborted: false }),
      'environ.signal',
      'tsgi.signal must be an AbortSignal, got an object (Object)',
    ],
  ])('refuses %s', async (_name, change, clause, message) => {
    let called = false;
    const response = await run(() => {
      called = true;
      return [];
    }, environWith(change));
    expectBreach(response, clause, message);
    expect(called).toBe(false);
  });

  it('accepts PATH_INFO "*" for OPTIONS and a latin1 (non-UTF-8) byte in PATH_INFO', async () => {
    for (const change of [
      (e: Record<string, unknown>) => Object.assign(e, { REQUEST_METHOD: 'OPTIONS', PATH_INFO: '*' }),
      (e: Record<string, unknown>) => Object.assign(e, { PATH_INFO: '/caf\xe9\xff' }),
    ]) {
      const response = await run(hello, environWith(change));
      expect(response.outcome.error).toBeUndefined();
      expect(response.text).toBe('hello');
    }
  });

  it('refuses a third argument and a missing startResponse (call.arguments)', async () => {
    const app = validate(hello) as (...args: unknown[]) => Promise<unknown>;
    await expect(app(createTestEnviron(), () => undefined, 'extra')).rejects.toThrow(
      'tsgi validate: [call.arguments] an application takes (environ, startResponse); it was given 3 arguments',
    );
    await expect(app(createTestEnviron(), 'start')).rejects.toThrow(
      'tsgi validate: [call.arguments] startResponse must be a function, got "start"',
    );
    await expect(app(new Map(), () => undefined)).rejects.toThrow(
      'tsgi validate: [call.arguments] the environ must be a plain object, got an object (Map)',
    );
  });
});

describe('validate: tsgi.errors', () => {
  it('writes strings and bytes through and refuses anything else (errors.write)', async () => {
    const app: Application = (environ, startResponse) => {
      environ['tsgi.errors'].write('one\n');
      environ['tsgi.errors'].write(bytes('two\n'));
      (environ['tsgi.errors'].write as (value: unknown) => void)({ three: 3 });
      return respond('200 OK', PLAIN)(environ, startResponse);
    };
    const response = await run(app);
    expect(response.errors.startsWith('one\ntwo\n')).toBe(true);
    expectBreach(
      response,
      'errors.write',
      'tsgi.errors.write takes one string or Uint8Array, got an object (Object)',
    );
  });
});

describe('validate: startResponse, status and headers', () => {
  it.each<[string, unknown[], string, string]>([
    [
      'one argument',
      ['200 OK'],
      'start.arguments',
      'startResponse takes (status, headers, excInfo?), it was given 1 arguments',
    ],
    [
      'a numeric status',
      [200, PLAIN],
      'start.arguments',
      'the status must be a string like "200 OK", got number 200',
    ],
    [
      'CR LF in the status',
      ['200 OK\r\nX-Injected: 1', PLAIN],
      'status.chars',
      'the status "200 OK\\r\\nX-Injected: 1" has a control or non-ISO-8859-1 character: remove it',
    ],
    [
      'NUL in the status',
      ['200 O\0K', PLAIN],
      'status.chars',
      'the status "200 O\\u0000K" has a control or non-ISO-8859-1 character: remove it',
    ],
    [
      'no space after the code',
      ['200OK', PLAIN],
      'status.format',
      'the status "200OK" must be three digits, a space and a reason: "200 OK"',
    ],
    [
      'two digits',
      ['20 OK', PLAIN],
      'status.format',
      'the status "20 OK" must be three digits, a space and a reason: "200 OK"',
    ],
    [
      'a 1xx status',
      ['103 Early Hints', PLAIN],
      'status.format',
      `the status code 103 is out of range: use 200 to 599 (1xx is the server's business)`,
    ],
    ['a 600 status', ['600 Odd', PLAIN], 'status.format', 'the status code 600 is out of range'],
    [
      'headers that are an object',
      ['200 OK', { 'Content-Type': 'text/plain' }],
      'headers.list',
      'the headers must be an array of [name, value] pairs, got an object (Object)',
    ],
    [
      'a header triple',
      ['200 OK', [['A', 'b', 'c']]],
      'headers.list',
      'header 0 must be a [name, value] pair, got an array of 3',
    ],
    [
      'a numeric header value',
      ['200 OK', [['Content-Length', 5]]],
      'headers.list',
      'header 0 must be two strings, got ["Content-Length", number 5]',
    ],
    [
      'a name with a space',
      ['200 OK', [['X Y', '1']]],
      'headers.name',
      'the header name "X Y" is not an HTTP token: fix its spelling',
    ],
    [
      'a name with a colon',
      ['200 OK', [['X:Y', '1']]],
      'headers.name',
      'the header name "X:Y" is not an HTTP token',
    ],
    [
      'CR LF in a value',
      ['200 OK', [['Location', '/a\r\nSet-Cookie: stolen=1']]],
      'headers.value',
      'the Location header value "/a\\r\\nSet-Cookie: stolen=1" has a control or non-ISO-8859-1 character: encode it (e.g. encodeURIComponent)',
    ],
    [
      'NUL in a value',
      ['200 OK', [['X-A', 'a\0b']]],
      'headers.value',
      'the X-A header value "a\\u0000b" has a control',
    ],
    [
      'a character above U+00FF',
      ['200 OK', [['X-Price', '5 €']]],
      'headers.value',
      'the X-Price header value "5 €" has a control or non-ISO-8859-1 character',
    ],
    [
      'Connection',
      ['200 OK', [['Connection', 'close']]],
      'headers.hop-by-hop',
      'Connection is a hop-by-hop header: remove it, the server manages the connection',
    ],
    [
      'Transfer-Encoding',
      ['200 OK', [['transfer-encoding', 'chunked']]],
      'headers.hop-by-hop',
      'transfer-encoding is a hop-by-hop header',
    ],
    [
      'a Status header',
      ['200 OK', [['Status', '404 Not Found']]],
      'headers.status',
      'remove the Status header: pass the status to startResponse',
    ],
    [
      'a non-numeric Content-Length',
      ['200 OK', [['Content-Length', '5 ']]],
      'headers.content-length',
      'Content-Length "5 " must be decimal digits',
    ],
    [
      'a Content-Length beyond 2^53 - 1, which the response driver refuses',
      ['200 OK', [['Content-Length', '99999999999999999999']]],
      'headers.content-length',
      'Content-Length "99999999999999999999" must be decimal digits, at most 2^53 - 1',
    ],
    [
      'two Content-Lengths',
      [
        '200 OK',
        [
          ['Content-Length', '5'],
          ['content-length', '5'],
        ],
      ],
      'headers.content-length',
      'Content-Length appears 2 times: send it once',
    ],
    [
      'two Content-Types',
      ['200 OK', [...PLAIN, ...PLAIN]],
      'headers.content-type',
      'Content-Type appears 2 times: send it once',
    ],
    [
      'Content-Type on a 304',
      ['304 Not Modified', PLAIN],
      'headers.content-type',
      'a 304 response has no content: remove Content-Type',
    ],
    [
      'Content-Length on a 204',
      ['204 No Content', [['Content-Length', '0']]],
      'headers.no-content',
      'a 204 response has no content: remove Content-Length',
    ],
  ])('refuses %s', async (_name, args, clause, message) => {
    const app: Application = (_environ, startResponse) => {
      (startResponse as (...values: unknown[]) => unknown)(...args);
      return [bytes('body')];
    };
    const response = await run(app);
    expectBreach(response, clause, message);
    expect(response.statusCode).toBe(500);
    // Response splitting: nothing the application put in a status or header reaches the client.
    expect(response.headers.map(([name]) => name)).toEqual(['Content-Type', 'Content-Length']);
  });

  it('serves a status without a reason phrase but warns on tsgi.errors (status.reason)', async () => {
    const response = await run(respond('200', PLAIN, bytes('ok')));
    expect(response.outcome.error).toBeUndefined();
    expect(response.text).toBe('ok');
    expect(response.errors).toBe(
      'tsgi validate: warning [status.reason] the status "200" has no reason phrase: write e.g. "200 OK"\n',
    );
  });

  it('warns once when a body has no Content-Type (headers.content-type)', async () => {
    const response = await run(respond('200 OK', [], bytes('a'), bytes('b')));
    expect(response.text).toBe('ab');
    expect(response.errors).toBe(
      'tsgi validate: warning [headers.content-type] a 200 response with a body has no Content-Type: add one\n',
    );
  });

  it('refuses a second startResponse without excInfo and accepts one with it (start.once)', async () => {
    const twice: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      startResponse('404 Not Found', PLAIN);
      return [];
    };
    expectBreach(
      await run(twice),
      'start.once',
      'startResponse was already called: call it again only with excInfo, the error you handle',
    );
    const replaced: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      startResponse('503 Service Unavailable', PLAIN, new Error('database down'));
      return [bytes('later')];
    };
    const response = await run(replaced);
    expect(response.outcome.error).toBeUndefined();
    expect(response.status).toBe('503 Service Unavailable');
  });
  it('refuses startResponse after the body ended (start.once)', async () => {
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      return Object.assign([bytes('a')], {
        close: () => void startResponse('500 Internal Server Error', PLAIN, new Error('too late')),
      });
    };
    expectBreach(
      await run(app),
      'start.once',
      'startResponse was called after the body ended: the response is over',
    );
  });
});

describe('validate: write()', () => {
  it('refuses a string chunk and says how to encode it (write.bytes)', async () => {
    const app: Application = async (_environ, startResponse) => {
      const write = startResponse('200 OK', PLAIN);
      await (write as (value: unknown) => Promise<void>)('text');
      return [];
    };
    expectBreach(
      await run(app),
      'write.bytes',
      'write() takes one Uint8Array, got "text": encode it, e.g. new TextEncoder().encode(text)',
    );
  });

  it('refuses write() after the body ended (write.after-end)', async () => {
    const app: Application = (_environ, startResponse) => {
      const write = startResponse('200 OK', PLAIN);
      return Object.assign([bytes('a')], { close: () => write(bytes('late')) });
    };
    expectBreach(
      await run(app),
      'write.after-end',
      'write() was called after the body ended: the response is over',
    );
  });
});

describe('validate: the body', () => {
  it('refuses a string chunk and says how to encode it (body.bytes)', async () => {
    const app = respond('200 OK', PLAIN, 'text' as unknown as Uint8Array);
    expectBreach(
      await run(app),
      'body.bytes',
      'the body yielded "text", not a Uint8Array: encode it, e.g. new TextEncoder().encode(text)',
    );
  });

  it('refuses a chunk before startResponse and a body that ends without one (body.start-first)', async () => {
    const early: Application = (_environ, startResponse) =>
      (function* () {
        yield bytes('x');
        startResponse('200 OK', PLAIN);
      })();
    expectBreach(
      await run(early),
      'body.start-first',
      'the body yielded a chunk before startResponse was called: call it first',
    );
    expectBreach(
      await run(() => []),
      'body.start-first',
      'the body ended but startResponse was never called: call it before returning',
    );
  });

  it('accepts startResponse called from inside the body iteration', async () => {
    const app: Application = (_environ, startResponse) =>
      (async function* () {
        startResponse('201 Created', PLAIN);
        yield bytes('made');
      })();
    const response = await run(app);
    expect(response.status).toBe('201 Created');
    expect(response.text).toBe('made');
  });

  it('refuses body bytes with a 204 (body.no-content)', async () => {
    expectBreach(
      await run(respond('204 No Content', [], bytes('x'))),
      'body.no-content',
      'the body sent 1 bytes with a 204 status, which has no content',
    );
  });

  it('refuses more bytes than Content-Length, from the body or write() (body.content-length)', async () => {
    const response = await run(
      respond('200 OK', [...PLAIN, ['Content-Length', '3']], bytes('ab'), bytes('cd')),
    );
    expectBreach(
      response,
      'body.content-length',
      '4 body bytes (the last 2 from the body) exceed the Content-Length 3: fix the header or the body',
    );
    // The head went out with the first chunk; the extra bytes never did.
    expect(response.text).toBe('ab');
    expect(response.outcome.ok).toBe(false);
    const writer: Application = async (_environ, startResponse) => {
      const write = startResponse('200 OK', [...PLAIN, ['Content-Length', '1']]);
      await write(bytes('xy'));
      return [];
    };
    expectBreach(
      await run(writer),
      'body.content-length',
      '2 body bytes (the last 2 from write()) exceed the Content-Length 1: fix the header or the body',
    );
  });

  it('refuses fewer bytes than Content-Length, except for HEAD and 304 (body.content-length)', async () => {
    const short = respond('200 OK', [...PLAIN, ['Content-Length', '10']], bytes('abc'));
    expectBreach(
      await run(short),
      'body.content-length',
      'the body ended after 3 bytes but its Content-Length is 10: fix the header or the body',
    );
    const head = await run(
      respond('200 OK', [...PLAIN, ['Content-Length', '10']]),
      createTestEnviron({ REQUEST_METHOD: 'HEAD' }),
    );
    expect(head.outcome.error).toBeUndefined();
    const notModified = await run(respond('304 Not Modified', [['Content-Length', '10']]));
    expect(notModified.outcome.error).toBeUndefined();
  });

  it('calls the application body close() exactly once when its iteration throws', async () => {
    let closes = 0;
    const failure = new Error('broken generator');
    const app: Application = (_environ, startResponse) => {
      startResponse('200 OK', PLAIN);
      const body = (function* () {
        yield bytes('part');
        throw failure;
      })();
      return Object.assign(body, { close: () => void (closes += 1) });
    };
    const response = await run(app);
    expect(response.outcome.error).toBe(failure);
    expect(response.text).toBe('part');
    expect(closes).toBe(1);
  });
});
