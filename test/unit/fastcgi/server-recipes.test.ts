// The FastCGI recipes in scripts/recipes are the ones the README shows: rendered with its example values, each
// appears there word for word, so the documented configuration is the tested one.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../helpers/servers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');
const section = readme.slice(
  readme.indexOf('<!-- section:fastcgi -->'),
  readme.indexOf('<!-- /section:fastcgi -->'),
);

const COMMAND = '/usr/bin/node /srv/app/node_modules/tsgi/bin/tsgi.js fastcgi /srv/app/app.ts';
const EXAMPLES: Record<string, Record<string, string>> = {
  'nginx-fastcgi-upstream.conf': {
    LISTEN: '80',
    SERVER_NAME: 'example.org',
    MOUNT: '/app',
    FASTCGI_ADDRESS: 'unix:/run/tsgi/app.sock',
  },
  'nginx-fastcgi-tcp.conf': {
    LISTEN: '80',
    SERVER_NAME: 'example.org',
    MOUNT: '/app',
    FASTCGI_HOST: '127.0.0.1',
    FASTCGI_PORT: '9000',
  },
  'apache-proxy-fcgi.conf': { MOUNT: '/app', FASTCGI_HOST: '127.0.0.1', FASTCGI_PORT: '9000' },
  'lighttpd-fastcgi-binpath.conf': { MOUNT: '/app', SOCKET: '/run/lighttpd/tsgi.sock', COMMAND },
  'apache-fcgid-wrapper.conf': {
    MOUNT: '/app',
    IPC_DIR: '/run/apache2/fcgid',
    WRAPPER: '/srv/app/tsgi-wrapper',
  },
};

// The recipe without its leading comment block (which says how to install it, not what to write).
function body(text: string): string {
  const lines = text.split('\n');
  let first = 0;
  while (lines[first]?.startsWith('#')) first++;
  return lines.slice(first).join('\n').trimEnd();
}

describe('FastCGI recipes in the README', () => {
  it.each(Object.entries(EXAMPLES))('%s appears in the fastcgi section as rendered', (name, vars) => {
    const rendered = body(renderTemplate(`${root}scripts/recipes/${name}`, vars));
    expect(rendered).not.toContain('{{');
    expect(section).toContain(rendered);
  });

  it('names the unix-socket recipe the tests use, which differs from the TCP one only in fastcgi_pass', () => {
    const tcp = readFileSync(`${root}scripts/recipes/nginx-fastcgi-tcp.conf`, 'utf8');
    const unix = readFileSync(`${root}scripts/recipes/nginx-fastcgi-unix.conf`, 'utf8');
    const pass = (text: string): string[] =>
      body(text)
        .split('\n')
        .filter((line) => !line.includes('fastcgi_pass'));
    expect(pass(unix)).toEqual(pass(tcp));
    expect(section).toContain('nginx-fastcgi-unix.conf');
  });
});
