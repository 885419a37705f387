// nginx in front of `tsgi fastcgi`: fastcgi_pass over TCP, over a unix socket, and a kept-alive upstream.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getEnv, httpBattery, recipe } from '../helpers/fastcgi-e2e.js';
import { startListener, type ListenerProcess } from '../helpers/fastcgi-process.js';
import {
  freePort,
  makeServerDir,
  renderTemplate,
  SERVER_USER,
  startNginx,
  type RunningServer,
} from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const MOUNT = '/app';

interface Stack {
  listener: ListenerProcess;
  nginx: RunningServer;
  base: string;
}

// Starts the listener with `listenArgs`, then nginx from `recipeName` rendered with the listener's address.
async function startStack(
  recipeName: string,
  listenArgs: string[],
  vars: (address: string) => Record<string, string>,
): Promise<Stack> {
  const listener = await startListener(listenArgs);
  const port = await freePort();
  try {
    const nginx = await startNginx({
      http: renderTemplate(recipe(recipeName), {
        LISTEN: `127.0.0.1:${port}`,
        SERVER_NAME: 'localhost',
        MOUNT,
        ...vars(listener.address),
      }),
      server: '',
    });
    return { listener, nginx, base: `http://127.0.0.1:${port}${MOUNT}` };
  } catch (error) {
    await listener.stop('SIGKILL');
    throw error;
  }
}

async function stopStack(stack: Stack | undefined): Promise<void> {
  await stack?.nginx.stop();
  await stack?.listener.stop('SIGKILL');
}

// Established TCP connections whose local port is `port` (the listener's side), from /proc/net/tcp.
function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[1]?.endsWith(`:${hex}`) && fields[3] === '01').length;
}

function tcpVars(address: string): Record<string, string> {
  const colon = address.lastIndexOf(':');
  return { FASTCGI_HOST: address.slice(0, colon), FASTCGI_PORT: address.slice(colon + 1) };
}

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('nginx → tsgi fastcgi', () => {
  describe('fastcgi_pass over TCP (recipe nginx-fastcgi-tcp.conf)', () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startStack('nginx-fastcgi-tcp.conf', ['--listen', '127.0.0.1:0'], tcpVars);
    });
    afterAll(() => stopStack(stack));
    httpBattery({ base: () => stack!.base, scriptName: MOUNT });

    it('passes nginx’s own variables through (REQUEST_URI raw, DOCUMENT_URI, SERVER_SOFTWARE)', async () => {
      const env = await getEnv(`${stack!.base}/x%2Fy/env?q`);
      expect(env.REQUEST_URI).toBe(`${MOUNT}/x%2Fy/env?q`);
      expect(env.SERVER_SOFTWARE).toMatch(/^nginx\//);
      expect(env.GATEWAY_INTERFACE).toBe('CGI/1.1');
    });

    it('keeps a decoded %0a in PATH_INFO instead of emptying it (CVE-2019-11043)', async () => {
      const env = await getEnv(`${stack!.base}/a%0Ab/env`);
      expect([env.SCRIPT_NAME, env.PATH_INFO]).toEqual([MOUNT, '/a\nb/env']);
    });

    it('keeps serving after a client goes away in the middle of a streamed response', async () => {
      const controller = new AbortController();
      const response = await fetch(`${stack!.base}/stream?gone`, { signal: controller.signal });
      const reader = response.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('first\n');
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await getEnv(`${stack!.base}/env?after`)).QUERY_STRING).toBe('after');
      expect(stack!.listener.child.exitCode).toBeNull();
    });

    it('drains a request in flight on SIGTERM, answers it through nginx, and exits 0', async () => {
      const slow = fetch(`${stack!.base}/slow?1000`).then(async (r) => [r.status, await r.text()]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      stack!.listener.child.kill('SIGTERM');
      expect(await slow).toEqual([200, 'slept 1000']);
      expect(await stack!.listener.exited).toBe(0);
      // Gone: nginx now answers 502 itself.
      expect((await fetch(`${stack!.base}/env`)).status).toBe(502);
    });
  });

  describe('fastcgi_pass over a unix socket, group www-data, mode 0660 (recipe nginx-fastcgi-unix.conf)', () => {
    let stack: Stack | undefined;
    let socket = '';
    let socketDir = '';
    beforeAll(async () => {
      socketDir = makeServerDir('fcgi-sock');
      socket = join(socketDir, 'app.sock');
      stack = await startStack(
        'nginx-fastcgi-unix.conf',
        ['--listen', `unix:${socket}`, '--socket-group', SERVER_USER],
        () => ({ SOCKET: socket }),
      );
    });
    afterAll(async () => {
      await stopStack(stack);
      rmSync(socketDir, { recursive: true, force: true });
    });

    it('creates the socket for the web server’s group only', () => {
      const stat = statSync(socket);
      expect(stat.isSocket()).toBe(true);
      expect(stat.mode & 0o777).toBe(0o660);
    });
    httpBattery({ base: () => stack!.base, scriptName: MOUNT });
  });

  describe('an upstream with keepalive and fastcgi_keep_conn on (recipe nginx-fastcgi-upstream.conf)', () => {
    let stack: Stack | undefined;
    beforeAll(async () => {
      stack = await startStack('nginx-fastcgi-upstream.conf', ['--listen', '127.0.0.1:0'], (address) => ({
        FASTCGI_ADDRESS: address,
      }));
    });
    afterAll(() => stopStack(stack));
    // First in this block: later tests leave up to `keepalive` idle connections open.
    it('serves sequential requests over one kept-alive FastCGI connection (FCGI_KEEP_CONN honoured)', async () => {
      const port = Number(stack!.listener.address.split(':')[1]);
      for (let i = 0; i < 20; i++) await getEnv(`${stack!.base}/env?seq=${i}`);
      // Without keep-conn the listener closes each connection after END_REQUEST and none stays established.
      expect(establishedTo(port)).toBe(1);
    });
    httpBattery({ base: () => stack!.base, scriptName: MOUNT });
  });
});
