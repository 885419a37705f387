// httpoxy: which proxy variables the CGI runner removes.
import { describe, expect, it } from 'vitest';
import { removeHttpoxy } from '../../../src/cgi/httpoxy.js';

describe('removeHttpoxy', () => {
  it('removes HTTP_PROXY (what a Proxy: request header becomes) and says so', () => {
    const env: NodeJS.ProcessEnv = { HTTP_PROXY: 'http://attacker.invalid', OTHER: '1' };
    expect(removeHttpoxy(env)).toBe(true);
    expect(env).toEqual({ OTHER: '1' });
  });

  it('keeps lower-case http_proxy and HTTPS_PROXY, which no request header can produce', () => {
    const env: NodeJS.ProcessEnv = {
      http_proxy: 'http://admin.invalid',
      HTTPS_PROXY: 'http://admin.invalid',
    };
    expect(removeHttpoxy(env)).toBe(false);
    expect(env).toEqual({ http_proxy: 'http://admin.invalid', HTTPS_PROXY: 'http://admin.invalid' });
  });
});
