// Running one CGI program for one request (RFC 3875): the tsgi side of fcgiwrap and Apache's mod_cgi.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname } from 'node:path';
// Built-ins fetched when a program runs, not when tsgi/cgi loads: a built CGI file loads this module too, and
// every CGI request pays its start-up (test/unit/cgi/cold-path.test.ts).
import { nodeBuiltin } from '../shared/node-builtins.js';
import type { Body, Environ, StartResponse } from '../shared/types.js';
import { metaVariables, type ProgramTarget } from './meta-variables.js';
import { plainPage, type HostLog } from './plain-page.js';
import { CgiHeadParser, gatewayHeaders, type CgiHead } from '../shared/cgi-head.js';
import { drainedOrClosed } from '../shared/drained.js';

/** Options of {@link runProgram}, `fromCgi` and `fromCgiBin`. */
export interface CgiHostOptions {
  /** A program still running after this long is killed: 504 before its head, cut off after (default 60 s). */
  timeoutMs?: number;
  /** Extra environment variables for every program (after the meta-variables, so they win). */
  env?: Readonly<Record<string, string>>;
  /** Where the host's own lines go (default: the request's `tsgi.errors`). */
  log?: HostLog;
  /**
   * The program's stderr: `errors` (default) copies it into the request's `tsgi.errors`; `inherit` hands the
   * program this process's own stderr (the listener's log, as fcgiwrap does), which spares a pipe per request.
   */
  stderr?: 'errors' | 'inherit';
}

export const DEFAULT_CGI_TIMEOUT_MS = 60_000;
// A program asked to stop (client gone, timeout) gets this long after SIGTERM before SIGKILL.
const KILL_GRACE_MS = 1000;

/** Signals the program's whole process group: a shell script's children must not outlive the request. */
function killGroup(child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function stopProgram(child: ChildProcessWithoutNullStreams): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  killGroup(child, 'SIGTERM');
  setTimeout(() => killGroup(child, 'SIGKILL'), KILL_GRACE_MS).unref();
}

// The request body to the program's stdin, chunk by chunk as the program reads it (back-pressure both ways),
// never past CONTENT_LENGTH (tsgi.input guarantees that). A program that exits without reading is not an error.
async function feedStdin(environ: Environ, child: ChildProcessWithoutNullStreams): Promise<void> {
  const stdin = child.stdin;
  stdin.on('error', () => {});
  try {
    for await (const chunk of environ['tsgi.input']) {
      if (stdin.destroyed) return;
      if (!stdin.write(chunk)) {
        await drainedOrClosed(stdin);
      }
    }
  } catch {
    // The client went away mid-upload: the abort signal stops the program.
  } finally {
    stdin.end();
  }
}

// A request without a body gets /dev/null as stdin (RFC 3875 §4.1.2: no CONTENT_LENGTH, no body to read);
// a body of unknown length (chunked, tsgi.input_terminated) is streamed like any other.
function requestHasBody(environ: Environ): boolean {
  const length = environ.CONTENT_LENGTH;
  if (length !== undefined && length !== '') return length !== '0';
  const method = environ.REQUEST_METHOD;
  return method !== 'GET' && method !== 'HEAD' && environ['tsgi.input_terminated'];
}

/**
 * Runs `target` for the request in `environ` and answers with its output: the head parsed as RFC 3875 §6
 * (502 when there is none), the body streamed as the program writes it and as the client takes it. The program
 * runs in its own process group in its own directory; it is killed when the client goes away (tsgi.signal or
 * the body closed early) or after `timeoutMs` (504).
 */
export async function runProgram(
  environ: Environ,
  startResponse: StartResponse,
  target: ProgramTarget,
  options: CgiHostOptions = {},
): Promise<Body> {
  const errors = environ['tsgi.errors'];
  const log = options.log ?? ((line: string) => errors.write(`${line}\n`));
  const hasBody = requestHasBody(environ);
  const child = nodeBuiltin('node:child_process').spawn(target.file, [], {
    cwd: dirname(target.file),
    env: metaVariables(environ, target, options.env),
    detached: true,
    // Each pipe costs the host a handle and a stream per request (spawning is most of a CGI request's cost).
    stdio: [hasBody ? 'pipe' : 'ignore', 'pipe', options.stderr === 'inherit' ? 'inherit' : 'pipe'],
  }) as ChildProcessWithoutNullStreams;
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError ??= error));
  child.stderr?.on('data', (chunk: Uint8Array) => errors.write(chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    log(
      `tsgi cgi: ${target.scriptName || target.file} ran past ${options.timeoutMs ?? DEFAULT_CGI_TIMEOUT_MS} ms, killed`,
    );
    stopProgram(child);
  }, options.timeoutMs ?? DEFAULT_CGI_TIMEOUT_MS);
  const signal = environ['tsgi.signal'];
  const onAbort = (): void => stopProgram(child);
  signal.addEventListener('abort', onAbort, { once: true });
  // `stop` false: the program closed its stdout itself and may finish its work; true: the response is over
  // early (client gone, error, no head), so nothing may keep running for it.
  const finish = (stop: boolean): void => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    if (stop) stopProgram(child);
  };
  if (hasBody) void feedStdin(environ, child);

  const stdout = child.stdout[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const reader = new CgiHeadParser();
  let head: CgiHead | undefined;
  let headError: string | undefined;
  try {
    while (head === undefined) {
      const next = await stdout.next();
      if (next.done === true) break;
      head = reader.push(next.value);
    }
  } catch (error) {
    headError = (error as Error).message;
  }
  if (head === undefined) {
    finish(true);
    if (timedOut) return plainPage(startResponse, 504);
    const why = spawnError?.message ?? headError ?? `output ended after ${reader.received} bytes`;
    log(`tsgi cgi: ${target.scriptName || target.file} printed no valid CGI header block: ${why}`);
    return plainPage(startResponse, 502);
  }
  startResponse(head.status, gatewayHeaders(head.headers));
  const first = head.rest;
  return {
    async *[Symbol.asyncIterator]() {
      let complete = false;
      try {
        if (first.length > 0) yield first;
        while (true) {
          const next = await stdout.next();
          if (next.done === true) break;
          yield next.value;
        }
        // Killed mid-body: the response must not look complete.
        if (timedOut) throw new Error(`tsgi cgi: ${target.scriptName} timed out mid-response`);
        complete = true;
      } finally {
        finish(!complete);
      }
    },
  };
}
