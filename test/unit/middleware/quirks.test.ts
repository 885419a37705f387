// Tests for src/middleware/quirks.ts: the opt-in lighttpd and IIS fix-ups, applied as middleware.
import { describe, expect, test } from 'vitest';
import { applyQuirks, iisPathInfo, lighttpdPathInfo } from '../../../src/middleware/quirks.js';
import type { Application, Environ } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

// Answers with the path variables the application saw.
const showPaths: Application = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [new TextEncoder().encode(`${environ.SCRIPT_NAME}|${environ.PATH_INFO}`)];
};

describe('applyQuirks', () => {
  test('with lighttpdPathInfo the app sees the double slash lighttpd merged away', async () => {
    const environ = createTestEnviron({
      SCRIPT_NAME: '/app',
      PATH_INFO: '/a/b',
      REQUEST_URI: '/app/a//b?x=1',
    });
    const response = await callApp(applyQuirks(lighttpdPathInfo)(showPaths), environ);
    expect(response.text).toBe('/app|/a//b');
  });

  test('with iisPathInfo the app sees PATH_INFO without the repeated SCRIPT_NAME', async () => {
    const environ = createTestEnviron({ SCRIPT_NAME: '/app.js', PATH_INFO: '/app.js/users' });
    const response = await callApp(applyQuirks(iisPathInfo)(showPaths), environ);
    expect(response.text).toBe('/app.js|/users');
  });

  test('the server’s environ is not changed and the tsgi keys are passed through', async () => {
    const environ = createTestEnviron({ SCRIPT_NAME: '/app.js', PATH_INFO: '/app.js/users' });
    let seen: Environ | undefined;
    await callApp(
      applyQuirks(iisPathInfo)((inner, startResponse) => {
        seen = inner;
        startResponse('204 No Content', []);
        return [];
      }),
      environ,
    );
    expect(environ.PATH_INFO).toBe('/app.js/users');
    expect(seen?.['tsgi.input']).toBe(environ['tsgi.input']);
    expect(seen?.['tsgi.signal']).toBe(environ['tsgi.signal']);
  });

  test('a quirk that removes a variable removes it from the app’s environ', async () => {
    const environ = createTestEnviron({ HTTP_X_DROP: 'yes' });
    let seen: Environ | undefined;
    const dropHeader = (vars: Record<string, string | undefined>) => {
      delete vars.HTTP_X_DROP;
      return 'dropped';
    };
    await callApp(
      applyQuirks(dropHeader)((inner, startResponse) => {
        seen = inner;
        startResponse('204 No Content', []);
        return [];
      }),
      environ,
    );
    expect(seen && 'HTTP_X_DROP' in seen).toBe(false);
  });

  test('with no applicable change the app sees the same variables', async () => {
    const environ = createTestEnviron({ SCRIPT_NAME: '/app', PATH_INFO: '/x', REQUEST_URI: '/app/x' });
    const response = await callApp(applyQuirks(lighttpdPathInfo, iisPathInfo)(showPaths), environ);
    expect(response.text).toBe('/app|/x');
  });
});
