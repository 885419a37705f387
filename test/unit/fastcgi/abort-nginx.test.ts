// Cancellation end to end: an HTTP client leaving nginx reaches the application as an aborted tsgi.signal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Application } from '../../../src/shared/types.js';
import { startListener, type TestListener } from '../../helpers/fcgi-records.js';
import { startNginx, type RunningServer } from '../../helpers/servers.js';
import { hasTool } from '../../helpers/tools.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// nginx closes its upstream connection when its client goes away mid-response (it never sends
// FCGI_ABORT_REQUEST: alibaba/tengine#639); the listener must turn that close into an abort.
describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)('a client leaving nginx', () => {
  const events: string[] = [];
  let listener: TestListener;
  let nginx: RunningServer;
  const base = (): string => `http://127.0.0.1:${nginx.port}`;

  const app: Application = (environ, start) => {
    const name = String(environ.QUERY_STRING);
    environ['tsgi.signal'].addEventListener('abort', () => events.push(`${name}: aborted`));
    start('200 OK', [['Content-Type', 'text/plain']]);
    const ticks = name === 'leaver' ? 200 : 3;
    const body = (async function* () {
      try {
        for (let i = 0; i < ticks && !environ['tsgi.signal'].aborted; i++) {
          yield Buffer.from(`tick ${i}\n`);
          await sleep(20);
        }
      } finally {
        events.push(`${name}: body returned`);
      }
    })();
    return Object.assign(body, { close: () => void events.push(`${name}: closed`) });
  };

  beforeAll(async () => {
    listener = await startListener(app, { log: () => undefined });
    nginx = await startNginx({
      http: `upstream tsgi { server 127.0.0.1:${listener.port}; keepalive 8; }`,
      server: `
        location / {
            include /etc/nginx/fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_buffering off;
            fastcgi_pass tsgi;
        }`,
    });
  });

  afterAll(async () => {
    await nginx?.stop();
    await listener?.close();
  });

  it('aborts tsgi.signal and closes the body when the HTTP client disconnects', async () => {
    const controller = new AbortController();
    const response = await fetch(`${base()}/?leaver`, { signal: controller.signal });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toMatch(/^tick 0/);
    controller.abort();
    const deadline = Date.now() + 3000;
    const wanted = ['leaver: aborted', 'leaver: body returned', 'leaver: closed'];
    while (!wanted.every((event) => events.includes(event)) && Date.now() < deadline) await sleep(20);
    expect(events).toEqual(
      expect.arrayContaining(['leaver: aborted', 'leaver: body returned', 'leaver: closed']),
    );
  });

  it('keeps answering other clients afterwards', async () => {
    const response = await fetch(`${base()}/?stayer`);
    const text = await response.text();
    expect(text).toBe('tick 0\ntick 1\ntick 2\n');
    expect(events).not.toContain('stayer: aborted');
  });
});
