// The pool's process managers as PHP-FPM's pm (issue 10): the planner alone, and ondemand as a real process.
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../../src/fastcgi/client.js';
import { initialWorkers, planWorkers, type PoolLoad } from '../../../src/fastcgi/pool/process-model.js';
import { startListener, type ListenerProcess } from '../../helpers/fastcgi-process.js';

const load = (over: Partial<PoolLoad>): PoolLoad => ({
  idle: 0,
  total: 0,
  queued: 0,
  longIdle: 0,
  seesQueue: true,
  ...over,
});

describe('planWorkers', () => {
  const dynamic = { kind: 'dynamic', maxWorkers: 4, minSpare: 1, maxSpare: 2 } as const;
  const ondemand = { kind: 'ondemand', maxWorkers: 3, idleTimeoutMs: 1000 } as const;

  it('static keeps its count', () => {
    expect(planWorkers({ kind: 'static', workers: 3 }, load({ total: 1 }))).toEqual({
      target: 3,
      reachedMax: false,
    });
  });

  it('dynamic grows one at a time below min spare, up to the max, and counts hitting it', () => {
    expect(initialWorkers(dynamic)).toBe(1);
    expect(planWorkers(dynamic, load({ idle: 0, total: 2 }))).toEqual({ target: 3, reachedMax: false });
    expect(planWorkers(dynamic, load({ idle: 0, total: 4 }))).toEqual({ target: 4, reachedMax: true });
  });

  it('dynamic shrinks one at a time above max spare', () => {
    expect(planWorkers(dynamic, load({ idle: 3, total: 4 }))).toEqual({ target: 3, reachedMax: false });
    expect(planWorkers(dynamic, load({ idle: 2, total: 4 }))).toEqual({ target: 4, reachedMax: false });
  });

  it('ondemand starts a worker for waiting connections and stops long-idle ones, down to none', () => {
    expect(planWorkers(ondemand, load({ queued: 2, total: 0 }))).toEqual({ target: 1, reachedMax: false });
    expect(planWorkers(ondemand, load({ queued: 2, total: 3 }))).toEqual({ target: 3, reachedMax: true });
    expect(planWorkers(ondemand, load({ idle: 1, longIdle: 1, total: 1 }))).toEqual({
      target: 0,
      reachedMax: false,
    });
    // Without the accept queue (unix sockets) one worker stays to accept.
    expect(planWorkers(ondemand, load({ idle: 1, longIdle: 1, total: 1, seesQueue: false }))).toEqual({
      target: 1,
      reachedMax: false,
    });
  });
});

describe('--pm ondemand (process)', () => {
  const listeners: ListenerProcess[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop('SIGKILL')));
  });

  it('stops its idle worker after --idle-worker-timeout and starts one for the next connection', async () => {
    const listener = await startListener([
      '--listen',
      '127.0.0.1:0',
      '--pm',
      'ondemand',
      '--workers',
      '2',
      '--idle-worker-timeout',
      '0.5',
      '--status-path',
      '/status',
    ]);
    listeners.push(listener);
    expect(listener.log()).toMatch(/pm ondemand, up to 2 workers, primary pid/);
    // The first worker (it put the socket into the listening state) goes once idle.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const started = Date.now();
    const client = await connectFastCgi(listener.address, { keepConn: false });
    const response = await client
      .request({
        params: {
          REQUEST_METHOD: 'GET',
          SCRIPT_NAME: '/status',
          PATH_INFO: '',
          QUERY_STRING: 'json',
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          SERVER_PROTOCOL: 'HTTP/1.1',
        },
      })
      .response();
    client.destroy();
    const status = JSON.parse(response.body.toString()) as Record<string, unknown>;
    expect(status['process manager']).toBe('ondemand');
    expect(status['total processes']).toBe(1);
    expect(Date.now() - started).toBeLessThan(5000);
  }, 15_000);
});
