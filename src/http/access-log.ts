// The development server's one-line access log: Common Log Format plus the response time.
import type { NodeResponseReport } from '../adapters/to-node.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

// Anything a client controls is escaped before it reaches a terminal or a log parser, as Apache's mod_log_config
// does since 2.0.46: no forged log lines, no terminal escape sequences.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_LOG_CHARS = /[\x00-\x1f"\\\x7f-\uffff]/g;

function escapeLogText(text: string): string {
  if (text.search(UNSAFE_LOG_CHARS) === -1) return text;
  return text.replace(UNSAFE_LOG_CHARS, (char) => {
    if (char === '"' || char === '\\') return '\\' + char;
    const code = char.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `10/Oct/2000:13:55:36 +0000`: the CLF timestamp, in UTC so that lines from any machine sort the same. */
export function formatLogTime(date: Date): string {
  const month = MONTHS[date.getUTCMonth()] as string;
  const day = `${pad2(date.getUTCDate())}/${month}/${date.getUTCFullYear()}`;
  return `${day}:${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} +0000`;
}

// The timestamp has one-second resolution: format it once per second, not once per request.
let cachedSecond = -1;
let cachedTime = '';
function currentLogTime(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedTime = formatLogTime(new Date(second * 1000));
  }
  return cachedTime;
}

/**
 * One access log line: `remote - - [time] "METHOD uri PROTO" status bytes duration`, the Common Log Format
 * (as Apache's `common` and wsgiref's simple_server) with the response time appended. `status` is `-` when no
 * head was sent; `bytes` are the body bytes sent (0 for HEAD, as Apache's `%b`); a response that was cut off
 * (error after the head, client gone) ends with `incomplete`. `now` defaults to the current second.
 */
export function formatAccessLine(report: NodeResponseReport, now?: Date): string {
  const { request, outcome } = report;
  const remote = report.remoteAddress?.replace(/^::ffff:(?=\d+\.)/i, '') ?? '-';
  const requestLine = `${request.method ?? '-'} ${request.url ?? '-'} HTTP/${request.httpVersion}`;
  const status = outcome.status === undefined ? '-' : String(outcome.status);
  const duration = `${report.durationMs.toFixed(1)}ms`;
  const suffix = outcome.ok ? '' : ' incomplete';
  const time = now === undefined ? currentLogTime() : formatLogTime(now);
  return `${remote} - - [${time}] "${escapeLogText(requestLine)}" ${status} ${report.bytesSent} ${duration}${suffix}`;
}
