// `tsgi fastcgi` flags and signals of the pool (issue 10): a second stop signal, --check, the renamed flag,
// --help with every limit's default, SIGHUP in one process.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../../src/fastcgi/client.js';
import { E2E_APP, startListener, TSGI_BIN, type ListenerProcess } from '../../helpers/fastcgi-process.js';

const PARAMS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/slow',
  QUERY_STRING: '20000',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

function tsgi(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [TSGI_BIN, 'fastcgi', ...args], { encoding: 'utf8', timeout: 15_000 });
}

describe('tsgi fastcgi pool flags and signals', () => {
  const listeners: ListenerProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop('SIGKILL')));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['one process', ['--workers', '0']],
    ['a pool', ['--workers', '1']],
  ])(
    'a second SIGTERM aborts what is left at once (%s), instead of waiting the shutdown timeout',
    async (_name, args) => {
      const listener = await startListener(['--listen', '127.0.0.1:0', ...args]);
      listeners.push(listener);
      const client = await connectFastCgi(listener.address, { keepConn: false });
      const request = client.request({ params: PARAMS });
      request.ended.catch(() => {});
      const response = request.response().catch((error: Error) => error);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      listener.child.kill('SIGTERM');
      await listener.waitForLog(/stopping/);
      listener.child.kill('SIGTERM');
      expect(await listener.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(listener.log()).toMatch(/SIGTERM again: aborting/);
      await response;
      client.destroy();
    },
  );

  it('--check loads APP and exits 0, or exits 1 with one line', () => {
    const good = tsgi(E2E_APP, '--check');
    expect(good.status).toBe(0);
    expect(good.stderr).toMatch(/^tsgi fastcgi: .*fastcgi-e2e\.mjs loads; the configuration is fine\n$/);
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-check-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'broken.mjs'), 'export default (;\n');
    const bad = tsgi(join(dir, 'broken.mjs'), '--check');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses the old --max-requests with a hint naming both new flags', () => {
    const result = tsgi(E2E_APP, '--max-requests', '10');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/unknown option '--max-requests'/);
    expect(result.stderr).toMatch(/--max-concurrent-requests/);
    expect(result.stderr).toMatch(/--max-requests-per-worker/);
  });

  it('--help names every limit with its default', () => {
    const help = tsgi('--help').stdout;
    for (const flag of [
      '--max-connections N +connections at once per process \\(default 4096\\)',
      '--max-concurrent-requests N +requests in flight per process \\(default 1024\\)',
      '--params-timeout SECONDS .*\\(default 10\\)',
      '--idle-timeout SECONDS .*\\(default 60\\)',
      '--request-timeout SECONDS .*\\(default: none\\)',
      '--worker-timeout SECONDS .*\\(default: --request-timeout \\+ 2, else 30\\)',
      '--max-requests-per-worker N .*\\(default: never\\)',
      '--shutdown-timeout SECONDS .*\\(default 30\\)',
    ])
      expect(help).toMatch(new RegExp(flag));
  });

  it('logs SIGHUP in one process instead of dying, and keeps serving', async () => {
    const listener = await startListener(['--listen', '127.0.0.1:0', '--workers', '0']);
    listeners.push(listener);
    listener.child.kill('SIGHUP');
    await listener.waitForLog(/SIGHUP ignored: reloading needs a pool/);
    expect(listener.child.exitCode).toBeNull();
  });

  it('a worker whose primary was killed while the worker was still loading the app exits (no orphan)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgi-orphan-'));
    dirs.push(dir);
    // The worker's disconnect can happen before it listens; it must still notice and exit.
    writeFileSync(
      join(dir, 'slow-load.mjs'),
      'if (process.env.TSGI_SLOW_WORKER) await new Promise((r) => setTimeout(r, 1500));\n' +
        "process.env.TSGI_SLOW_WORKER = '1';\n" +
        "export default (e, sr) => { sr('200 OK', []); return []; };\n",
    );
    const primary = spawn(
      process.execPath,
      [TSGI_BIN, 'fastcgi', join(dir, 'slow-load.mjs'), '--listen', '127.0.0.1:0', '--workers', '2'],
      {
        stdio: 'ignore',
      },
    );
    const childrenOf = (pid: number): number[] =>
      readdirSync('/proc')
        .filter((name) => /^\d+$/.test(name))
        .filter((name) => {
          try {
            return Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]) === pid;
          } catch {
            return false;
          }
        })
        .map(Number);
    let workers: number[] = [];
    for (let i = 0; i < 100 && workers.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      workers = childrenOf(primary.pid ?? 0);
    }
    expect(workers).toHaveLength(2);
    primary.kill('SIGKILL');
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && workers.some(alive); i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const orphans = workers.filter(alive);
    for (const pid of orphans) process.kill(pid, 'SIGKILL');
    expect(orphans).toEqual([]);
  }, 30_000);
});
