// `--scripts ROOT` and `--cgi-bin DIR`: the flags `tsgi fastcgi` and `tsgi serve` share to serve a directory
// instead of one APP (issue 12). Each front end spreads SCRIPT_FLAGS into its parser and calls resolveApp.
import type { DetectedApp } from '../deploy/detect-app.js';
import type { Application } from '../shared/types.js';
import { CliError } from './cli-error.js';

export const SCRIPT_FLAGS = {
  scripts: { type: 'string' },
  revalidate: { type: 'string' },
  'max-scripts': { type: 'string' },
  'cgi-bin': { type: 'string' },
  'cgi-timeout': { type: 'string' },
} as const;

export const SCRIPT_FLAGS_HELP = `instead of APP, a directory (the request's SCRIPT_FILENAME names the file):
  --scripts ROOT          each .ts/.mts/.js/.mjs file under ROOT is an application, loaded once per
                          process and re-imported when it or a file it imports changes
  --revalidate MS         check scripts for changes at most this often (default 1000)
  --max-scripts N         scripts kept loaded per process, least recently used dropped (default 256)
  --cgi-bin DIR           run the executable under DIR per request as a CGI program (RFC 3875)
  --cgi-timeout SECONDS   kill a CGI program running longer (default 60; 504 before its head)
`;

// A directory is a tsgi application of its own; each script's export shape is detected as it loads.
const DIRECTORY: DetectedApp = { kind: 'tsgi', label: 'tsgi application' };

/** The values parseArgs gives for SCRIPT_FLAGS. */
export interface ScriptFlagValues {
  scripts?: string;
  revalidate?: string;
  'max-scripts'?: string;
  'cgi-bin'?: string;
  'cgi-timeout'?: string;
}

function whole(name: string, text: string | undefined, min: number, hint: string): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min))
    throw new CliError(`--${name} wants a whole number of at least ${min}, got '${text}'`, hint);
  return value;
}

/** What the command serves: `spec` (APP), a script directory or a cgi-bin, exactly one; checked before loading. */
export function describeTarget(spec: string | undefined, values: ScriptFlagValues, hint: string): string {
  const given = [spec, values.scripts, values['cgi-bin']].filter((value) => value !== undefined).length;
  if (given === 0) throw new CliError('missing APP (or --scripts ROOT, or --cgi-bin DIR)', hint);
  if (given > 1) throw new CliError('give one of APP, --scripts ROOT and --cgi-bin DIR', hint);
  if (values.scripts === undefined && (values.revalidate ?? values['max-scripts']) !== undefined)
    throw new CliError('--revalidate and --max-scripts go with --scripts ROOT', hint);
  if (values['cgi-bin'] === undefined && values['cgi-timeout'] !== undefined)
    throw new CliError('--cgi-timeout goes with --cgi-bin DIR', hint);
  whole('revalidate', values.revalidate, 0, hint);
  whole('max-scripts', values['max-scripts'], 1, hint);
  if (values['cgi-timeout'] !== undefined && !/^\d+(\.\d+)?$/.test(values['cgi-timeout']))
    throw new CliError(`--cgi-timeout wants seconds (e.g. 30), got '${values['cgi-timeout']}'`, hint);
  if (values.scripts !== undefined) return `scripts in ${values.scripts}`;
  if (values['cgi-bin'] !== undefined) return `CGI programs in ${values['cgi-bin']}`;
  return spec!;
}

/**
 * The application to serve: APP through the loader, or `fromScripts` / `fromCgiBin` over the directory, whose
 * refusals and load failures are logged on this process's stderr (the listener's log), one line each.
 */
export async function resolveApp(
  spec: string | undefined,
  values: ScriptFlagValues,
  hint: string,
): Promise<{ app: Application; detected: DetectedApp }> {
  describeTarget(spec, values, hint);
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const directory = values.scripts ?? values['cgi-bin'];
  if (directory !== undefined) {
    const { statSync } = await import('node:fs');
    if (statSync(directory, { throwIfNoEntry: false })?.isDirectory() !== true)
      throw new CliError(`'${directory}' is not a directory`, hint);
  }
  if (values.scripts !== undefined) {
    const { fromScripts } = await import('../scripts-dir/index.js');
    const app = fromScripts(values.scripts, {
      revalidateMs: whole('revalidate', values.revalidate, 0, hint),
      maxScripts: whole('max-scripts', values['max-scripts'], 1, hint),
      log,
    });
    return { app, detected: DIRECTORY };
  }
  if (values['cgi-bin'] !== undefined) {
    const { fromCgiBin } = await import('../cgi-host/index.js');
    const seconds = values['cgi-timeout'] === undefined ? undefined : Number(values['cgi-timeout']);
    const app = fromCgiBin(values['cgi-bin'], {
      timeoutMs: seconds === undefined ? undefined : Math.round(seconds * 1000),
      log,
      // The programs write their stderr straight into this process's log, as under fcgiwrap.
      stderr: 'inherit',
    });
    return { app, detected: DIRECTORY };
  }
  const { loadDetectedApp } = await import('./load-app.js');
  return loadDetectedApp(spec!);
}
