// A worker whose event loop is blocked (issue 10, items 3 and 7), with real processes: the slow log gives its
// JavaScript stack, and the watchdog's line names the request the worker really held, not the last reported.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fastCgiGet } from '../../helpers/fastcgi-load.js';
import { startListener, type ListenerProcess } from '../../helpers/fastcgi-process.js';

const POOL_APP = fileURLToPath(new URL('../../fixtures/apps/pool-app.mjs', import.meta.url));

describe('a blocked worker', () => {
  const listeners: ListenerProcess[] = [];
  afterEach(async () => {
    await Promise.all(listeners.splice(0).map((l) => l.stop('SIGKILL')));
  });

  const start = async (args: string[]): Promise<ListenerProcess> => {
    const listener = await startListener(['--listen', '127.0.0.1:0', '--workers', '1', ...args], {
      app: POOL_APP,
    });
    listeners.push(listener);
    return listener;
  };

  it('--slow-request logs the JavaScript stack of a handler in while (Date.now() < t), once', async () => {
    const listener = await start(['--slow-request', '1']);
    const spin = await fastCgiGet(listener.address, '/spin?3500');
    // The probe paused the worker and let it go on: the request completes.
    expect(spin.status).toBe(200);
    const lines = listener.log().match(/^.*slow request:.*$/gm) ?? [];
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /slow request: GET \/app\/spin\?3500 running for [\d.]+ s \(pid \d+\), event loop blocked; JavaScript stack: spinUntilDeadline \([^)]*pool-app\.mjs:\d+:\d+\) < app \(/,
    );
    // tsgi's own frames (the listener's dispatch) are left out.
    expect(lines[0]).not.toMatch(/serveRequest|onParams/);
    expect((await fastCgiGet(listener.address, '/hello')).status).toBe(200);
  });

  it('the watchdog names the request the worker held, not a quick one served just before', async () => {
    const listener = await start(['--worker-timeout', '2']);
    expect((await fastCgiGet(listener.address, '/hello?quick')).status).toBe(200);
    const blocked = fastCgiGet(listener.address, '/spin?60000');
    const [line] = await listener.waitForLog(/^.*blocked: its event loop.*$/m);
    expect(line).toMatch(
      /worker \d+ blocked: its event loop has not answered for [\d.]+ s \(--worker-timeout\), running GET \/app\/spin\?60000 \([\d.]+ s\); JavaScript stack: spinUntilDeadline .*; killing it/,
    );
    expect(line).not.toMatch(/hello/);
    expect((await blocked).status).toBe(0);
    await listener.waitForLog(/exited \(signal SIGKILL\); 1 request\(s\) were in flight when it was killed/);
    // Its replacement serves.
    await expect.poll(async () => (await fastCgiGet(listener.address, '/hello')).status).toBe(200);
  });

  it('a worker blocked in native code: the lines say there is no stack, and name the requests of its last heartbeat', async () => {
    const listener = await start(['--slow-request', '1', '--worker-timeout', '4']);
    const blocked = fastCgiGet(listener.address, '/native?7');
    await listener.waitForLog(
      /worker \d+ blocked for [\d.]+ s \(--slow-request\), running at its last report GET \/app\/native\?7 \([\d.]+ s\); no JavaScript stack: the event loop did not pause within 1000 ms \(native code\?\)/,
    );
    const [line] = await listener.waitForLog(/^.*killing it$/m);
    expect(line).toMatch(
      /blocked: its event loop has not answered for [\d.]+ s \(--worker-timeout\), running at its last report GET \/app\/native\?7 \([\d.]+ s\); no JavaScript stack: the event loop did not pause/,
    );
    expect((await blocked).status).toBe(0);
    await expect.poll(async () => (await fastCgiGet(listener.address, '/hello')).status).toBe(200);
  });

  it('--no-stack-probe: no probe thread; the watchdog names the requests of the last heartbeat, and says so', async () => {
    const listener = await start(['--worker-timeout', '2', '--no-stack-probe']);
    const blocked = fastCgiGet(listener.address, '/spin?60000');
    const [line] = await listener.waitForLog(/^.*killing it$/m);
    expect(line).toMatch(
      /running at its last report GET \/app\/spin\?60000 \([\d.]+ s\); no JavaScript stack: the stack probe is off \(--no-stack-probe\)/,
    );
    expect((await blocked).status).toBe(0);
  });
});
