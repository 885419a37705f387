// Tests for src/shared/headers.ts: status parsing, header validation (response splitting) and the CGI head.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ValidationError } from '../../../src/shared/errors.js';
import {
  formatCgiHead,
  HOP_BY_HOP_HEADERS,
  isFieldValue,
  isToken,
  normalizeStatus,
  parseStatus,
  validateHeaders,
} from '../../../src/shared/headers.js';

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).code;
  }
  return undefined;
}

describe('isToken', () => {
  test.each([
    ['Content-Type', true],
    ["X-!#$%&'*+.^_`|~", true],
    ['GET', true],
    ['', false],
    ['X A', false],
    ['X:A', false],
    ['X\r\n', false],
    ['caf\u00e9', false],
  ])('%j is a token: %s', (text, expected) => {
    expect(isToken(text)).toBe(expected);
  });
});

describe('isFieldValue', () => {
  test.each([
    ['text/html; charset=utf-8', true],
    ['a\tb c', true],
    ['', true],
    ['caf\u00e9', true],
    ['x\r\nSet-Cookie: a=1', false],
    ['x\n', false],
    ['x\0', false],
    ['x\x7f', false],
    ['\u20ac', false],
  ])('%j may stand in a header value: %s', (text, expected) => {
    expect(isFieldValue(text)).toBe(expected);
  });
});

describe('parseStatus', () => {
  test.each([
    ['200 OK', 200],
    ['404 Not Found', 404],
    ['100 Continue', 100],
    ['999 Custom', 999],
    ['200 ', 200],
    ['200', 200],
    ['418 I\u2019m a teapot'.replace('\u2019', "'"), 418],
    ['500 Caf\u00e9\tbroken', 500],
  ])('accepts %j as %i', (status, code) => {
    expect(parseStatus(status)).toBe(code);
  });

  test.each([
    ['200 OK\r\nSet-Cookie: x=1'],
    ['200 OK\n'],
    ['200 OK\0'],
    ['200 \x7f'],
    ['099 Low'],
    ['1000 Big'],
    ['20 Short'],
    ['200OK'],
    [' 200 OK'],
    ['abc OK'],
    [''],
    ['200 \u0100'],
  ])('refuses %j with ERR_INVALID_STATUS', (status) => {
    expect(codeOf(() => parseStatus(status))).toBe('ERR_INVALID_STATUS');
  });

  test.each([[200], [null], [undefined]])('refuses a non-string status %j', (status) => {
    expect(codeOf(() => parseStatus(status))).toBe('ERR_INVALID_STATUS');
  });
});

describe('normalizeStatus', () => {
  test.each([
    ['200', '200 OK'],
    ['404', '404 Not Found'],
    ['299', '299 Unknown'],
    ['200 Fine', '200 Fine'],
    ['200 ', '200 '],
  ])('%j is sent as %j', (status, expected) => {
    expect(normalizeStatus(status)).toBe(expected);
  });
});

describe('validateHeaders', () => {
  test('accepts RFC 9110 tokens and field values, including obs-text and tabs', () => {
    expect(() =>
      validateHeaders([
        ['Content-Type', 'text/plain; charset=utf-8'],
        ["X-Odd!#$%&'*+.^_`|~", 'a\tb caf\u00e9'],
        ['Set-Cookie', ''],
      ]),
    ).not.toThrow();
  });

  test.each([
    [[['X-A', 'ok\r\nSet-Cookie: evil=1']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 'ok\nInjected: 1']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 'ok\rx']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 'nul\0']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 'bell\x07']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 'del\x7f']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 'wide\u0100']], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A', 5]], 'ERR_INVALID_HEADER_VALUE'],
    [[['X-A\r\nInjected', 'v']], 'ERR_INVALID_HEADER_NAME'],
    [[['X A', 'v']], 'ERR_INVALID_HEADER_NAME'],
    [[['X:A', 'v']], 'ERR_INVALID_HEADER_NAME'],
    [[['', 'v']], 'ERR_INVALID_HEADER_NAME'],
    [[[5, 'v']], 'ERR_INVALID_HEADER_NAME'],
    [[['Status', '200 OK']], 'ERR_STATUS_HEADER'],
    [[['X-A']], 'ERR_INVALID_HEADERS'],
    [[['X-A', 'v', 'w']], 'ERR_INVALID_HEADERS'],
    [['X-A: v'], 'ERR_INVALID_HEADERS'],
    [{ 'X-A': 'v' }, 'ERR_INVALID_HEADERS'],
  ])('refuses %j with %s', (headers, code) => {
    expect(codeOf(() => validateHeaders(headers))).toBe(code);
  });

  test.each([
    'Connection',
    'Keep-Alive',
    'Transfer-Encoding',
    'Upgrade',
    'TE',
    'Trailer',
    'Proxy-Authenticate',
    'Proxy-Authorization',
    'connection',
    'TRANSFER-ENCODING',
  ])('refuses the hop-by-hop header %s', (name) => {
    expect(codeOf(() => validateHeaders([[name, 'x']]))).toBe('ERR_HOP_BY_HOP_HEADER');
  });

  test('names the fix in its message', () => {
    expect(() => validateHeaders([['Connection', 'close']])).toThrow(/remove it/);
    expect(() => validateHeaders([['X', 'a\nb']])).toThrow(/without CR, LF, NUL/);
  });

  test('HOP_BY_HOP_HEADERS holds exactly the eight connection-level names, lower case', () => {
    expect([...HOP_BY_HOP_HEADERS].sort()).toEqual([
      'connection',
      'keep-alive',
      'proxy-authenticate',
      'proxy-authorization',
      'te',
      'trailer',
      'transfer-encoding',
      'upgrade',
    ]);
  });
});

describe('validateHeaders and formatCgiHead together (response splitting)', () => {
  test('for any header strings, either validation refuses them or the head has exactly one line per header', () => {
    // Mostly harmless characters, with the dangerous ones often enough that both outcomes are common.
    const unit = fc.constantFrom('a', 'Z', '-', ' ', ':', '\t', '\r', '\n', '\0', '\u00e9', '\u0100', '\x7f');
    const text = fc.string({ unit, maxLength: 6 });
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text), { maxLength: 4 }), (headers) => {
        try {
          validateHeaders(headers);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          return;
        }
        const head = Buffer.from(formatCgiHead('200 OK', headers)).toString('latin1');
        const lines = head.split('\r\n');
        expect(lines).toHaveLength(headers.length + 3);
        expect(lines.slice(0, -2).every((line) => !/[\r\n\0]/.test(line))).toBe(true);
        expect(lines.slice(1, -2).map((line) => line.split(': ', 1)[0])).toEqual(
          headers.map(([name]) => name),
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('formatCgiHead', () => {
  test.each([
    ['200 OK', [['Content-Type', 'text/plain']], 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n'],
    ['204 No Content', [], 'Status: 204 No Content\r\n\r\n'],
    [
      '302 Found',
      [
        ['Location', '/x'],
        ['Set-Cookie', 'a=1'],
        ['Set-Cookie', 'b=2'],
      ],
      'Status: 302 Found\r\nLocation: /x\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n',
    ],
    ['200 OK', [['X-Empty', '']], 'Status: 200 OK\r\nX-Empty: \r\n\r\n'],
  ] as const)('writes %j with %j as exact bytes', (status, headers, expected) => {
    expect(Buffer.from(formatCgiHead(status, headers)).toString('latin1')).toBe(expected);
  });

  test('writes a latin1 value as single bytes, 0xE9 for é', () => {
    const head = formatCgiHead('200 OK', [['X-Name', 'caf\u00e9']]);
    expect([...head.subarray(24, 28)]).toEqual([0x63, 0x61, 0x66, 0xe9]);
    expect(head.byteLength).toBe('Status: 200 OK\r\nX-Name: café\r\n\r\n'.length);
  });
});
