// runCgi: one request per process (RFC 3875) — environment + stdin in, Status/headers/body on stdout out.
import type { Writable } from 'node:stream';
import { escapeLogText } from '../shared/log-line.js';
import { serveRequest } from '../shared/serve-request.js';
import type { Application, ErrorStream } from '../shared/types.js';
import { readRequestVariables } from './environ-bytes.js';
import { captureStdout } from './capture-stdout.js';
import { removeHttpoxy } from './httpoxy.js';
import { createCgiBody, type CgiBody } from './stdin-source.js';
import { createFdSink, createStdoutSink, writeAllSync, type StdoutSink } from './stdout-sink.js';

/** Where one CGI request comes from and goes to; every field defaults to this process's own. */
export interface CgiOptions {
  /** Request meta-variables as ISO-8859-1 strings (default: the environment block, read as bytes). */
  variables?: Readonly<Record<string, string | undefined>>;
  /** File descriptor of the request body (default 0, stdin). */
  stdinFd?: number;
  /** Where the response goes (default: file descriptor 1, written with blocking writes). */
  stdout?: Writable;
  /** Where `tsgi.errors` and the runner's own log lines go (default: file descriptor 2, blocking writes). */
  stderr?: Writable;
  /**
   * Treat SIGTERM as a cancelled request while the app runs (default: true when writing to fd 1): Apache
   * mod_cgid and lighttpd mod_cgi send it when the client goes away, and the app should get `tsgi.signal`
   * aborted and its body's `close()` called rather than die mid-step.
   */
  handleSigterm?: boolean;
}

/** How long an app may take to wind down after SIGTERM before the process exits anyway. */
const SIGTERM_GRACE_MS = 2000;

/** Exit status of a CGI run whose response was cut off (error after the head, Content-Length not met, EPIPE). */
export const EXIT_CUT_OFF = 1;

// Blocking writes to fd 2 (as fd 1): ordered with the response, and no process.stderr stream to set up (~3 ms).
// A caller's own stream, or a non-blocking descriptor, gets stream writes instead.
function errorStream(out: Writable | undefined): ErrorStream {
  let stream = out;
  return {
    write(text) {
      const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
      if (stream === undefined) {
        try {
          return writeAllSync(2, bytes);
        } catch (error) {
          // EPIPE or the like: stderr is gone and there is nowhere left to report; the response carries on.
          const { code, written } = error as NodeJS.ErrnoException & { written: number };
          if (code !== 'EAGAIN') return;
          stream = process.stderr;
          return void stream.write(bytes.subarray(written));
        }
      }
      stream.write(bytes);
    },
  };
}

/**
 * Runs `app` for the one request this process was started for and resolves to the exit status to use: 0 when a
 * complete response reached stdout, EXIT_CUT_OFF when it was cut off. A request that cannot become an environ
 * (no REQUEST_METHOD, a CONTENT_LENGTH that is not a number) is refused as on every front end (`serveRequest`):
 * `400 Bad Request`, one line on stderr. The body is read from fd 0 as the application reads it, never past CONTENT_LENGTH, and whatever
 * is still unread is spooled before the first response byte (see `CgiBody.spoolRest`). `HTTP_PROXY` is removed
 * from `process.env` (httpoxy; the environ keeps it). Never rejects, never calls `process.exit`:
 * `process.exitCode = await runCgi(app)`.
 */
export async function runCgi(app: Application, options: CgiOptions = {}): Promise<number> {
  const variables = options.variables ?? readRequestVariables();
  removeHttpoxy();
  const errors = errorStream(options.stderr);
  const controller = new AbortController();
  // The web server closed our stdout (client gone): stop the application quietly, nobody is listening.
  const abort = (error: Error): void => controller.abort(error);
  const sink = trackHead(
    options.stdout === undefined
      ? createFdSink(1, abort, captureStdout().realStdout)
      : createStdoutSink(options.stdout, abort),
  );

  let body: CgiBody | undefined;
  // Take the unread body off the pipe before the first response byte (Apache deadlock: see spoolRest).
  const spooling: StdoutSink = {
    get broken() {
      return sink.broken;
    },
    sendHead: (status, headers) =>
      body === undefined
        ? sink.sendHead(status, headers)
        : body.spoolRest().then(() => sink.sendHead(status, headers)),
    write: (chunk) => sink.write(chunk),
    end: (ok) => sink.end(ok),
  };
  const onSigterm = (): void => {
    controller.abort(new Error('tsgi cgi: SIGTERM (the web server cancelled the request)'));
    setTimeout(() => process.exit(EXIT_CUT_OFF), SIGTERM_GRACE_MS).unref();
  };
  const handleSigterm = options.handleSigterm ?? options.stdout === undefined;
  if (handleSigterm) process.once('SIGTERM', onSigterm);
  // Nothing left in the event loop while the response is unfinished (a promise that never settles, a framework
  // waiting for body bytes that will never come): nothing can finish it any more, so say so (issue 11) instead
  // of exiting with no output, which the web server reports as "premature end of script headers".
  let onIdle = (): void => undefined;
  const stalled = new Promise<'stalled'>((resolve) => (onIdle = () => resolve('stalled')));
  process.once('beforeExit', onIdle);
  try {
    const serving = serveRequest(app, {
      variables,
      body: (contentLength = 0) => {
        body = contentLength > 0 ? createCgiBody(options.stdinFd ?? 0, contentLength) : undefined;
        return body?.source;
      },
      errors,
      sink: spooling,
      environ: { multithread: false, multiprocess: true, runOnce: true, signal: controller.signal },
    });
    const outcome = await Promise.race([serving, stalled]);
    if (outcome === 'stalled') return await unfinished(sink, spooling, errors, variables, controller);
    return outcome.ok && !sink.broken && !controller.signal.aborted ? 0 : EXIT_CUT_OFF;
  } finally {
    process.off('beforeExit', onIdle);
    if (handleSigterm) process.off('SIGTERM', onSigterm);
  }
}

/** The sink, and whether the head has gone out through it. */
interface TrackedSink extends StdoutSink {
  readonly headSent: boolean;
}

function trackHead(sink: StdoutSink): TrackedSink {
  let headSent = false;
  return {
    get broken() {
      return sink.broken;
    },
    get headSent() {
      return headSent;
    },
    sendHead(status, headers) {
      headSent = true;
      return sink.sendHead(status, headers);
    },
    write: (chunk) => sink.write(chunk),
    end: (ok) => sink.end(ok),
  };
}

async function unfinished(
  sink: TrackedSink,
  // The same sink behind the body spooler: a 500 must not deadlock on an unread body either.
  spooling: StdoutSink,
  errors: ErrorStream,
  variables: Readonly<Record<string, string | undefined>>,
  controller: AbortController,
): Promise<number> {
  const request = `${variables.REQUEST_METHOD ?? '-'} ${variables.REQUEST_URI ?? `${variables.SCRIPT_NAME ?? ''}${variables.PATH_INFO ?? ''}`}`;
  const answer = sink.headSent ? 'response cut off' : 'answered 500';
  errors.write(
    `tsgi cgi: ${escapeLogText(request)}: the application never finished its response and nothing is left to wait for (a promise that never settles, or a body shorter than CONTENT_LENGTH); ${answer}\n`,
  );
  if (!sink.headSent) await sendError(spooling, '500 Internal Server Error', 'Internal Server Error\n');
  else await sink.end(false);
  controller.abort(new Error('tsgi cgi: the response could not finish'));
  return EXIT_CUT_OFF;
}

async function sendError(sink: StdoutSink, status: string, text: string): Promise<void> {
  const body = Buffer.from(text, 'utf8');
  await sink.sendHead(status, [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.length)],
  ]);
  await sink.write(body);
  await sink.end(true);
}

/**
 * Answers this CGI request with `500 Internal Server Error` when there is no application to run (APP failed to
 * load): the client gets a real response instead of the server's "premature end of script headers", and
 * `logLine` goes to stderr, the web server's error log. Resolves to the exit status (1).
 */
export async function respondAppUnavailable(
  logLine: string,
  realStdout: () => Writable = () => process.stdout,
): Promise<number> {
  const sink = createFdSink(1, () => undefined, realStdout);
  errorStream(undefined).write(`${logLine}\n`);
  await sendError(sink, '500 Internal Server Error', 'Internal Server Error\n');
  return 1;
}
