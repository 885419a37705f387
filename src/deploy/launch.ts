// The runtime of a `tsgi build` file: reads its flags, decides the run mode, then serves CGI or FastCGI.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import type { Application } from '../shared/types.js';
import { AppShapeError, servedAs, toApplication, type DetectedApp } from './detect-app.js';
import { RunMode, decideRunMode, formatRunMode, modeOverride, type RunModeDecision } from './run-mode.js';
import { probeStdin } from '../shared/stdin-probe.js';

type CgiModule = typeof import('../cgi/index.js');
type FastCgiModule = typeof import('../fastcgi/index.js');

/** What the generated entry of a built file passes in; every part is loaded only when its mode runs. */
export interface LaunchOptions {
  /** The mode fixed at build time (`tsgi build --cgi|--fastcgi`); undefined detects it. */
  readonly built?: 'cgi' | 'fastcgi';
  /** Imports the application's module (bundled). */
  readonly app: () => Promise<Record<string, unknown>>;
  /** The export that is the application (`default` unless APP was `path#name`). */
  readonly exportName: string;
  readonly cgi?: () => Promise<CgiModule>;
  readonly fastcgi?: () => Promise<FastCgiModule>;
  /** Describes the code cache for `--explain-mode` (set by the loader, see loader.ts). */
  readonly cacheNote?: string;
}

function usage(name: string, options: LaunchOptions): string {
  const modes = [options.cgi ? 'CGI' : '', options.fastcgi ? 'FastCGI' : ''].filter(Boolean).join(' and ');
  return `usage: ${name} [--cgi | --fastcgi] [--listen ADDRESS] [--explain-mode]

A tsgi application built by 'tsgi build': one self-contained file that serves ${modes}.
It decides how to serve from how it was started:
  CGI       a web server runs it with the request in its environment (GATEWAY_INTERFACE, REQUEST_METHOD):
            copy it into a cgi-bin (Apache ScriptAlias + mod_cgid, lighttpd mod_cgi)
  FastCGI   fd 0 is a listening socket (lighttpd bin-path, spawn-fcgi, Apache mod_fcgid), systemd socket
            activation (LISTEN_FDS), or --listen 127.0.0.1:9000 | unix:/run/app.sock (nginx fastcgi_pass)

options:
  --cgi, --fastcgi      skip detection (also TSGI_MODE=cgi|fastcgi)
  --listen ADDRESS      FastCGI on HOST:PORT, [IPV6]:PORT or unix:/PATH (also TSGI_LISTEN)
  --socket-mode MODE    unix socket file mode (default 660)
  --socket-group GROUP  unix socket group (the web server's, e.g. www-data)
  --explain-mode        print the mode this start would use, and why, then exit
  -h, --help            this text

environment:
  TSGI_CACHE_DIR        where the V8 code cache goes (default: a per-user directory in the temp dir; off = none)
`;
}

const FLAGS = {
  cgi: { type: 'boolean' },
  fastcgi: { type: 'boolean' },
  listen: { type: 'string' },
  'socket-mode': { type: 'string' },
  'socket-group': { type: 'string' },
  'explain-mode': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

// A web server starts a CGI program without arguments: skip parseArgs then (node:util's parser is one more
// module to load on every request).
type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; strict: true }>>['values'];
function parseFlags(args: string[]): Flags {
  if (args.length === 0) return {};
  return parseArgs({ args, options: FLAGS, strict: true }).values;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** The application export from the bundled module (a tsgi app, or a framework through its adapter). */
async function pickApp(
  module: Record<string, unknown>,
  exportName: string,
): Promise<{ app: Application; detected: DetectedApp }> {
  try {
    return await toApplication(module[exportName], `the bundled module's export '${exportName}'`);
  } catch (error) {
    if (error instanceof AppShapeError) throw new Error(`${error.message}; ${error.hint}`);
    throw error;
  }
}

// The one CGI start sequence (src/cgi/start.ts): httpoxy, NODE_ENV, stdout captured, load (500 on failure), run,
// flush and exit.
async function serveCgi(options: LaunchOptions, name: string): Promise<number> {
  if (options.cgi === undefined) fail('tsgi: this file was built with --fastcgi; it cannot serve CGI');
  const { startCgi } = await options.cgi();
  return startCgi({
    name,
    load: async () => (await pickApp(await options.app(), options.exportName)).app,
    // The app's own failure: its stack is what the operator needs.
    describeLoadError: (error) =>
      `the application failed to load: ${(error as Error)?.stack ?? String(error)}`,
  });
}

async function serveFastCgi(
  options: LaunchOptions,
  decision: RunModeDecision,
  socket: { mode?: string; group?: string },
): Promise<void> {
  if (options.fastcgi === undefined) fail('tsgi: this file was built with --cgi; it cannot serve FastCGI');
  process.env.NODE_ENV ??= 'production';
  const fastcgi = await options.fastcgi();
  let app: Application;
  let detected: DetectedApp;
  try {
    ({ app, detected } = await pickApp(await options.app(), options.exportName));
  } catch (error) {
    // The app's own failure: its stack is what the operator needs.
    throw new Error(`the application failed to load: ${(error as Error)?.stack ?? String(error)}`);
  }
  const listen =
    decision.mode === RunMode.FastCgiListen && decision.listen !== undefined
      ? [decision.listen]
      : decision.mode === RunMode.FastCgiInherited
        ? ['fd:0']
        : undefined; // systemd: serveFastCgi takes LISTEN_FDS itself
  const why = decision.reasons.join('; ');
  await fastcgi.serveFastCgi(app, {
    ...(listen !== undefined ? { listen } : {}),
    ...(socket.mode !== undefined ? { socketMode: fastcgi.parseSocketMode(socket.mode) } : {}),
    ...(socket.group !== undefined ? { socketGroup: socket.group } : {}),
    // The start line says which mode and why, so a wrong guess shows in the web server's error log.
    log: (line) =>
      process.stderr.write(
        line.startsWith('tsgi fastcgi: listening')
          ? `${line}; mode ${decision.mode}: ${why}${servedAs(detected)}\n`
          : `${line}\n`,
      ),
  });
}

/**
 * Entry point of a built file. Parses its own flags (a web server passes none to a CGI program, so flags are
 * only for people and service managers), decides the run mode, and serves. CGI exits as soon as the response
 * is out, even if the application left timers or sockets open: one request per process (RFC 3875 §1).
 */
export async function launch(options: LaunchOptions): Promise<void> {
  const name = basename(process.argv[1] ?? 'app');
  let values: Flags;
  try {
    values = parseFlags(process.argv.slice(2));
  } catch (error) {
    fail(`${name}: ${(error as Error).message.split('. ')[0]} (run '${name} --help')`);
  }
  if (values.help === true) {
    process.stdout.write(usage(name, options));
    return;
  }
  let decision: RunModeDecision;
  try {
    decision = decideRunMode({
      env: process.env,
      pid: process.pid,
      stdin: probeStdin(0),
      override: modeOverride({ cgi: values.cgi, fastcgi: values.fastcgi }, process.env, options.built),
      listen: values.listen ?? (process.env.TSGI_LISTEN || undefined),
      fallback: 'usage',
    });
  } catch (error) {
    fail(`${name}: ${(error as Error).message}`);
  }
  if (values['explain-mode'] === true) {
    const cache = options.cacheNote === undefined ? '' : `\ncode cache: ${options.cacheNote}`;
    process.stdout.write(`${formatRunMode(decision)}${cache}\n`);
    return;
  }
  if (decision.mode === RunMode.Cgi) {
    await serveCgi(options, name);
    return;
  }
  if (decision.mode === RunMode.Usage) {
    if (decision.problem !== undefined) fail(`${name}: ${decision.problem}\n${formatRunMode(decision)}`);
    process.stderr.write(`${usage(name, options)}\n${formatRunMode(decision)}\n`);
    process.exit(2);
  }
  try {
    await serveFastCgi(options, decision, { mode: values['socket-mode'], group: values['socket-group'] });
  } catch (error) {
    // A bad address, a socket in use, an app that throws while loading: one line (plus the app's stack), then
    // exit so that the launcher (lighttpd, mod_fcgid, systemd) sees the failure.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: cannot serve FastCGI: ${message}\n`);
    process.exit(1);
  }
}
