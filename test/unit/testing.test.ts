// Tests for src/testing/index.ts (tsgi/testing): the test environ defaults and callApp's collected response.
import { describe, expect, test } from 'vitest';
import type { Application } from '../../src/shared/types.js';
import { callApp, collectErrors, createTestEnviron } from '../../src/testing/index.js';

describe('createTestEnviron', () => {
  test('describes GET / on http://localhost, as wsgiref setup_testing_defaults does', () => {
    const environ = createTestEnviron();
    expect(environ).toMatchObject({
      REQUEST_METHOD: 'GET',
      SCRIPT_NAME: '',
      PATH_INFO: '/',
      QUERY_STRING: '',
      SERVER_NAME: 'localhost',
      SERVER_PORT: '80',
      SERVER_PROTOCOL: 'HTTP/1.1',
      HTTP_HOST: 'localhost',
      REQUEST_URI: '/',
      'tsgi.url_scheme': 'http',
      'tsgi.version': [1, 0],
    });
    expect('CONTENT_LENGTH' in environ).toBe(false);
  });

  test('string overrides are CGI variables and go through the same quirks as a server’s', () => {
    const environ = createTestEnviron({ PATH_INFO: '/users', QUERY_STRING: 'id=7', SCRIPT_NAME: '/' });
    expect(environ).toMatchObject({ SCRIPT_NAME: '', PATH_INFO: '//users', REQUEST_URI: '//users?id=7' });
  });

  test('an undefined override removes a default', () => {
    expect('HTTP_HOST' in createTestEnviron({ HTTP_HOST: undefined })).toBe(false);
  });

  test('HTTPS on gives https and port 443', () => {
    expect(createTestEnviron({ HTTPS: 'on' })).toMatchObject({
      'tsgi.url_scheme': 'https',
      SERVER_PORT: '443',
    });
  });

  test('a body sets CONTENT_LENGTH in bytes and the input yields it', async () => {
    const environ = createTestEnviron({ REQUEST_METHOD: 'POST', body: 'café' });
    expect(environ.CONTENT_LENGTH).toBe('5');
    expect(new TextDecoder().decode(await environ['tsgi.input'].read())).toBe('café');
  });

  test('a CONTENT_LENGTH longer than the body gives a truncated input (a lying client)', async () => {
    const environ = createTestEnviron({ body: 'abc', CONTENT_LENGTH: '10' });
    await expect(environ['tsgi.input'].read()).rejects.toMatchObject({ code: 'ERR_BODY_TRUNCATED' });
  });

  test('a body without CONTENT_LENGTH is read to its end when the environ says the input is terminated', async () => {
    const environ = createTestEnviron(
      { REQUEST_METHOD: 'POST', body: 'chunked upload', CONTENT_LENGTH: undefined },
      { inputTerminated: true },
    );
    expect('CONTENT_LENGTH' in environ).toBe(false);
    expect(environ['tsgi.input_terminated']).toBe(true);
    expect(new TextDecoder().decode(await environ['tsgi.input'].read())).toBe('chunked upload');
  });

  test('a malformed CONTENT_LENGTH override is refused as a server would refuse it', () => {
    expect(() => createTestEnviron({ body: 'x', CONTENT_LENGTH: '1e3' })).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_CONTENT_LENGTH' }),
    );
  });

  test('tsgi.* overrides replace the built keys', () => {
    const errors = collectErrors();
    const signal = new AbortController().signal;
    const environ = createTestEnviron({
      'tsgi.errors': errors,
      'tsgi.signal': signal,
      'tsgi.run_once': true,
    });
    expect(environ['tsgi.errors']).toBe(errors);
    expect(environ['tsgi.signal']).toBe(signal);
    expect(environ['tsgi.run_once']).toBe(true);
  });

  test('without REQUEST_METHOD it throws like buildEnviron', () => {
    expect(() => createTestEnviron({ REQUEST_METHOD: undefined })).toThrow(/REQUEST_METHOD/);
  });
});

describe('callApp', () => {
  const hello: Application = (environ, startResponse) => {
    startResponse('200 OK', [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['X-Path', environ.PATH_INFO],
    ]);
    return [new TextEncoder().encode('héllo')];
  };

  test('collects status, headers and body of a default GET /', async () => {
    const response = await callApp(hello);
    expect(response.status).toBe('200 OK');
    expect(response.statusCode).toBe(200);
    expect(response.headers).toEqual([
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['X-Path', '/'],
    ]);
    expect([...response.body]).toEqual([...new TextEncoder().encode('héllo')]);
    expect(response.text).toBe('héllo');
    expect(response.ended).toBe(true);
    expect(response.outcome).toEqual({ ok: true, status: 200, bytes: 6, headersSent: true });
    expect(response.header('content-type')).toBe('text/plain; charset=utf-8');
    expect(response.header('x-missing')).toBeUndefined();
  });

  test('echoes a POST body through tsgi.input', async () => {
    const echo: Application = async (environ, startResponse) => {
      startResponse('200 OK', []);
      return [await environ['tsgi.input'].read()];
    };
    const response = await callApp(echo, createTestEnviron({ REQUEST_METHOD: 'POST', body: 'payload' }));
    expect(response.text).toBe('payload');
  });

  test('reports an application error as the driver’s 500, with the log in errors', async () => {
    const response = await callApp(() => {
      throw new Error('boom');
    });
    expect(response.statusCode).toBe(500);
    expect(response.text).toBe('Internal Server Error\n');
    expect(response.errors).toContain('Error: boom');
    expect(response.outcome.error).toBeInstanceOf(Error);
  });

  test('a response cut off after its head reports ended false', async () => {
    const response = await callApp((_environ, startResponse) =>
      (function* () {
        startResponse('200 OK', []);
        yield new Uint8Array([1]);
        throw new Error('mid-stream');
      })(),
    );
    expect(response.ended).toBe(false);
    expect([...response.body]).toEqual([1]);
  });

  test('keeps each chunk as it was sent even if the app reuses its buffer', async () => {
    const response = await callApp((_environ, startResponse) =>
      (async function* () {
        startResponse('200 OK', []);
        const buffer = new Uint8Array(1);
        for (const byte of [1, 2, 3]) {
          buffer[0] = byte;
          yield buffer;
        }
      })(),
    );
    expect([...response.body]).toEqual([1, 2, 3]);
  });
});
