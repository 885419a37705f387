// Server-sent events: a tsgi app that yields one event at a time, sent as it is produced (not buffered whole).
//
//   tsgi fastcgi examples/streaming.ts --listen 127.0.0.1:9000     # behind nginx (scripts/recipes/nginx-fastcgi-tcp.conf)
//   curl -N 'http://localhost/app/events?count=5&interval=1000'
//
// nginx buffers FastCGI responses by default; the `X-Accel-Buffering: no` header below turns that off for this
// response only (the same as `fastcgi_buffering off;` in its location). Apache mod_proxy_fcgi needs
// `flushpackets=on` on the worker, lighttpd `server.stream-response-body = 2`; both are in scripts/recipes/.
import type { Application } from 'tsgi';

const encoder = new TextEncoder();

/** Resolves after `ms`, or at once when the client goes away (`tsgi.signal` aborts). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * `?count=N&interval=MS` events (default 5 every 1000 ms, at most 1000), each `id:`/`event:`/`data:` block
 * a separate body chunk. Stops early when the client disconnects, so no timer outlives the request.
 */
const app: Application = (environ, startResponse) => {
  const query = new URLSearchParams(environ.QUERY_STRING);
  const count = Math.min(Number(query.get('count') ?? 5) || 5, 1000);
  const interval = Math.min(Math.max(Number(query.get('interval') ?? 1000) || 0, 0), 60_000);
  const signal = environ['tsgi.signal'];
  startResponse('200 OK', [
    ['Content-Type', 'text/event-stream; charset=utf-8'],
    ['Cache-Control', 'no-cache'],
    ['X-Accel-Buffering', 'no'],
  ]);
  return (async function* events() {
    for (let n = 1; n <= count && !signal.aborted; n++) {
      if (n > 1) await pause(interval, signal);
      const data = JSON.stringify({ n, of: count, at: new Date().toISOString() });
      yield encoder.encode(`id: ${n}\nevent: tick\ndata: ${data}\n\n`);
    }
  })();
};

export default app;
