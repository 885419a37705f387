// --scripts ROOT / --cgi-bin DIR on tsgi fastcgi and tsgi serve: one of APP and the two directories, one line each.
import { describe, expect, it } from 'vitest';
import { describeTarget, resolveApp } from '../../../src/cli/script-flags.js';

const HINT = 'usage';

describe('script directory flags', () => {
  it.each([
    [undefined, {}, /missing APP \(or --scripts ROOT, or --cgi-bin DIR\)/],
    ['app.ts', { scripts: '/srv' }, /give one of APP, --scripts ROOT and --cgi-bin DIR/],
    [undefined, { scripts: '/a', 'cgi-bin': '/b' }, /give one of/],
    ['app.ts', { revalidate: '10' }, /--revalidate and --max-scripts go with --scripts ROOT/],
    [undefined, { 'cgi-bin': '/b', revalidate: '10' }, /go with --scripts ROOT/],
    [undefined, { scripts: '/a', 'cgi-timeout': '3' }, /--cgi-timeout goes with --cgi-bin DIR/],
    [
      undefined,
      { scripts: '/a', revalidate: 'soon' },
      /--revalidate wants a whole number of at least 0, got 'soon'/,
    ],
    [undefined, { scripts: '/a', 'max-scripts': '0' }, /--max-scripts wants a whole number of at least 1/],
    [undefined, { 'cgi-bin': '/b', 'cgi-timeout': '-1' }, /--cgi-timeout wants seconds/],
  ])('refuses %s %o with one line', (spec, values, message) => {
    expect(() => describeTarget(spec, values, HINT)).toThrow(message);
  });

  it('says what is served', () => {
    expect(describeTarget(undefined, { scripts: '/srv/www', revalidate: '0' }, HINT)).toBe(
      'scripts in /srv/www',
    );
    expect(describeTarget(undefined, { 'cgi-bin': '/cgi', 'cgi-timeout': '2.5' }, HINT)).toBe(
      'CGI programs in /cgi',
    );
    expect(describeTarget('app.ts', {}, HINT)).toBe('app.ts');
  });

  it('refuses a directory that does not exist before serving anything', async () => {
    await expect(resolveApp(undefined, { scripts: '/nonexistent-tsgi-root' }, HINT)).rejects.toThrow(
      "'/nonexistent-tsgi-root' is not a directory",
    );
  });
});
