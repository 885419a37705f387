// The pool's worker count as running processes (issue 10, items 4 and 5): --max-worker-memory replaces a
// worker that grew, with no failed request under load, and --pm dynamic grows under load up to --workers and
// shrinks back when idle. Requests go straight to the listener: nothing retries a failed one and hides it.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { childrenOf, fastCgiGet, startFastCgiLoad } from '../helpers/fastcgi-load.js';
import { startListener, type ListenerProcess } from '../helpers/fastcgi-process.js';

const POOL_APP = fileURLToPath(new URL('../fixtures/apps/pool-app.mjs', import.meta.url));

describe('the pool as running processes', () => {
  const listeners: ListenerProcess[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop('SIGKILL')));
  });

  const start = async (args: string[]): Promise<ListenerProcess> => {
    const listener = await startListener(['--listen', '127.0.0.1:0', ...args], { app: POOL_APP });
    listeners.push(listener);
    return listener;
  };

  it('--max-worker-memory replaces a worker whose memory grew, after it drains, with no failed request', async () => {
    // A worker idles at 45-65 MiB (Node 20/24); 256 MiB kept by one request puts it well past 200.
    const listener = await start(['--workers', '2', '--max-worker-memory', '200']);
    const before = childrenOf(listener.pid);
    expect(before).toHaveLength(2);
    const load = startFastCgiLoad(listener.address, '/hello', { clients: 4 });
    const grown = await fastCgiGet(listener.address, '/grow?256');
    expect(grown.status).toBe(200);
    const [, pid] = await listener.waitForLog(
      /recycling worker (\d+): \d+ MiB resident \(--max-worker-memory\)/,
    );
    expect(before).toContain(Number(pid));
    // Its replacement listens first, then it drains and exits; the pool is two workers again.
    await expect
      .poll(() => childrenOf(listener.pid).includes(Number(pid)), { timeout: 15_000, interval: 100 })
      .toBe(false);
    await expect.poll(() => childrenOf(listener.pid).length, { timeout: 15_000, interval: 100 }).toBe(2);
    // The replacement serves: its pid shows among the answers. (Polled: which worker accepts a connection is
    // the kernel's choice, so a fixed number of further requests may all go to the other old worker.)
    const replacement = childrenOf(listener.pid).filter((child) => !before.includes(child));
    expect(replacement).toHaveLength(1);
    await expect
      .poll(() => load.outcomes.some((o) => o.body.split(' ')[1] === String(replacement[0])), {
        timeout: 15_000,
        interval: 100,
      })
      .toBe(true);
    const outcomes = await load.stop();
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    // Replaced once: the new worker is small again.
    expect(listener.log().match(/recycling worker/g)).toHaveLength(1);
  });

  it('--pm dynamic grows under concurrent slow requests up to --workers and shrinks to --max-spare when idle', async () => {
    const listener = await start([
      '--pm',
      'dynamic',
      '--workers',
      '3',
      '--min-spare',
      '1',
      '--max-spare',
      '1',
      '--status-path',
      '/app/status',
    ]);
    // pm.start_servers = min_spare + (max_spare - min_spare) / 2.
    expect(childrenOf(listener.pid)).toHaveLength(1);
    // Every worker busy: no idle one, so the pool grows one worker per tick until --workers.
    const load = startFastCgiLoad(listener.address, '/slow?300', { clients: 8 });
    await expect.poll(() => childrenOf(listener.pid).length, { timeout: 20_000, interval: 100 }).toBe(3);
    const status = await fastCgiGet(listener.address, '/status?json');
    const json = JSON.parse(status.body) as Record<string, number>;
    expect(json['total processes']).toBe(3);
    await expect
      .poll(
        async () =>
          (JSON.parse((await fastCgiGet(listener.address, '/status?json')).body) as Record<string, number>)[
            'max children reached'
          ],
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    const outcomes = await load.stop();
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    // Used: more than one worker answered.
    expect(new Set(outcomes.map((o) => o.body.split(' ')[1])).size).toBeGreaterThan(1);
    // Idle: more idle workers than --max-spare, one stopped per tick, down to one.
    await expect.poll(() => childrenOf(listener.pid).length, { timeout: 20_000, interval: 100 }).toBe(1);
    expect(listener.log()).not.toMatch(/exited \(/);
    expect((await fastCgiGet(listener.address, '/hello')).status).toBe(200);
  });
});
