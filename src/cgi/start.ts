// The one CGI start sequence, shared by `tsgi cgi`, `tsgi run` in CGI mode and `tsgi build` files (issue 9, 11).
import type { Writable } from 'node:stream';
import type { Application } from '../shared/types.js';
import { captureStdout } from './capture-stdout.js';
import { readRequestVariables } from './environ-bytes.js';
import { removeHttpoxy } from './httpoxy.js';
import { respondAppUnavailable, runCgi } from './runner.js';

/** How a front end starts one CGI request. */
export interface CgiStartOptions {
  /** Imports the application: called only after HTTP_PROXY is gone and stdout belongs to the response. */
  readonly load: () => Promise<Application>;
  /** The prefix of log lines (`tsgi cgi`, or a built file's name). */
  readonly name: string;
  /** One line saying why `load` failed (default: the error's first line). */
  readonly describeLoadError?: (error: unknown) => string;
  /**
   * A load failure outside a web server (no REQUEST_METHOD, someone at a shell) is thrown instead of being
   * answered with a 500, so the CLI can print its usual hint.
   */
  readonly throwLoadErrorWithoutRequest?: boolean;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.split('\n')[0] ?? message;
}

/**
 * Serves this process's one CGI request and exits: reads the request variables, removes HTTP_PROXY from
 * process.env (httpoxy, before any of the app's code runs), sets NODE_ENV=production where it is unset, points
 * the app's console and process.stdout at stderr, loads the app (a 500 and one log line when that fails),
 * runs it, and exits once stdout and stderr are flushed, even if the app left timers or sockets open. Resolves
 * to the exit status (also set as process.exitCode).
 */
export async function startCgi(options: CgiStartOptions): Promise<number> {
  const variables = readRequestVariables();
  removeHttpoxy();
  process.env.NODE_ENV ??= 'production';
  const output = captureStdout();
  const code = await loadAndRun(options, variables, output.realStdout);
  await output.flush();
  // The response is out. Close handlers the end set off (a framework's res 'close', a body's close()) get a
  // moment to run and log; then, if the app still holds a timer or a socket (a database pool) that would keep
  // Node alive while the web server waits for our stdout to close, flush what they wrote and exit.
  setTimeout(() => void output.flush().then(() => process.exit(code)), EXIT_GRACE_MS).unref();
  process.exitCode = code;
  return code;
}

/** How long the process may stay after its response to let close handlers run, unless it ends by itself. */
const EXIT_GRACE_MS = 50;

async function loadAndRun(
  options: CgiStartOptions,
  variables: Record<string, string | undefined>,
  realStdout: () => Writable,
): Promise<number> {
  let app: Application;
  try {
    app = await options.load();
  } catch (error) {
    if (options.throwLoadErrorWithoutRequest === true && variables.REQUEST_METHOD === undefined) throw error;
    const why = (options.describeLoadError ?? firstLine)(error);
    return respondAppUnavailable(`${options.name}: cannot load APP: ${why}`, realStdout);
  }
  return runCgi(app, { variables });
}
