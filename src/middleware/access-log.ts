// accessLog(): one line per request (Common, Combined or JSON) with the body's real byte count and the duration.
import { performance } from 'node:perf_hooks';
import { isBodilessStatus } from '../shared/constants.js';
import { getVar } from '../shared/environ.js';
import { escapeLogText, formatLogTime } from '../shared/log-line.js';
import type { Application, Body, Environ, Middleware, StartResponse, Write } from '../shared/types.js';
import { requestTarget } from '../shared/request-target.js';
import { wrapBody } from './_wrap-body.js';

/** Options of {@link accessLog}. */
export interface AccessLogOptions {
  /**
   * `common`: Apache's `%h %l %u %t "%r" %>s %b`; `combined`: that plus `"%{Referer}i" "%{User-Agent}i"`;
   * `json`: one JSON object per line with the same fields plus `duration_ms` and `complete`. Default `common`.
   */
  format?: 'common' | 'combined' | 'json';
  /** Where lines go (each ends with "\n"). Default: the request's `tsgi.errors`. */
  stream?: { write(line: string): unknown };
}

/** What one request did, as the line formats need it. */
interface Entry {
  remote: string;
  user: string;
  time: Date;
  method: string;
  uri: string;
  protocol: string;
  status: number | undefined;
  bytes: number;
  durationMs: number;
  referer: string | undefined;
  userAgent: string | undefined;
  complete: boolean;
}

function quoted(text: string | undefined): string {
  return `"${text === undefined ? '-' : escapeLogText(text)}"`;
}

function formatLine(entry: Entry, format: NonNullable<AccessLogOptions['format']>): string {
  if (format === 'json') {
    return JSON.stringify({
      time: entry.time.toISOString(),
      remote_addr: entry.remote,
      remote_user: entry.user === '-' ? null : entry.user,
      method: entry.method,
      uri: entry.uri,
      protocol: entry.protocol,
      status: entry.status ?? null,
      bytes: entry.bytes,
      duration_ms: Math.round(entry.durationMs * 1000) / 1000,
      referer: entry.referer ?? null,
      user_agent: entry.userAgent ?? null,
      complete: entry.complete,
    });
  }
  const request = escapeLogText(`${entry.method} ${entry.uri} ${entry.protocol}`);
  // CLF writes "-" for a body of no bytes (Apache's %b) and for a status never sent.
  const common =
    `${escapeLogText(entry.remote)} - ${escapeLogText(entry.user)} [${formatLogTime(entry.time)}] "${request}" ` +
    `${entry.status ?? '-'} ${entry.bytes === 0 ? '-' : entry.bytes}`;
  if (format === 'common') return common;
  return `${common} ${quoted(entry.referer)} ${quoted(entry.userAgent)}`;
}

/**
 * Logs one line per request when its body is closed, the way Apache's mod_log_config and Rack's CommonLogger
 * do: the status the application sent, the body bytes it produced (0 for HEAD, 204 and 304, whose bodies are
 * not sent), and the time from the call to the end of the body. Client-controlled text is escaped, so a
 * request cannot forge a log line. An application that failed before its head is logged as the server's 500.
 *
 * @example
 * compose(accessLog({ format: 'combined', stream: process.stdout }))(app)
 */
export function accessLog(options: AccessLogOptions = {}): Middleware {
  const format = options.format ?? 'common';
  if (!['common', 'combined', 'json'].includes(format)) {
    throw new TypeError(
      `tsgi accessLog: unknown format ${JSON.stringify(format)}; use common, combined or json`,
    );
  }
  return (app: Application): Application =>
    async function logged(environ: Environ, startResponse: StartResponse): Promise<Body> {
      const started = performance.now();
      const time = new Date();
      let status: number | undefined;
      let bytes = 0;
      let complete = false;
      // A non-empty chunk went by: the head is on its way and can no longer become the driver's 500.
      let headSent = false;
      const bodiless = (): boolean =>
        environ.REQUEST_METHOD === 'HEAD' || (status !== undefined && isBodilessStatus(status));
      const count = (chunk: Uint8Array): void => {
        if (!(chunk instanceof Uint8Array)) return;
        if (chunk.byteLength > 0) headSent = true;
        if (!bodiless()) bytes += chunk.byteLength;
      };
      const start: StartResponse = (line, headers, ...excInfo: unknown[]): Write => {
        const write = startResponse(line, headers, ...excInfo);
        status = Number(String(line).slice(0, 3));
        return (chunk) => {
          count(chunk);
          return write(chunk);
        };
      };
      const emit = (): void => {
        const line = formatLine(
          {
            remote: getVar(environ, 'REMOTE_ADDR') || '-',
            user: getVar(environ, 'REMOTE_USER') || '-',
            time,
            method: environ.REQUEST_METHOD,
            uri: requestTarget(environ).original,
            protocol: environ.SERVER_PROTOCOL,
            status,
            bytes,
            durationMs: performance.now() - started,
            referer: getVar(environ, 'HTTP_REFERER'),
            userAgent: getVar(environ, 'HTTP_USER_AGENT'),
            complete,
          },
          format,
        );
        (options.stream ?? environ['tsgi.errors']).write(line + '\n');
      };
      let body: Body;
      try {
        body = await app(environ, start);
      } catch (error) {
        // The response driver answers this with its 500 page.
        status = 500;
        emit();
        throw error;
      }
      return wrapBody(body, {
        chunk(chunk) {
          count(chunk);
          return chunk;
        },
        end() {
          complete = true;
        },
        error() {
          // Before the head this becomes the driver's 500; after it, a cut-off with the status already sent.
          if (!headSent) status = 500;
        },
        close: emit,
      });
    };
}
