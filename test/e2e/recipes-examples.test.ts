// The deployment examples behind real nginx: server-sent events arrive one by one (buffering off), a large
// upload lands on disk intact without the listener holding it in memory, and scripts/smoke.sh passes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/deploy/build-app.js';
import {
  freePort,
  makeServerDir,
  renderTemplate,
  startNginx,
  type RunningServer,
} from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const RECIPE = join(ROOT, 'scripts/recipes/nginx-fastcgi-tcp.conf');

/** A built example listening on a free TCP port, behind nginx with the TCP recipe. */
async function exampleBehindNginx(
  example: string,
  env: Record<string, string> = {},
  nginxExtra = '',
): Promise<{ url: string; listener: ChildProcess; nginx: RunningServer }> {
  const dir = makeServerDir(`example-${example}`);
  const app = (
    await buildApp({ app: join(ROOT, 'examples', `${example}.ts`), outFile: join(dir, `${example}.fcgi`) })
  ).outFile;
  const port = await freePort();
  const listener = spawn(process.execPath, [app, '--listen', `127.0.0.1:${port}`], {
    env: { PATH: process.env.PATH, TSGI_CACHE_DIR: 'off', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  listener.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await expect.poll(() => log, { timeout: 10_000 }).toContain('listening');
  const nginxPort = await freePort();
  const http = renderTemplate(RECIPE, {
    LISTEN: `127.0.0.1:${nginxPort}`,
    SERVER_NAME: 'tsgi.test',
    MOUNT: '/app',
    FASTCGI_HOST: '127.0.0.1',
    FASTCGI_PORT: port,
  });
  const nginx = await startNginx({ http: `${nginxExtra}\n${http}`, server: '' });
  return { url: `http://127.0.0.1:${nginxPort}/app`, listener, nginx };
}

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('examples behind nginx', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('streams server-sent events one at a time through nginx (examples/streaming.ts)', async () => {
    const { url, listener, nginx } = await exampleBehindNginx('streaming');
    cleanups.push(
      () => nginx.stop(),
      () => void listener.kill('SIGTERM'),
    );
    const started = Date.now();
    const response = await fetch(`${url}/events?count=3&interval=1000`);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = response.body!.getReader();
    const arrivals: { at: number; text: string }[] = [];
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivals.push({ at: Date.now() - started, text: decoder.decode(value) });
    }
    const text = arrivals.map((arrival) => arrival.text).join('');
    expect(text.match(/^id: \d+$/gm)).toEqual(['id: 1', 'id: 2', 'id: 3']);
    // The first event is there long before the last one was even produced (2 s later): not buffered.
    const first = arrivals.find((arrival) => arrival.text.includes('id: 1'))!;
    const last = arrivals.find((arrival) => arrival.text.includes('id: 3'))!;
    expect(last.at - first.at).toBeGreaterThan(1000);
  });

  it('writes a 48 MiB upload to disk intact and keeps the listener small (examples/upload.ts)', async () => {
    const uploads = makeServerDir('uploads');
    const { url, listener, nginx } = await exampleBehindNginx(
      'upload',
      { UPLOAD_DIR: uploads },
      // Let nginx pass the body on as it arrives instead of spooling it first.
      'fastcgi_request_buffering off;',
    );
    cleanups.push(
      () => nginx.stop(),
      () => void listener.kill('SIGTERM'),
    );
    const body = new Uint8Array(48 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body[i] = (i / 4096) % 251;
    const response = await fetch(`${url}/upload`, { method: 'PUT', body });
    expect(response.status).toBe(201);
    const result = (await response.json()) as { bytes: number; sha256: string; file: string };
    expect(result.bytes).toBe(body.length);
    expect(result.sha256).toBe(createHash('sha256').update(body).digest('hex'));
    expect(readdirSync(uploads)).toEqual([result.file.slice(uploads.length + 1)]);
    expect(statSync(result.file).size).toBe(body.length);
    // Peak resident memory (measured ~60 MiB) stays well under a Node process (~50 MiB) plus the 48 MiB body,
    // which holding the body would need: it was streamed.
    const peakKiB = Number(
      /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${listener.pid}/status`, 'utf8'))?.[1],
    );
    expect(peakKiB).toBeLessThan(80 * 1024);
  });
});

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('scaling out', () => {
  it('spreads requests over several built listeners in one nginx upstream (nginx-fastcgi-upstream.conf)', async () => {
    const dir = makeServerDir('upstream');
    const fixture = join(ROOT, 'test/fixtures/apps/fastcgi-e2e.mjs');
    const app = (await buildApp({ app: fixture, outFile: join(dir, 'app.fcgi') })).outFile;
    const ports = [await freePort(), await freePort()];
    const listeners = ports.map((port) =>
      spawn(process.execPath, [app, '--listen', `127.0.0.1:${port}`], {
        env: { PATH: process.env.PATH, TSGI_CACHE_DIR: 'off' },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    try {
      for (const listener of listeners) {
        let log = '';
        listener.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
        await expect.poll(() => log, { timeout: 10_000 }).toContain('listening');
      }
      const nginxPort = await freePort();
      // The recipe names one listener; each further process (or machine) is one more server line.
      const http = renderTemplate(join(ROOT, 'scripts/recipes/nginx-fastcgi-upstream.conf'), {
        LISTEN: `127.0.0.1:${nginxPort}`,
        SERVER_NAME: 'tsgi.test',
        MOUNT: '/app',
        FASTCGI_ADDRESS: `127.0.0.1:${ports[0]}`,
      }).replace(
        `server 127.0.0.1:${ports[0]};`,
        `server 127.0.0.1:${ports[0]};\n    server 127.0.0.1:${ports[1]};`,
      );
      const nginx = await startNginx({ http, server: '' });
      try {
        const pids = new Set<number>();
        for (let i = 0; i < 6; i++) {
          const env = (await (await fetch(`http://127.0.0.1:${nginxPort}/app/env`)).json()) as {
            pid: number;
          };
          pids.add(env.pid);
        }
        expect(pids).toEqual(new Set(listeners.map((listener) => listener.pid)));
      } finally {
        await nginx.stop();
      }
    } finally {
      for (const listener of listeners) listener.kill('SIGTERM');
    }
  });
});

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('scripts/smoke.sh', () => {
  it('brings up nginx, a listener and the hello example and checks one request', () => {
    const result = spawnSync('bash', [join(ROOT, 'scripts/smoke.sh')], {
      encoding: 'utf8',
      env: { ...process.env, NODE: process.execPath },
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^smoke: ok \(nginx :\d+ -> tsgi FastCGI :\d+ -> examples\/hello.ts\)\n$/);
    expect(result.status).toBe(0);
  });
});
