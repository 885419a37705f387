// The pool's status and ping pages (FPM's pm.status_path and ping.path), answered through FastCGI itself.
import type { Application, Environ } from '../../shared/types.js';
import type { PoolSnapshot, ProcessSnapshot } from './messages.js';

/** Where the pages are and how to get the pool's state. */
export interface PoolPagesOptions {
  /** Answered with the status page when SCRIPT_NAME + PATH_INFO is exactly this. */
  statusPath?: string;
  /** Answered with `pong` when SCRIPT_NAME + PATH_INFO is exactly this. */
  pingPath?: string;
  /** The pool's state now (asked of the primary in a worker). */
  snapshot: () => PoolSnapshot | Promise<PoolSnapshot>;
}

const NO_CACHE: [string, string] = ['Cache-Control', 'no-cache, no-store, must-revalidate'];

/**
 * Wraps `app` so that the status and ping paths are answered by the pool. They are matched against the
 * request's path (SCRIPT_NAME + PATH_INFO) as the web server sent it, so its own `location` rules decide who
 * reaches them, as they do for FPM's. Without either path `app` is returned as it is (no cost per request).
 */
export function withPoolPages(app: Application, options: PoolPagesOptions): Application {
  const { statusPath, pingPath } = options;
  if (statusPath === undefined && pingPath === undefined) return app;
  return (environ, startResponse) => {
    const path = `${str(environ.SCRIPT_NAME)}${str(environ.PATH_INFO)}`;
    if (path === pingPath) {
      startResponse('200 OK', [['Content-Type', 'text/plain'], NO_CACHE]);
      return [Buffer.from('pong\n')];
    }
    if (path !== statusPath) return app(environ, startResponse);
    return (async () => {
      const query = new URLSearchParams(str(environ.QUERY_STRING));
      const format = query.has('json') ? 'json' : query.has('openmetrics') ? 'openmetrics' : 'text';
      const page = renderStatus(await options.snapshot(), format, query.has('full'), Date.now());
      startResponse('200 OK', [['Content-Type', page.contentType], NO_CACHE]);
      return [Buffer.from(page.body)];
    })();
  };
}

function str(value: Environ[string]): string {
  return typeof value === 'string' ? value : '';
}

/** The status page in FPM's text, JSON or OpenMetrics format; `full` adds one block per process. */
export function renderStatus(
  snapshot: PoolSnapshot,
  format: 'text' | 'json' | 'openmetrics',
  full: boolean,
  now: number,
): { contentType: string; body: string } {
  const since = Math.max(0, Math.floor(now / 1000) - snapshot.startTime);
  const pool: [string, string | number][] = [
    ['pool', snapshot.pool],
    ['process manager', snapshot.processManager],
    ['start time', snapshot.startTime],
    ['start since', since],
    ['accepted conn', snapshot.acceptedConn],
    ['listen queue', snapshot.listenQueue],
    ['max listen queue', snapshot.maxListenQueue],
    ['listen queue len', snapshot.listenQueueLen],
    ['idle processes', snapshot.idleProcesses],
    ['active processes', snapshot.activeProcesses],
    ['total processes', snapshot.totalProcesses],
    ['max active processes', snapshot.maxActiveProcesses],
    ['max children reached', snapshot.maxChildrenReached],
    ['slow requests', snapshot.slowRequests],
  ];
  const processes = snapshot.processes.map((p) => processFields(p, now));
  if (format === 'json') {
    const body: Record<string, unknown> = Object.fromEntries(pool);
    if (full) body.processes = processes.map((fields) => Object.fromEntries(fields));
    return { contentType: 'application/json', body: JSON.stringify(body) };
  }
  if (format === 'openmetrics') return { contentType: OPENMETRICS, body: openMetrics(snapshot, since, full) };
  const width = 22;
  const line = ([name, value]: [string, string | number]): string =>
    `${`${name}:`.padEnd(width)}${name === 'start time' ? httpDate(Number(value)) : value}\n`;
  let body = pool.map(line).join('');
  if (full)
    for (const fields of processes) body += `\n************************\n${fields.map(line).join('')}`;
  return { contentType: 'text/plain', body };
}

function processFields(p: ProcessSnapshot, now: number): [string, string | number][] {
  return [
    ['pid', p.pid],
    ['state', p.state],
    ['start time', p.startTime],
    ['start since', Math.max(0, Math.floor(now / 1000) - p.startTime)],
    ['requests', p.requests],
    ['request duration', p.requestDuration],
    ['request method', p.requestMethod],
    ['request URI', p.requestUri],
    ['content length', p.contentLength],
    ['last request memory', p.memory],
  ];
}

// FPM writes the start time as in its access log: 07/Dec/2026:04:45:27 +0000.
function httpDate(seconds: number): string {
  const d = new Date(seconds * 1000);
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${month}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

// OpenMetrics 1.0: every family has TYPE and HELP, counters end in _total, the exposition ends with # EOF.
function openMetrics(s: PoolSnapshot, since: number, full: boolean): string {
  const label = `pool="${escapeLabel(s.pool)}"`;
  const families: [string, 'gauge' | 'counter', string, number][] = [
    ['tsgi_up', 'gauge', 'Whether the pool answered', 1],
    ['tsgi_start_since_seconds', 'gauge', 'Seconds since the pool started', since],
    ['tsgi_accepted_connections', 'counter', 'Requests accepted by the pool', s.acceptedConn],
    ['tsgi_listen_queue', 'gauge', 'Connections waiting in the accept queue (TCP)', s.listenQueue],
    ['tsgi_max_listen_queue', 'gauge', 'Largest accept queue seen', s.maxListenQueue],
    ['tsgi_listen_queue_length', 'gauge', 'Size of the accept queue (backlog)', s.listenQueueLen],
    ['tsgi_idle_processes', 'gauge', 'Idle worker processes', s.idleProcesses],
    ['tsgi_active_processes', 'gauge', 'Worker processes serving a request', s.activeProcesses],
    ['tsgi_total_processes', 'gauge', 'Worker processes', s.totalProcesses],
    ['tsgi_max_active_processes', 'gauge', 'Most worker processes active at once', s.maxActiveProcesses],
    [
      'tsgi_max_children_reached',
      'counter',
      'Times the process manager wanted more workers than allowed',
      s.maxChildrenReached,
    ],
    ['tsgi_slow_requests', 'counter', 'Requests past --slow-request', s.slowRequests],
  ];
  let out = '';
  for (const [name, type, help, value] of families) {
    out += `# TYPE ${name} ${type}\n# HELP ${name} ${help}.\n${name}${type === 'counter' ? '_total' : ''}{${label}} ${value}\n`;
  }
  if (full) {
    const perProcess: [string, 'gauge' | 'counter', string, (p: ProcessSnapshot) => number][] = [
      ['tsgi_process_requests', 'counter', 'Requests served by the process', (p) => p.requests],
      [
        'tsgi_process_request_duration_microseconds',
        'gauge',
        'Duration of the current request',
        (p) => p.requestDuration,
      ],
      ['tsgi_process_memory_bytes', 'gauge', 'Resident memory of the process', (p) => p.memory],
    ];
    for (const [name, type, help, value] of perProcess) {
      out += `# TYPE ${name} ${type}\n# HELP ${name} ${help}.\n`;
      for (const p of s.processes) {
        out += `${name}${type === 'counter' ? '_total' : ''}{${label},pid="${p.pid}",state="${p.state}"} ${value(p)}\n`;
      }
    }
  }
  return `${out}# EOF\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
