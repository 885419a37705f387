// Runs `tsgi fastcgi APP` as a real child process and follows its log: where it listens, when it stopped.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/tsgi.js of this checkout (it loads dist/: build first with `node scripts/build.mjs --js-only`). */
export const TSGI_BIN = fileURLToPath(new URL('../../bin/tsgi.js', import.meta.url));
/** The app the FastCGI tests serve (routes: env, echo, sha256, stream/release, slow, crash, hello). */
export const E2E_APP = fileURLToPath(new URL('../fixtures/apps/fastcgi-e2e.mjs', import.meta.url));

/** A listener process. */
export interface ListenerProcess {
  readonly child: ChildProcess;
  /** The address from the start line (`host:port`, `[v6]:port` or `unix:/path`). */
  readonly address: string;
  /** The pid from the start line (the primary's with --workers). */
  readonly pid: number;
  /** Everything written to stderr so far. */
  log(): string;
  /** Resolves when the log matches `pattern` (rejects after `timeoutMs`). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `node bin/tsgi.js fastcgi APP ARGS…` and waits for its start line. `stdio` lets a test hand it a
 * listening socket as fd 0 (or fds from 3, as systemd does); `shell` runs it through `sh -c` (LISTEN_PID=$$).
 */
export async function startListener(
  args: readonly string[],
  options: {
    app?: string | null;
    /** The start line to wait for; null: return at once (address and pid are then empty). */
    waitFor?: RegExp | null;
    stdio?: StdioOptions;
    env?: NodeJS.ProcessEnv;
    viaShell?: string;
    timeoutMs?: number;
  } = {},
): Promise<ListenerProcess> {
  // app null: no APP argument (--scripts ROOT, --cgi-bin DIR).
  const argv = [TSGI_BIN, 'fastcgi', ...(options.app === null ? [] : [options.app ?? E2E_APP]), ...args];
  const env = { ...process.env, ...options.env };
  const child =
    options.viaShell === undefined
      ? spawn(process.execPath, argv, { stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'], env })
      : spawn('/bin/sh', ['-c', `${options.viaShell} exec "$0" "$@"`, process.execPath, ...argv], {
          stdio: options.stdio ?? ['ignore', 'pipe', 'pipe'],
          env,
        });
  live.add(child);
  let output = '';
  const watchers = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    for (const watcher of watchers) watcher();
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      for (const watcher of watchers) watcher();
      resolve(code ?? signal ?? -1);
    }),
  );
  const waitForLog = (pattern: RegExp, timeoutMs = options.timeoutMs ?? 15_000): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = output.match(pattern);
        if (match !== null) {
          cleanup();
          resolve(match);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          reject(new Error(`listener exited before logging ${pattern}:\n${output}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no ${pattern} in the listener log after ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });
  const start =
    options.waitFor === null
      ? (['', '', '0'] as unknown as RegExpMatchArray)
      : await waitForLog(options.waitFor ?? /listening on (\S+?)(?:,| ).*pid (\d+)/);
  return {
    child,
    address: start[1]!,
    pid: Number(start[2]),
    log: () => output,
    waitForLog,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
