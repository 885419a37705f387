// Tests for src/shared/encoding.ts: latin1 round trips, the UTF-8 view, path quoting.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  bytesToLatin1,
  isLatin1,
  latin1ToBytes,
  quotePath,
  unquoteToLatin1,
  utf8View,
} from '../../../src/shared/encoding.js';

describe('bytesToLatin1 and latin1ToBytes', () => {
  test('every byte value 0x00–0xFF round-trips exactly', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = bytesToLatin1(all);
    expect(text.length).toBe(256);
    expect([...text].map((c) => c.charCodeAt(0))).toEqual([...all]);
    expect([...latin1ToBytes(text)]).toEqual([...all]);
  });

  test('a non-UTF-8 byte 0xFF survives as U+00FF and comes back as 0xFF', () => {
    const text = bytesToLatin1(Uint8Array.of(0x2f, 0x61, 0xff));
    expect(text).toBe('/a\u00ff');
    expect([...latin1ToBytes(text)]).toEqual([0x2f, 0x61, 0xff]);
  });

  test('any byte sequence round-trips through a latin1 string unchanged', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (data) => {
        expect(latin1ToBytes(bytesToLatin1(data))).toEqual(Buffer.from(data));
      }),
    );
  });

  test('a view into a larger buffer decodes only its own bytes', () => {
    const backing = Uint8Array.of(0x41, 0x42, 0x43, 0x44);
    expect(bytesToLatin1(backing.subarray(1, 3))).toBe('BC');
  });
});

describe('utf8View', () => {
  test.each([
    ['/caf\u00c3\u00a9', '/café'],
    ['plain', 'plain'],
    ['\u00ff', '\ufffd'],
  ])('the latin1 string %j reads as %j in UTF-8', (latin1, expected) => {
    expect(utf8View(latin1)).toBe(expected);
  });
});

describe('isLatin1', () => {
  test.each([
    ['abc\u00ff', true],
    ['', true],
    ['caf\u00e9', true],
    ['\u0100', false],
    ['😀', false],
  ])('%j is latin1: %s', (text, expected) => {
    expect(isLatin1(text)).toBe(expected);
  });
});

describe('quotePath', () => {
  test.each([
    ['/a/b', '/a/b'],
    ['/a b', '/a%20b'],
    ['/caf\u00c3\u00a9', '/caf%C3%A9'],
    ['/\u00ff', '/%FF'],
    ['/a?b#c%', '/a%3Fb%23c%25'],
    ['/~user/x-y_z.txt', '/~user/x-y_z.txt'],
  ])('quotes %j as %j', (path, expected) => {
    expect(quotePath(path)).toBe(expected);
  });

  test('refuses a char above U+00FF because it did not come from bytes', () => {
    expect(() => quotePath('/\u0100')).toThrow(TypeError);
  });
});

describe('unquoteToLatin1', () => {
  test.each([
    ['/a%20b', '/a b'],
    ['/%FF%2f', '/\u00ff/'],
    ['/caf%C3%A9', '/caf\u00c3\u00a9'],
    ['/100%', '/100%'],
    ['/%zz', '/%zz'],
  ])('decodes %j byte by byte to %j', (text, expected) => {
    expect(unquoteToLatin1(text)).toBe(expected);
  });
});
