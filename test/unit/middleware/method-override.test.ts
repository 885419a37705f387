// methodOverride(): POST standing for PUT, PATCH or DELETE.
import { describe, expect, it } from 'vitest';
import { methodOverride, ORIGINAL_METHOD_KEY } from '../../../src/middleware/method-override.js';
import type { Application } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const methodOf: Application = (environ, startResponse) => {
  startResponse('200 OK', []);
  return [new TextEncoder().encode(`${environ.REQUEST_METHOD} ${String(environ[ORIGINAL_METHOD_KEY])}`)];
};

const call = async (app: Application, vars: Record<string, string>): Promise<string> =>
  (await callApp(app, createTestEnviron(vars))).text;

describe('methodOverride', () => {
  const app = methodOverride()(methodOf);

  it('turns a POST into the method of the X-HTTP-Method-Override header, keeping the original', async () => {
    expect(await call(app, { REQUEST_METHOD: 'POST', HTTP_X_HTTP_METHOD_OVERRIDE: 'delete' })).toBe(
      'DELETE POST',
    );
  });

  it('reads the _method query parameter when there is no header', async () => {
    expect(await call(app, { REQUEST_METHOD: 'POST', QUERY_STRING: 'a=1&_method=PATCH' })).toBe('PATCH POST');
  });

  it('never overrides other methods, and never into a method outside the list (GET)', async () => {
    expect(await call(app, { REQUEST_METHOD: 'GET', QUERY_STRING: '_method=DELETE' })).toBe('GET undefined');
    expect(await call(app, { REQUEST_METHOD: 'POST', QUERY_STRING: '_method=GET' })).toBe('POST undefined');
    expect(await call(app, { REQUEST_METHOD: 'POST', QUERY_STRING: '_method=%E0' })).toBe('POST undefined');
  });

  it('honours its options: another header, no query, more methods', async () => {
    const custom = methodOverride({ header: 'X-Method', param: false, methods: ['PUT', 'OPTIONS'] })(
      methodOf,
    );
    expect(await call(custom, { REQUEST_METHOD: 'POST', HTTP_X_METHOD: 'options' })).toBe('OPTIONS POST');
    expect(await call(custom, { REQUEST_METHOD: 'POST', QUERY_STRING: '_method=PUT' })).toBe(
      'POST undefined',
    );
  });
});
