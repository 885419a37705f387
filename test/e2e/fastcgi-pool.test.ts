// The pool in production, behind real nginx, with real signals and a bounded load loop (issue 10): reload
// without a gap, a broken reload, status pages, timeouts, recycling, crashes and a blocked event loop.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../src/fastcgi/client.js';
import { startListener, TSGI_BIN, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { failures, startLoad } from '../helpers/load-loop.js';
import {
  freePort,
  makeServerDir,
  renderTemplate,
  startNginx,
  type RunningServer,
} from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const POOL_APP = fileURLToPath(new URL('../fixtures/apps/pool-app.mjs', import.meta.url));
const RECIPES = fileURLToPath(new URL('../../scripts/recipes/', import.meta.url));
const MOUNT = '/app';

interface Stack {
  listener: ListenerProcess;
  nginx: RunningServer;
  base: string;
  app: string;
  dir: string;
}

const stacks: Stack[] = [];
afterEach(async () => {
  for (const stack of stacks.splice(0)) {
    await stack.nginx.stop();
    await stack.listener.stop('SIGKILL');
  }
});

// A copy of the pool app (the reload tests rewrite it), a listener on it, nginx over a kept-alive upstream.
async function startStack(args: string[]): Promise<Stack> {
  const dir = makeServerDir('pool');
  const app = join(dir, 'app.mjs');
  copyFileSync(POOL_APP, app);
  const listener = await startListener(['--listen', '127.0.0.1:0', ...args], { app });
  const port = await freePort();
  const nginx = await startNginx({
    http: renderTemplate(join(RECIPES, 'nginx-fastcgi-upstream.conf'), {
      LISTEN: `127.0.0.1:${port}`,
      SERVER_NAME: 'localhost',
      MOUNT,
      FASTCGI_ADDRESS: listener.address,
    }),
    server: '',
  });
  const stack = { listener, nginx, base: `http://127.0.0.1:${port}${MOUNT}`, app, dir };
  stacks.push(stack);
  return stack;
}

function setVersion(app: string, version: string): void {
  writeFileSync(
    app,
    readFileSync(app, 'utf8').replace(/const VERSION = '[^']*';/, `const VERSION = '${version}';`),
  );
}

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('the pool behind nginx', () => {
  it('reloads on SIGHUP and SIGUSR2 under load with no failed request, and serves the new code after', async () => {
    const stack = await startStack(['--workers', '2']);
    const load = startLoad(`${stack.base}/hello`, { clients: 4 });
    await load.waitFor(100);
    setVersion(stack.app, 'v2');
    stack.listener.child.kill('SIGHUP');
    await stack.listener.waitForLog(/reloaded: 2 new worker\(s\) serving/);
    await load.waitFor(100);
    setVersion(stack.app, 'v3');
    stack.listener.child.kill('SIGUSR2');
    await stack.listener.waitForLog(/reloaded.*\n(.*\n)*.*reloaded: 2 new worker/);
    await load.waitFor(200);
    const outcomes = await load.stop();
    expect(failures(outcomes)).toEqual([]);
    const versions = outcomes.map((o) => o.body.split(' ')[0]);
    expect(versions).toContain('v1');
    expect(versions).toContain('v2');
    expect(versions.slice(-50)).toEqual(Array(50).fill('v3'));
  });

  it('keeps the old workers serving when the new code fails to load, with one line saying why', async () => {
    const stack = await startStack(['--workers', '2']);
    const load = startLoad(`${stack.base}/hello`, { clients: 4 });
    await load.waitFor(50);
    writeFileSync(stack.app, `${readFileSync(stack.app, 'utf8')}\nthis is not JavaScript;\n`);
    stack.listener.child.kill('SIGHUP');
    const [line] = await stack.listener.waitForLog(/reload failed: .*\n/);
    expect(line).toMatch(
      /the new code failed to load: .*; the 2 running worker\(s\) keep serving the previous code/,
    );
    await load.waitFor(100);
    const outcomes = await load.stop();
    expect(failures(outcomes)).toEqual([]);
    expect(new Set(outcomes.map((o) => o.body.split(' ')[0]))).toEqual(new Set(['v1']));
  });

  it('answers the status page in text, ?json, ?openmetrics and ?full, counters surviving a worker crash; ping says pong', async () => {
    const stack = await startStack([
      '--workers',
      '2',
      '--status-path',
      '/app/status',
      '--ping-path',
      '/app/ping',
    ]);
    expect(await (await fetch(`${stack.base}/ping`)).text()).toBe('pong\n');
    for (let i = 0; i < 10; i++) await (await fetch(`${stack.base}/hello`)).text();
    const text = await (await fetch(`${stack.base}/status`)).text();
    const fields = Object.fromEntries(
      text
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf(':')), line.slice(22)]),
    );
    expect(fields).toMatchObject({ pool: 'tsgi', 'process manager': 'static', 'total processes': '2' });
    expect(Number(fields['accepted conn'])).toBeGreaterThanOrEqual(11);
    expect(fields['start time']).toMatch(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);

    const json = (await (await fetch(`${stack.base}/status?json&full`)).json()) as Record<string, unknown> & {
      processes: { pid: number; state: string; requests: number }[];
    };
    expect(json['total processes']).toBe(2);
    expect(json.processes).toHaveLength(2);
    expect(json.processes.some((p) => p.state === 'Running')).toBe(true); // this very request
    const before = json['accepted conn'] as number;

    // A worker that exits mid-request: its counters are kept by the primary.
    await fetch(`${stack.base}/exit?${join(stack.dir, 'exited')}`);
    await stack.listener.waitForLog(/worker \d+ exited \(code 3\)/);
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${stack.base}/status?json`)).json()) as { 'total processes': number })[
            'total processes'
          ],
      )
      .toBe(2);
    const after = (await (await fetch(`${stack.base}/status?json`)).json()) as Record<string, number>;
    expect(after['accepted conn']).toBeGreaterThan(before);

    const metrics = await (await fetch(`${stack.base}/status?openmetrics&full`)).text();
    expect(metrics.endsWith('# EOF\n')).toBe(true);
    const samples = new Map(
      metrics
        .split('\n')
        .filter((line) => line !== '' && !line.startsWith('#'))
        .map((line) => [line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1))]),
    );
    expect(samples.get('tsgi_up{pool="tsgi"}')).toBe(1);
    expect(samples.get('tsgi_accepted_connections_total{pool="tsgi"}')).toBeGreaterThan(before);
    expect(samples.get('tsgi_total_processes{pool="tsgi"}')).toBe(2);
    expect([...samples.keys()].filter((key) => key.startsWith('tsgi_process_requests_total{'))).toHaveLength(
      2,
    );

    const full = await (await fetch(`${stack.base}/status?full`)).text();
    expect(full.match(/^pid: +\d+$/gm)).toHaveLength(2);
  });

  it('answers 504 at --request-timeout, aborting the request, and keeps serving', async () => {
    const stack = await startStack(['--request-timeout', '1']);
    const started = Date.now();
    const response = await fetch(`${stack.base}/timeout`);
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(stack.listener.log()).toMatch(/request timeout: GET \/app\/timeout stopped after 1\.\d s/);
    expect((await fetch(`${stack.base}/hello`)).status).toBe(200);
  });

  it('recycles workers after --max-requests-per-worker with no failed request', async () => {
    const stack = await startStack(['--workers', '2', '--max-requests-per-worker', '40']);
    const load = startLoad(`${stack.base}/hello`, { clients: 4 });
    await stack.listener.waitForLog(
      /recycling worker \d+: \d+ requests served[^\n]*\n(.*\n)*.*recycling worker/,
      30_000,
    );
    // The replacements serve once they listen (seconds on a busy machine); the load goes on meanwhile.
    const pids = (): number => new Set(load.outcomes.map((o) => o.body.split(' ')[1])).size;
    await expect.poll(pids, { timeout: 30_000, interval: 200 }).toBeGreaterThan(2);
    const outcomes = await load.stop();
    expect(failures(outcomes)).toEqual([]);
  });

  it('a crash and a blocked event loop cost only their own requests; both workers are replaced', async () => {
    const stack = await startStack(['--workers', '2', '--worker-timeout', '2']);
    const load = startLoad(`${stack.base}/hello`, { clients: 4 });
    await load.waitFor(50);
    const crashed = await fetch(`${stack.base}/exit?${join(stack.dir, 'exited')}`);
    // nginx retries an idempotent request on a connection that broke (fastcgi_next_upstream error): the
    // retry reaches a live worker; the crash is in the log.
    expect([200, 502]).toContain(crashed.status);
    await stack.listener.waitForLog(/worker (\d+) exiting with code 3 while serving \d+ request/);
    const blocked = await fetch(`${stack.base}/block?${join(stack.dir, 'blocked')}`);
    expect([200, 502]).toContain(blocked.status);
    await stack.listener.waitForLog(
      /worker \d+ blocked: its event loop has not answered for [\d.]+ s \(--worker-timeout\), running .*; killing it/,
    );
    await load.waitFor(100);
    const outcomes = await load.stop();
    // Each load client has one request in flight: a request nginx had just handed the dying worker is the
    // most a client can lose; the rest of the pool kept answering.
    expect(failures(outcomes).length).toBeLessThanOrEqual(4);
    expect(failures(outcomes.slice(-50))).toEqual([]);
  });
});

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('scaling out', () => {
  it('loses no request when one of two listeners in an nginx upstream stops under load (nginx-fastcgi-scale-out.conf)', async () => {
    const ports = [await freePort(), await freePort()];
    const listeners = await Promise.all(
      ports.map((port) => startListener(['--listen', `127.0.0.1:${port}`], { app: POOL_APP })),
    );
    const httpPort = await freePort();
    const nginx = await startNginx({
      http: renderTemplate(join(RECIPES, 'nginx-fastcgi-scale-out.conf'), {
        SERVERS: ports.map((port) => `    server 127.0.0.1:${port} max_fails=1 fail_timeout=10s;`).join('\n'),
        LISTEN: `127.0.0.1:${httpPort}`,
        SERVER_NAME: 'localhost',
        MOUNT,
      }),
      server: '',
    });
    try {
      const load = startLoad(`http://127.0.0.1:${httpPort}${MOUNT}/hello`, { clients: 4 });
      await load.waitFor(100);
      listeners[0]!.child.kill('SIGTERM');
      expect(await listeners[0]!.exited).toBe(0);
      await load.waitFor(200);
      const outcomes = await load.stop();
      expect(failures(outcomes)).toEqual([]);
      // Served by both before the stop, by the second alone after it.
      const pids = outcomes.map((o) => o.body.split(' ')[1]);
      expect(new Set(pids.slice(-100)).size).toBe(1);
      expect(new Set(pids).size).toBeGreaterThanOrEqual(2);
    } finally {
      await nginx.stop();
      await Promise.all(listeners.map((listener) => listener.stop('SIGKILL')));
    }
  });
});

describe('the systemd template unit (tsgi@.service)', () => {
  it('starts the pool its ExecStart names for an instance, and its ExecReload check passes', async () => {
    const port = await freePort();
    const unit = renderTemplate(join(RECIPES, 'tsgi@.service'), {
      USER: 'www-data',
      GROUP: 'www-data',
      APP_DIR: '/srv/app',
      NODE: process.execPath,
      TSGI: TSGI_BIN,
      APP: POOL_APP,
      WORKERS: 2,
    }).replaceAll('%i', String(port));
    const command = (key: string): string[] =>
      [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((match) => match[1]!);
    const [start] = command('ExecStart');
    const argv = start!.split(' ');
    expect(argv.slice(0, 3)).toEqual([process.execPath, TSGI_BIN, 'fastcgi']);
    const [check] = command('ExecReload');
    const checked = spawnSync(check!.split(' ')[0]!, check!.split(' ').slice(1), { encoding: 'utf8' });
    expect(checked.status).toBe(0);
    expect(checked.stderr).toMatch(/loads; the configuration is fine/);
    const listener = await startListener(argv.slice(4), { app: argv[3] });
    try {
      expect(listener.log()).toMatch(new RegExp(`listening on 127\\.0\\.0\\.1:${port} \\(2 workers`));
      const client = await connectFastCgi(listener.address, { keepConn: false });
      const response = await client
        .request({
          params: {
            REQUEST_METHOD: 'GET',
            SCRIPT_NAME: '/ping',
            PATH_INFO: '',
            QUERY_STRING: '',
            SERVER_NAME: 'localhost',
            SERVER_PORT: '80',
            SERVER_PROTOCOL: 'HTTP/1.1',
          },
        })
        .response();
      client.destroy();
      expect(response.body.toString()).toBe('pong\n');
    } finally {
      await listener.stop('SIGTERM');
    }
  });
});
