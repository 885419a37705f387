// The development server's one-line access log: Common Log Format plus the response time.
import type { NodeResponseReport } from './to-node.js';
import { escapeLogText, formatLogTime } from '../shared/log-line.js';
import { plainAddress } from '../shared/peer-address.js';

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
  const remote = plainAddress(report.remoteAddress) ?? '-';
  const requestLine = `${request.method ?? '-'} ${request.url ?? '-'} HTTP/${request.httpVersion}`;
  const status = outcome.status === undefined ? '-' : String(outcome.status);
  const duration = `${report.durationMs.toFixed(1)}ms`;
  const suffix = outcome.ok ? '' : ' incomplete';
  const time = now === undefined ? currentLogTime() : formatLogTime(now);
  return `${remote} - - [${time}] "${escapeLogText(requestLine)}" ${status} ${report.bytesSent} ${duration}${suffix}`;
}
