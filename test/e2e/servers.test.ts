// The real-server harness itself: each web server starts from a generated config, answers, and stops cleanly.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTemplate, startApache, startLighttpd, startNginx } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

describe('renderTemplate', () => {
  it('fills every placeholder and refuses one left without a value', () => {
    expect(renderTemplate('listen {{HOST}}:{{PORT}};', { HOST: '127.0.0.1', PORT: 9000 })).toBe(
      'listen 127.0.0.1:9000;',
    );
    expect(() => renderTemplate('root {{ROOT}};', {})).toThrow('no value for {{ROOT}}');
  });
});

// Under CI=true a missing server throws inside hasTool instead of skipping.
describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('startNginx', () => {
  it('serves the given server block and stops', async () => {
    const server = await startNginx({ server: 'location / { return 200 "nginx-ok\\n"; }' });
    try {
      const response = await fetch(server.url);
      expect(await response.text()).toBe('nginx-ok\n');
    } finally {
      await server.stop();
    }
    await expect(fetch(server.url)).rejects.toThrow();
  });
});

describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)('startApache', () => {
  it('serves a static file from its document root', async () => {
    const server = await startApache({ config: '', modules: [] });
    try {
      writeFileSync(join(server.dir, 'htdocs', 'a.txt'), 'apache-ok\n', { mode: 0o644 });
      const response = await fetch(`${server.url}/a.txt`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('apache-ok\n');
    } finally {
      await server.stop();
    }
  });
});

describe.skipIf(!hasTool('lighttpd', 'lighttpd') /* throws under CI=true */)('startLighttpd', () => {
  it('serves a static file from its document root', async () => {
    const server = await startLighttpd({ config: '', modules: [] });
    try {
      writeFileSync(join(server.dir, 'htdocs', 'a.txt'), 'lighttpd-ok\n', { mode: 0o644 });
      const response = await fetch(`${server.url}/a.txt`);
      expect(await response.text()).toBe('lighttpd-ok\n');
    } finally {
      await server.stop();
    }
  });
});
