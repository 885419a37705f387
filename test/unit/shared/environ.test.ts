// Tests for src/shared/environ.ts: the environ builder, its quirk order, CONTENT_LENGTH guard and URL helpers.
import { describe, expect, test } from 'vitest';
import { bytesToLatin1, latin1ToBytes } from '../../../src/shared/encoding.js';
import { applicationUri, buildEnviron, getVar, requestUrl } from '../../../src/shared/environ.js';
import { RequestError } from '../../../src/shared/errors.js';
import { createInput } from '../../../src/shared/input.js';
import type { ErrorStream } from '../../../src/shared/types.js';

const input = createInput(undefined);
const errors: ErrorStream = { write: () => undefined };

const BASE = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/x',
  QUERY_STRING: 'a=1',
  SERVER_NAME: 'example.org',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  REQUEST_URI: '/app/x?a=1',
};

function build(vars: Record<string, string | undefined>, options = {}) {
  return buildEnviron(vars, input, errors, options);
}

describe('buildEnviron', () => {
  test('copies every request variable and adds the tsgi keys', () => {
    const signal = new AbortController().signal;
    const environ = build(
      { ...BASE, HTTP_X_CUSTOM: 'v' },
      { multithread: true, multiprocess: true, runOnce: true, inputTerminated: true, signal },
    );
    expect(environ).toMatchObject({ ...BASE, HTTP_X_CUSTOM: 'v' });
    expect(environ['tsgi.version']).toEqual([1, 0]);
    expect(environ['tsgi.url_scheme']).toBe('http');
    expect(environ['tsgi.input']).toBe(input);
    expect(environ['tsgi.errors']).toBe(errors);
    expect(environ['tsgi.multithread']).toBe(true);
    expect(environ['tsgi.multiprocess']).toBe(true);
    expect(environ['tsgi.run_once']).toBe(true);
    expect(environ['tsgi.input_terminated']).toBe(true);
    expect(environ['tsgi.signal']).toBe(signal);
  });

  test('defaults the flags to false and gives each environ its own never-aborted signal', () => {
    const one = build(BASE);
    const two = build(BASE);
    expect(one['tsgi.multithread']).toBe(false);
    expect(one['tsgi.multiprocess']).toBe(false);
    expect(one['tsgi.run_once']).toBe(false);
    expect(one['tsgi.input_terminated']).toBe(false);
    expect(one['tsgi.signal'].aborted).toBe(false);
    expect(one['tsgi.signal']).not.toBe(two['tsgi.signal']);
  });

  test('calls a signal function only when tsgi.signal is read (a lazy signal, for FastCGI)', () => {
    const controller = new AbortController();
    let calls = 0;
    const environ = build(BASE, { signal: () => (calls++, controller.signal) });
    expect(calls).toBe(0);
    expect(Object.keys(environ)).toContain('tsgi.signal');
    expect(environ['tsgi.signal']).toBe(controller.signal);
    expect(calls).toBe(1);
  });

  test('gives every lazy tsgi.signal the same getter, which finds each request its own signal', () => {
    // One accessor for all environs keeps them fast V8 objects: a getter per request made each a dictionary
    // (issue 13: ~4 KiB and a hash lookup per key read).
    const one = new AbortController().signal;
    const two = new AbortController().signal;
    const first = build(BASE, { signal: () => one });
    const second = build(BASE, { signal: () => two });
    const getter = (environ: object) => Object.getOwnPropertyDescriptor(environ, 'tsgi.signal')?.get;
    expect(getter(first)).toBeTypeOf('function');
    expect(getter(first)).toBe(getter(second));
    expect(first['tsgi.signal']).toBe(one);
    expect(second['tsgi.signal']).toBe(two);
    expect({ ...second }['tsgi.signal']).toBe(two);
    // Middleware that derives an environ with Object.create still reaches the request's signal.
    expect((Object.create(first) as typeof first)['tsgi.signal']).toBe(one);
  });

  test('does not modify the variables it was given', () => {
    const vars = { REQUEST_METHOD: 'GET', SCRIPT_NAME: '/', CONTENT_LENGTH: '' };
    build(vars);
    expect(vars).toEqual({ REQUEST_METHOD: 'GET', SCRIPT_NAME: '/', CONTENT_LENGTH: '' });
  });

  test.each([[{}], [{ REQUEST_METHOD: '' }], [{ REQUEST_METHOD: undefined }]])(
    'refuses %j without REQUEST_METHOD with RequestError ERR_NO_METHOD',
    (vars) => {
      expect(() => build(vars)).toThrow(
        expect.objectContaining({ name: 'RequestError', code: 'ERR_NO_METHOD' }),
      );
    },
  );

  test.each(['-1', '1e3', ' 5', '5 ', '5,5', '0x10', '+5', '5.0', '99999999999999999999', 'abc'])(
    'refuses CONTENT_LENGTH %j with ERR_BAD_CONTENT_LENGTH (request smuggling guard)',
    (length) => {
      let thrown: unknown;
      try {
        build({ ...BASE, REQUEST_METHOD: 'POST', CONTENT_LENGTH: length });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RequestError);
      expect(thrown).toMatchObject({ code: 'ERR_BAD_CONTENT_LENGTH' });
    },
  );

  test.each(['0', '5', '007', '9007199254740991'])('accepts CONTENT_LENGTH %j as is', (length) => {
    expect(build({ ...BASE, CONTENT_LENGTH: length }).CONTENT_LENGTH).toBe(length);
  });

  test('sets QUERY_STRING to "" when the server left it out', () => {
    const { QUERY_STRING: _omitted, ...vars } = BASE;
    expect(build(vars).QUERY_STRING).toBe('');
  });

  test.each(['SCRIPT_NAME', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL'] as const)(
    'sets a missing %s to "" and reports it',
    (name) => {
      const notes: string[] = [];
      const vars: Record<string, string | undefined> = { ...BASE, [name]: undefined };
      expect(build(vars, { onStep: (note: string) => notes.push(note) })[name]).toBe('');
      expect(notes).toEqual([`requiredVars: ${name} missing, set to "" (RFC 3875 §4.1 requires it)`]);
    },
  );

  test.each([
    [{ HTTPS: 'on' }, 'https'],
    [{ HTTPS: 'YES' }, 'https'],
    [{ HTTPS: '1' }, 'https'],
    [{ REQUEST_SCHEME: 'https' }, 'https'],
    [{ HTTPS: 'off' }, 'http'],
    [{}, 'http'],
  ])('with %j the url_scheme is %s', (vars, scheme) => {
    expect(build({ ...BASE, ...vars })['tsgi.url_scheme']).toBe(scheme);
  });

  test('keeps HTTP_PROXY (the Proxy request header) under its own name: httpoxy is the CGI runner’s job', () => {
    expect(build({ ...BASE, HTTP_PROXY: 'http://evil:1' }).HTTP_PROXY).toBe('http://evil:1');
  });

  test('keeps a non-UTF-8 byte in PATH_INFO exactly', () => {
    const raw = Uint8Array.of(0x2f, 0xff, 0xfe, 0x41);
    const environ = build({ ...BASE, PATH_INFO: bytesToLatin1(raw) });
    expect([...latin1ToBytes(environ.PATH_INFO)]).toEqual([...raw]);
  });

  test('drops an empty CONTENT_TYPE and CONTENT_LENGTH with or without a note listener, keeping the key order', () => {
    const vars = { ...BASE, CONTENT_TYPE: '', CONTENT_LENGTH: '', HTTP_HOST: 'h' };
    const quiet = build(vars);
    const noted = build(vars, { onStep: () => undefined });
    expect(Object.hasOwn(quiet, 'CONTENT_TYPE') || Object.hasOwn(quiet, 'CONTENT_LENGTH')).toBe(false);
    expect(Object.keys(quiet)).toEqual(Object.keys(noted));
    expect(build({ ...vars, CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '0' })).toMatchObject({
      CONTENT_TYPE: 'text/plain',
      CONTENT_LENGTH: '0',
    });
  });

  test('is a plain object whatever its size: Object.prototype, own enumerable keys, JSON-able', () => {
    const headers = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`HTTP_X_${i}`, String(i)]));
    const environ = build({ ...BASE, ...headers }, { extra: { 'tsgi.fastcgi.role': 'responder' } });
    expect(Object.getPrototypeOf(environ)).toBe(Object.prototype);
    expect(environ.constructor).toBe(Object);
    expect(Object.keys(environ)).toEqual(
      expect.arrayContaining(['HTTP_X_39', 'tsgi.fastcgi.role', 'tsgi.version']),
    );
    expect(JSON.parse(JSON.stringify({ ...environ, 'tsgi.input': null }))).toMatchObject({ HTTP_X_7: '7' });
  });

  test('applies the default quirks in their documented order and reports each one', () => {
    const notes: string[] = [];
    const environ = build(
      {
        REQUEST_METHOD: 'GET',
        SCRIPT_NAME: '/',
        CONTENT_TYPE: '',
        CONTENT_LENGTH: '',
        HTTP_CONTENT_LENGTH: '10',
        SERVER_PROTOCOL: 'INCLUDED',
        SERVER_NAME: 'h',
        SERVER_PORT: '80',
        QUERY_STRING: 'q',
      },
      { onStep: (note: string) => notes.push(note) },
    );
    expect(notes.map((note) => note.split(':')[0])).toEqual([
      'dropEmptyContentVars',
      'dropHttpContentDuplicates',
      'protocolIncluded',
      'defaultPathInfo',
      'normalizeRootScriptName',
      'fillRequestUri',
    ]);
    expect(environ).toMatchObject({
      SCRIPT_NAME: '',
      PATH_INFO: '/',
      SERVER_PROTOCOL: 'HTTP/1.0',
      REQUEST_URI: '/?q',
    });
    expect('CONTENT_TYPE' in environ).toBe(false);
    expect('CONTENT_LENGTH' in environ).toBe(false);
    expect('HTTP_CONTENT_LENGTH' in environ).toBe(false);
  });

  test('reports nothing when the variables need no fix-up', () => {
    const notes: string[] = [];
    build(BASE, { onStep: (note: string) => notes.push(note) });
    expect(notes).toEqual([]);
  });

  test('adds extra keys without letting them replace a CGI variable or a core key', () => {
    const environ = build(BASE, {
      extra: { 'tsgi.fastcgi.role': 'responder', PATH_INFO: '/evil', 'tsgi.url_scheme': 'https' },
    });
    expect(environ['tsgi.fastcgi.role']).toBe('responder');
    expect(environ.PATH_INFO).toBe('/x');
    expect(environ['tsgi.url_scheme']).toBe('http');
  });

  test('keeps a variable named __proto__ as a plain key without touching the prototype', () => {
    const environ = build({ ...BASE, ['__proto__']: 'x' });
    expect(Object.getPrototypeOf(environ)).toBe(Object.prototype);
    expect(getVar(environ, '__proto__')).toBe('x');
  });
});

describe('getVar', () => {
  test.each([
    ['PATH_INFO', '/x'],
    ['HTTP_MISSING', undefined],
    ['tsgi.url_scheme', 'http'],
    ['tsgi.run_once', undefined],
    ['toString', undefined],
  ])('getVar(environ, %j) is %j', (name, expected) => {
    expect(getVar(build(BASE), name)).toBe(expected);
  });
});

describe('requestUrl and applicationUri', () => {
  test.each([
    [{}, 'http://example.org/app/x?a=1', 'http://example.org/app'],
    [{ HTTP_HOST: 'h.test:8080' }, 'http://h.test:8080/app/x?a=1', 'http://h.test:8080/app'],
    [{ SERVER_PORT: '8080' }, 'http://example.org:8080/app/x?a=1', 'http://example.org:8080/app'],
    [{ HTTPS: 'on', SERVER_PORT: '443' }, 'https://example.org/app/x?a=1', 'https://example.org/app'],
    [{ HTTPS: 'on', SERVER_PORT: '80' }, 'https://example.org:80/app/x?a=1', 'https://example.org:80/app'],
    [{ QUERY_STRING: '' }, 'http://example.org/app/x', 'http://example.org/app'],
    [
      { SCRIPT_NAME: '', PATH_INFO: '/caf\u00c3\u00a9 \u00ff' },
      'http://example.org/caf%C3%A9%20%FF?a=1',
      'http://example.org/',
    ],
  ])('with %j the URL is %s and the application URI %s', (vars, url, appUri) => {
    const environ = build({ ...BASE, ...vars });
    expect(requestUrl(environ)).toBe(url);
    expect(applicationUri(environ)).toBe(appUri);
  });
});
