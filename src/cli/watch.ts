// `tsgi serve --watch`: the development server in a child process, restarted when a file of the app changes.
// A restart (not a re-import) is what makes every module, and what the app's module code set up, new again;
// `node --watch` cannot do it because a .ts app is imported from the transpile cache (issue 11).
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { relative } from 'node:path';

/** Only files a module can import restart the server (a log file written beside the app must not). */
const SOURCE = /\.([cm]?[jt]sx?|json)$/;
/** Changes under these never restart the server: dependencies, VCS data, caches, editors' swap files. */
const IGNORED = /(^|\/)(node_modules|\.git|dist|coverage|\.cache)(\/|$)|(^|\/)\.|~$|\.swp$/;

/** How long to wait after a change for the rest of a save (editors write several files, or one twice). */
const SETTLE_MS = 100;
/** How long a stopping server may take (requests in flight) before the restart stops waiting for it. */
const STOP_GRACE_MS = 1000;

/**
 * Runs `tsgi serve ARGS` (without --watch) in a child process and restarts it whenever a file under `root`
 * changes, within about SETTLE_MS plus the app's start-up. Resolves with the exit status when SIGINT or SIGTERM
 * stops it.
 */
export function serveWatching(args: readonly string[], root: string): Promise<number> {
  let child: ChildProcess | undefined;
  let restarting = false;
  let stopping = false;
  const start = (): void => {
    child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? 'tsgi', 'serve', ...args], {
      stdio: 'inherit',
    });
  };
  const stopChild = (): Promise<void> =>
    new Promise((resolve) => {
      const current = child;
      if (current === undefined || current.exitCode !== null || current.signalCode !== null) return resolve();
      const kill = setTimeout(() => current.kill('SIGKILL'), STOP_GRACE_MS);
      current.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      current.kill('SIGTERM');
    });

  let timer: NodeJS.Timeout | undefined;
  let changed = '';
  const onChange = (filename: string | null): void => {
    if (filename === null || !SOURCE.test(filename) || IGNORED.test(filename) || stopping) return;
    changed = filename;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (restarting) return;
      restarting = true;
      process.stderr.write(`tsgi serve: ${changed} changed, restarting\n`);
      void stopChild().then(() => {
        restarting = false;
        if (!stopping) start();
      });
    }, SETTLE_MS);
  };
  let watcher: FSWatcher;
  try {
    watcher = watch(root, { recursive: true }, (_event, filename) => onChange(filename));
  } catch (error) {
    process.stderr.write(`tsgi serve: cannot watch ${root}: ${(error as Error).message}\n`);
    return Promise.resolve(1);
  }
  process.stderr.write(`tsgi serve: watching ${relative(process.cwd(), root) || '.'} for changes\n`);
  start();
  return new Promise((resolve) => {
    const stop = (): void => {
      stopping = true;
      watcher.close();
      clearTimeout(timer);
      void stopChild().then(() => resolve(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
