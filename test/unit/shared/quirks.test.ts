// Tests for src/shared/quirks.ts: each server fix-up on its own, with the note it reports.
import { describe, expect, test } from 'vitest';
import {
  DEFAULT_QUIRKS,
  defaultPathInfo,
  dropEmptyContentVars,
  dropHttpContentDuplicates,
  fillRequestUri,
  iisPathInfo,
  isHttps,
  lighttpdPathInfo,
  normalizeRootScriptName,
  protocolIncluded,
  type RequestVars,
} from '../../../src/shared/quirks.js';

describe('dropEmptyContentVars (nginx fastcgi_params)', () => {
  test('removes an empty CONTENT_TYPE and CONTENT_LENGTH and says so', () => {
    const vars: RequestVars = { CONTENT_TYPE: '', CONTENT_LENGTH: '', REQUEST_METHOD: 'GET' };
    expect(dropEmptyContentVars(vars)).toMatch(/CONTENT_TYPE, CONTENT_LENGTH/);
    expect(vars).toEqual({ REQUEST_METHOD: 'GET' });
  });

  test('keeps non-empty values and reports nothing', () => {
    const vars: RequestVars = { CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '3' };
    expect(dropEmptyContentVars(vars)).toBeUndefined();
    expect(vars).toEqual({ CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '3' });
  });
});

describe('dropHttpContentDuplicates (RFC 3875 §4.1.18)', () => {
  test('removes HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH, keeping CONTENT_* as the only source', () => {
    const vars: RequestVars = { HTTP_CONTENT_LENGTH: '999', HTTP_CONTENT_TYPE: 'x/y', CONTENT_LENGTH: '3' };
    expect(dropHttpContentDuplicates(vars)).toMatch(/HTTP_CONTENT_TYPE, HTTP_CONTENT_LENGTH/);
    expect(vars).toEqual({ CONTENT_LENGTH: '3' });
  });

  test('does nothing without them', () => {
    expect(dropHttpContentDuplicates({ HTTP_HOST: 'x' })).toBeUndefined();
  });
});

describe('protocolIncluded (RFC 3875 §4.1.16)', () => {
  test.each([
    ['INCLUDED', 'HTTP/1.0', true],
    ['HTTP/1.1', 'HTTP/1.1', false],
    ['included', 'included', false],
  ])('SERVER_PROTOCOL %j becomes %j', (before, after, noted) => {
    const vars: RequestVars = { SERVER_PROTOCOL: before };
    expect(protocolIncluded(vars) !== undefined).toBe(noted);
    expect(vars.SERVER_PROTOCOL).toBe(after);
  });
});

describe('defaultPathInfo (mod_fastcgi at the root)', () => {
  test('sets a missing PATH_INFO to ""', () => {
    const vars: RequestVars = {};
    expect(defaultPathInfo(vars)).toMatch(/PATH_INFO missing/);
    expect(vars.PATH_INFO).toBe('');
  });

  test('keeps an existing PATH_INFO, even an empty one', () => {
    const vars: RequestVars = { PATH_INFO: '' };
    expect(defaultPathInfo(vars)).toBeUndefined();
    expect(vars.PATH_INFO).toBe('');
  });
});

describe('normalizeRootScriptName (SCRIPT_NAME "/")', () => {
  test.each([
    [
      { SCRIPT_NAME: '/', PATH_INFO: '' },
      { SCRIPT_NAME: '', PATH_INFO: '/' },
    ],
    [
      { SCRIPT_NAME: '/', PATH_INFO: 'x' },
      { SCRIPT_NAME: '', PATH_INFO: '/x' },
    ],
    [{ SCRIPT_NAME: '/' }, { SCRIPT_NAME: '', PATH_INFO: '/' }],
  ])('%j becomes %j, keeping SCRIPT_NAME + PATH_INFO', (before, after) => {
    const vars: RequestVars = { ...before };
    expect(normalizeRootScriptName(vars)).toMatch(/SCRIPT_NAME "\/" became ""/);
    expect(vars).toEqual(after);
  });

  test('leaves a real mount point alone', () => {
    const vars: RequestVars = { SCRIPT_NAME: '/app', PATH_INFO: '/' };
    expect(normalizeRootScriptName(vars)).toBeUndefined();
    expect(vars).toEqual({ SCRIPT_NAME: '/app', PATH_INFO: '/' });
  });
});

describe('fillRequestUri (Go cgi child fallback)', () => {
  test.each([
    [{ SCRIPT_NAME: '/app', PATH_INFO: '/x', QUERY_STRING: 'a=1' }, '/app/x?a=1'],
    [{ SCRIPT_NAME: '', PATH_INFO: '/', QUERY_STRING: '' }, '/'],
    [{ SCRIPT_NAME: '/app', PATH_INFO: '/a b\u00ff' }, '/app/a%20b%FF'],
    [{}, ''],
  ])('rebuilds a missing REQUEST_URI from %j as %j', (vars, expected) => {
    const copy: RequestVars = { ...vars };
    expect(fillRequestUri(copy)).toMatch(/REQUEST_URI missing/);
    expect(copy.REQUEST_URI).toBe(expected);
  });

  test('keeps a REQUEST_URI the server sent', () => {
    const vars: RequestVars = { REQUEST_URI: '/raw%2Fpath', PATH_INFO: '/raw/path' };
    expect(fillRequestUri(vars)).toBeUndefined();
    expect(vars.REQUEST_URI).toBe('/raw%2Fpath');
  });
});

describe('lighttpdPathInfo (opt-in)', () => {
  test('restores the double slash lighttpd merged, from REQUEST_URI', () => {
    const vars: RequestVars = { SCRIPT_NAME: '/app', PATH_INFO: '/a/b', REQUEST_URI: '/app/a//b?x=1' };
    expect(lighttpdPathInfo(vars)).toMatch(/rebuilt from REQUEST_URI/);
    expect(vars.PATH_INFO).toBe('/a//b');
  });

  test('decodes percent-escapes byte by byte, keeping a non-UTF-8 byte', () => {
    const vars: RequestVars = { SCRIPT_NAME: '', PATH_INFO: '/x', REQUEST_URI: '/%FF/%20' };
    lighttpdPathInfo(vars);
    expect(vars.PATH_INFO).toBe('/\u00ff/ ');
  });

  test.each([
    [{ SCRIPT_NAME: '/app', PATH_INFO: '/a' }],
    [{ SCRIPT_NAME: '/other', PATH_INFO: '/a', REQUEST_URI: '/app/a' }],
    [{ SCRIPT_NAME: '/app', PATH_INFO: 'le', REQUEST_URI: '/apple' }],
    [{ SCRIPT_NAME: '/app', PATH_INFO: '/a', REQUEST_URI: '/app/a' }],
  ])('changes nothing for %j', (vars) => {
    const copy: RequestVars = { ...vars };
    expect(lighttpdPathInfo(copy)).toBeUndefined();
    expect(copy).toEqual(vars);
  });

  test('is not one of the default quirks', () => {
    expect(DEFAULT_QUIRKS).not.toContain(lighttpdPathInfo);
    expect(DEFAULT_QUIRKS).not.toContain(iisPathInfo);
  });
});

describe('iisPathInfo (opt-in)', () => {
  test.each([
    [{ SCRIPT_NAME: '/app.js', PATH_INFO: '/app.js/users/1' }, '/users/1'],
    [{ SCRIPT_NAME: '/app.js', PATH_INFO: '/app.js' }, ''],
  ])('strips SCRIPT_NAME repeated in %j', (vars, expected) => {
    const copy: RequestVars = { ...vars };
    expect(iisPathInfo(copy)).toMatch(/iisPathInfo/);
    expect(copy.PATH_INFO).toBe(expected);
  });

  test.each([
    [{ SCRIPT_NAME: '/app', PATH_INFO: '/apple' }],
    [{ SCRIPT_NAME: '', PATH_INFO: '/x' }],
    [{ SCRIPT_NAME: '/app', PATH_INFO: '/x' }],
  ])('changes nothing for %j', (vars) => {
    const copy: RequestVars = { ...vars };
    expect(iisPathInfo(copy)).toBeUndefined();
    expect(copy).toEqual(vars);
  });
});

describe('isHttps', () => {
  test.each([
    [{ HTTPS: 'on' }, true],
    [{ HTTPS: 'ON' }, true],
    [{ HTTPS: '1' }, true],
    [{ HTTPS: 'yes' }, true],
    [{ HTTPS: 'Yes' }, true],
    [{ REQUEST_SCHEME: 'https' }, true],
    [{ REQUEST_SCHEME: 'HTTPS' }, true],
    [{ HTTPS: 'off' }, false],
    [{ HTTPS: '0' }, false],
    [{ HTTPS: '' }, false],
    [{ REQUEST_SCHEME: 'http' }, false],
    [{}, false],
  ])('%j is https: %s', (vars, expected) => {
    expect(isHttps(vars)).toBe(expected);
  });
});
