// mount(): prefix dispatch that moves the matched prefix from PATH_INFO to SCRIPT_NAME.
import { describe, expect, it } from 'vitest';
import { mount } from '../../../src/middleware/mount.js';
import type { Application } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

/** Answers "name SCRIPT_NAME|PATH_INFO". */
const echo =
  (name: string): Application =>
  (environ, startResponse) => {
    startResponse('200 OK', [['Content-Type', 'text/plain']]);
    return [new TextEncoder().encode(`${name} ${environ.SCRIPT_NAME}|${environ.PATH_INFO}`)];
  };

const get = async (app: Application, path: string, vars: Record<string, string> = {}): Promise<string> => {
  const response = await callApp(app, createTestEnviron({ PATH_INFO: path, ...vars }));
  return response.statusCode === 200 ? response.text : String(response.statusCode);
};

describe('mount', () => {
  const app = mount({ '/': echo('site'), '/api': echo('api'), '/api/v2/': echo('v2') });

  it('picks the longest matching prefix and moves it from PATH_INFO to SCRIPT_NAME', async () => {
    expect(await get(app, '/api/users')).toBe('api /api|/users');
    expect(await get(app, '/api/v2/users')).toBe('v2 /api/v2|/users');
    expect(await get(app, '/api')).toBe('api /api|');
    expect(await get(app, '/api/')).toBe('api /api|/');
  });

  it('matches whole segments only, and sends the rest to the app mounted at /', async () => {
    expect(await get(app, '/apix')).toBe('site |/apix');
    expect(await get(app, '/')).toBe('site |/');
    expect(await get(app, '')).toBe('site |');
  });

  it('appends to an existing SCRIPT_NAME and nests', async () => {
    const outer = mount({ '/v1': mount({ '/admin': echo('admin'), '/': echo('v1') }) });
    expect(await get(outer, '/v1/admin/x', { SCRIPT_NAME: '/app.cgi' })).toBe('admin /app.cgi/v1/admin|/x');
    expect(await get(outer, '/v1/other', { SCRIPT_NAME: '/app.cgi' })).toBe('v1 /app.cgi/v1|/other');
  });

  it('answers 404 when nothing matches and no app is mounted at /', async () => {
    expect(await get(mount({ '/api': echo('api') }), '/elsewhere')).toBe('404');
  });

  it('compares a non-ASCII prefix as the UTF-8 bytes PATH_INFO holds', async () => {
    const app = mount({ '/café': echo('cafe'), '/': echo('site') });
    expect(await get(app, '/caf\u00c3\u00a9/menu')).toBe('cafe /caf\u00c3\u00a9|/menu');
  });

  it('dispatches host entries first, by HTTP_HOST without its port', async () => {
    const app = mount({
      '/': echo('default'),
      'http://admin.example.com/': echo('admin'),
      '//admin.example.com/tools': echo('tools'),
    });
    expect(await get(app, '/x', { HTTP_HOST: 'admin.example.com:8080' })).toBe('admin |/x');
    expect(await get(app, '/tools/a', { HTTP_HOST: 'ADMIN.example.com' })).toBe('tools /tools|/a');
    expect(await get(app, '/x', { HTTP_HOST: 'www.example.com' })).toBe('default |/x');
  });

  it('refuses a mount point that is not a path or a host URL', () => {
    expect(() => mount({ api: echo('api') })).toThrow(/starting with "\/"/);
  });
});
