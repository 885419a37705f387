// Tests for src/shared/log-line.ts: the escaping and the timestamp both access logs write.
import { describe, expect, it } from 'vitest';
import { escapeLogText, formatLogTime } from '../../../src/shared/log-line.js';

describe('escapeLogText', () => {
  it('returns printable ASCII unchanged', () => {
    expect(escapeLogText('GET /a?b=1 HTTP/1.1')).toBe('GET /a?b=1 HTTP/1.1');
  });

  it('escapes quotes, backslashes, controls, DEL, latin1 and wider chars as Apache does', () => {
    expect(escapeLogText('"\\\n\x7f\u00e9\u20ac')).toBe('\\"\\\\\\x0a\\x7f\\xe9\\u20ac');
  });

  it('escapes every occurrence, not only the first', () => {
    expect(escapeLogText('a\nb\nc')).toBe('a\\x0ab\\x0ac');
  });
});

describe('formatLogTime', () => {
  it('pads day, hours, minutes and seconds to two digits', () => {
    expect(formatLogTime(new Date(Date.UTC(2026, 11, 1, 0, 0, 9)))).toBe('01/Dec/2026:00:00:09 +0000');
  });

  it('writes the time in UTC whatever the local zone', () => {
    expect(formatLogTime(new Date('2026-06-30T23:59:59-05:00'))).toBe('01/Jul/2026:04:59:59 +0000');
  });
});
