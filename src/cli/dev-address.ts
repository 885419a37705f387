// Where a development server listens, and which app it serves when none is named: `tsgi serve` and `tsgi run`'s
// development mode share one vocabulary (issue 11) with the FastCGI listener's --listen.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseListenAddress } from '../fastcgi/listen.js';
import { CliError } from './cli-error.js';

/** Tried in this order in the current directory when APP is not given. */
export const DEFAULT_APP_FILES = [
  'app.ts',
  'app.mts',
  'app.js',
  'app.mjs',
  'index.ts',
  'index.js',
  'server.ts',
  'server.js',
] as const;

/** The help text for the flags below, and the default app list. */
export const DEV_ADDRESS_HELP = `  --listen ADDRESS  HOST:PORT, [IPV6]:PORT, unix:/PATH or fd:N (an inherited listening socket)
  --host HOST       interface to listen on (default 127.0.0.1, or $HOST; 0.0.0.0 or :: for every interface)
  -p, --port PORT   TCP port (default 8000, or $PORT; 0 picks a free one)`;

export const DEFAULT_APP_HELP = `with no APP: the first of ${DEFAULT_APP_FILES.join(', ')} in the current directory`;

/** The flags, for parseFlags. */
export const DEV_ADDRESS_FLAGS = {
  listen: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string', short: 'p' },
} as const;

/** What node:http's listen takes. */
export type DevListen = { host: string; port: number } | { path: string } | { fd: number };

const DEFAULT_PORT = 8000;

/** A TCP port: decimal digits, 0 to 65535. */
function parsePort(text: string, from: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port <= 65535)) throw new CliError(`bad port '${text}'${from}`, 'a port is a number from 0 to 65535');
  return port;
}

/**
 * The address from --listen, or --host/--port, or $HOST/$PORT (as Heroku-style platforms and most Node tools
 * set them), or 127.0.0.1:8000. --listen with --host or --port is a contradiction, refused in one line.
 */
export function devAddress(
  values: { listen?: string; host?: string; port?: string },
  env: NodeJS.ProcessEnv,
  usageHint: string,
): DevListen {
  if (values.listen !== undefined) {
    if (values.host !== undefined || values.port !== undefined) {
      throw new CliError('give --listen, or --host and --port, not both', usageHint);
    }
    let address;
    try {
      address = parseListenAddress(values.listen);
    } catch (error) {
      throw new CliError((error as Error).message, usageHint);
    }
    if (address.kind === 'tcp') return { host: address.host, port: address.port };
    return address.kind === 'unix' ? { path: address.path } : { fd: address.fd };
  }
  return devHostPort(values, env);
}

/** --host/--port, or $HOST/$PORT, or 127.0.0.1:8000 (`tsgi run`'s development mode, where --listen is FastCGI). */
export function devHostPort(
  values: { host?: string; port?: string },
  env: NodeJS.ProcessEnv,
): { host: string; port: number } {
  const port =
    values.port !== undefined
      ? parsePort(values.port, '')
      : env.PORT
        ? parsePort(env.PORT, ' (from $PORT)')
        : DEFAULT_PORT;
  return { host: values.host ?? (env.HOST || '127.0.0.1'), port };
}

/** `spec`, or the first default app file in `cwd`; a one-line error naming the files tried when none exists. */
export function appOrDefault(spec: string | undefined, cwd: string, usageHint: string): string {
  if (spec !== undefined) return spec;
  const found = DEFAULT_APP_FILES.find((name) => existsSync(join(cwd, name)));
  if (found !== undefined) return found;
  throw new CliError(`missing APP, and none of ${DEFAULT_APP_FILES.join(', ')} is in ${cwd}`, usageHint);
}
