// The small rules written once in src/shared (issue 9): each has one test here, and every user imports it.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CLIENT_GONE_CODES, isClientGoneError } from '../../../src/shared/client-gone.js';
import { drainedOrClosed } from '../../../src/shared/drained.js';
import { addHeaderVariable } from '../../../src/shared/header-vars.js';
import { isFinalStatus } from '../../../src/shared/headers.js';
import { plainAddress } from '../../../src/shared/peer-address.js';
import { isThenable } from '../../../src/shared/thenable.js';
import { validate } from '../../../src/middleware/validate.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

describe('plainAddress', () => {
  it.each([
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['::ffff:7f00:1', '::ffff:7f00:1'],
    ['2001:db8::1', '2001:db8::1'],
  ])('reports %s as %s', (address, plain) => {
    expect(plainAddress(address)).toBe(plain);
  });

  it('keeps an unknown address unknown', () => {
    expect(plainAddress(undefined)).toBeUndefined();
  });
});

describe('isClientGoneError', () => {
  it.each([...CLIENT_GONE_CODES])('knows %s as the peer going away', (code) => {
    expect(isClientGoneError(Object.assign(new Error('gone'), { code }))).toBe(true);
  });

  it('knows an AbortError, and nothing else', () => {
    expect(isClientGoneError(new DOMException('stop', 'AbortError'))).toBe(true);
    expect(isClientGoneError(Object.assign(new Error('no'), { code: 'ENOENT' }))).toBe(false);
    expect(isClientGoneError(new Error('plain'))).toBe(false);
    expect(isClientGoneError('EPIPE')).toBe(false);
    expect(isClientGoneError(null)).toBe(false);
  });
});

describe('isThenable', () => {
  it('is true for what await would wait for, false for the rest', () => {
    expect(isThenable(Promise.resolve(1))).toBe(true);
    expect(isThenable({ then: () => undefined })).toBe(true);
    expect(isThenable(Object.assign(() => undefined, { then: () => undefined }))).toBe(true);
    for (const value of [undefined, null, 0, 'then', {}, [], { then: 1 }])
      expect(isThenable(value)).toBe(false);
  });
});

describe('drainedOrClosed', () => {
  it.each(['drain', 'close', 'error'])('resolves on %s and leaves no listener behind', async (event) => {
    const stream = new EventEmitter();
    const waiting = drainedOrClosed(stream);
    stream.emit(event, new Error('x'));
    await waiting;
    expect(stream.eventNames()).toEqual([]);
  });

  it('waits for the event it is given instead of drain', async () => {
    const stream = new EventEmitter();
    let done = false;
    const waiting = drainedOrClosed(stream, 'finish').then(() => (done = true));
    stream.emit('drain');
    await Promise.resolve();
    expect(done).toBe(false);
    stream.emit('finish');
    await waiting;
    expect(done).toBe(true);
  });
});

describe('isFinalStatus: the driver and the validator draw the same line', () => {
  it.each([
    [199, false],
    [200, true],
    [599, true],
    [600, false],
    [999, false],
  ])('%i is final: %s', (code, final) => {
    expect(isFinalStatus(code)).toBe(final);
  });

  it.each(['600 Custom', '999 Beyond', '101 Switching Protocols'])(
    'the driver answers %s with a 500 and the validator names the rule',
    async (status) => {
      const app = (_environ: unknown, startResponse: (status: string, headers: []) => unknown) => {
        startResponse(status, []);
        return [];
      };
      const served = await callApp(app, createTestEnviron());
      expect(served.statusCode).toBe(500);
      const validated = await callApp(validate(app), createTestEnviron());
      expect(validated.statusCode).toBe(500);
      expect(validated.errors).toMatch(/status\.format/);
    },
  );
});

describe('addHeaderVariable: node:http and fetch map headers the same way', () => {
  it('joins repeated fields with ", ", Cookie with "; ", and skips the content pair and names with "_"', () => {
    const vars: Record<string, string | undefined> = {};
    for (const [name, value] of [
      ['Accept', 'a'],
      ['accept', 'b'],
      ['Cookie', 'x=1'],
      ['cookie', 'y=2'],
      ['Content-Type', 'text/plain'],
      ['content-length', '3'],
      ['X_User', 'forged'],
      ['X-User', 'real'],
    ] as const)
      addHeaderVariable(vars, name, value);
    expect(vars).toEqual({ HTTP_ACCEPT: 'a, b', HTTP_COOKIE: 'x=1; y=2', HTTP_X_USER: 'real' });
  });
});
