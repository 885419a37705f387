// `tsgi run APP`: one command for every deployment — detects CGI, FastCGI (fd 0, systemd, --listen) or development.
import { APP_SHAPES_HELP } from '../deploy/detect-app.js';
import { CliError } from './cli-error.js';
import type { Command } from './main.js';
import { appOrDefault, DEFAULT_APP_HELP, devHostPort } from './dev-address.js';
import { parseFlags } from './parse-flags.js';

const HELP = `usage: tsgi run [APP] [--cgi | --fastcgi] [--listen ADDRESS] [--host HOST -p PORT] [--explain-mode]

Serves APP the way it was started, as a 'tsgi build' file does:
  CGI             the request is in the environment (GATEWAY_INTERFACE, REQUEST_METHOD): a cgi-bin wrapper
  FastCGI (fd 0)  fd 0 is a listening socket: lighttpd bin-path, spawn-fcgi, Apache mod_fcgid
  FastCGI (fd 3)  systemd socket activation (LISTEN_FDS and LISTEN_PID for this process)
  FastCGI         --listen HOST:PORT | unix:/PATH (nginx fastcgi_pass, Apache mod_proxy_fcgi)
  development     none of those: the development server on http://127.0.0.1:8000/ (--host, --port)
${DEFAULT_APP_HELP}. NODE_ENV is set to production (development in the development mode) unless it is set.

options:
  --cgi, --fastcgi   skip detection (also TSGI_MODE=cgi|fastcgi)
  --listen ADDRESS   FastCGI on this address (also TSGI_LISTEN)
  --host HOST        development mode: interface (default 127.0.0.1, or $HOST)
  -p, --port PORT    development mode: TCP port (default 8000, or $PORT; 0 picks a free one)
  --explain-mode     print the mode and the reasons, then exit
  -h, --help         this text

examples:
  tsgi run app.ts --explain-mode
  printf '#!/bin/sh\\nexec tsgi run /srv/app.ts\\n' > /usr/lib/cgi-bin/app

${APP_SHAPES_HELP}
`;

const USAGE_HINT = "run 'tsgi run --help' for usage";

function describeLoadError(error: unknown): string {
  if (error instanceof CliError) return `${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}`;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.split('\n')[0] ?? message;
}

function parseRunArgs(args: string[]) {
  return parseFlags(
    args,
    {
      cgi: { type: 'boolean' },
      fastcgi: { type: 'boolean' },
      listen: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      'explain-mode': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE_HINT,
  );
}

/** `tsgi run`. */
export const command: Command = {
  summary:
    'serve APP as CGI, FastCGI or the development server, whichever way it was started (--explain-mode)',
  async run(args) {
    const { values, positionals } = parseRunArgs(args);
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const [given, extra] = positionals;
    const spec = appOrDefault(given, process.cwd(), USAGE_HINT);
    if (extra !== undefined) throw new CliError(`unexpected argument '${extra}'`, USAGE_HINT);
    const { RunMode, decideRunMode, formatRunMode, modeOverride } = await import('../deploy/run-mode.js');
    const { probeStdin } = await import('../shared/stdin-probe.js');
    let decision;
    try {
      decision = decideRunMode({
        env: process.env,
        pid: process.pid,
        stdin: probeStdin(0),
        override: modeOverride({ cgi: values.cgi, fastcgi: values.fastcgi }, process.env),
        listen: values.listen ?? (process.env.TSGI_LISTEN || undefined),
        fallback: 'development',
      });
    } catch (error) {
      throw new CliError((error as Error).message, USAGE_HINT);
    }
    if (values['explain-mode'] === true) {
      process.stdout.write(`${formatRunMode(decision)}\n`);
      return 0;
    }
    if (decision.problem !== undefined) throw new CliError(decision.problem, USAGE_HINT);
    const { loadApp, loadDetectedApp } = await import('./load-app.js');
    if (decision.mode === RunMode.Cgi) {
      // The same start as `tsgi cgi` and built files: HTTP_PROXY removed before the app loads, 500 if it fails.
      const { startCgi } = await import('../cgi/index.js');
      return startCgi({ name: 'tsgi run', load: () => loadApp(spec), describeLoadError });
    }
    process.env.NODE_ENV ??= decision.mode === RunMode.Development ? 'development' : 'production';
    const { app, detected } = await loadDetectedApp(spec);
    const { servedAs } = await import('../deploy/detect-app.js');
    const why = decision.reasons.join('; ');
    if (decision.mode === RunMode.Development) {
      const { serve } = await import('../http/index.js');
      const { host, port } = devHostPort(values, process.env);
      const server = await serve(app, { host, port, validate: true });
      process.stderr.write(
        `tsgi run: development server on ${server.url} (mode development: ${why}${servedAs(detected)})\n`,
      );
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) {
          process.once(signal, () => void server.close().then(() => resolve()));
        }
      });
      return 0;
    }
    const { serveFastCgi, NoListenAddressError } = await import('../fastcgi/index.js');
    const listen =
      decision.mode === RunMode.FastCgiListen && decision.listen !== undefined
        ? [decision.listen]
        : decision.mode === RunMode.FastCgiInherited
          ? ['fd:0']
          : undefined;
    let running;
    try {
      running = await serveFastCgi(app, {
        ...(listen !== undefined ? { listen } : {}),
        log: (line) =>
          process.stderr.write(
            line.startsWith('tsgi fastcgi: listening')
              ? `${line}; mode ${decision.mode}: ${why}${servedAs(detected)}\n`
              : `${line}\n`,
          ),
      });
    } catch (error) {
      // Nothing to listen on, or a socket that refuses (in use, not a socket): one line, as tsgi fastcgi says it.
      const message = (error as Error).message.replace(/^tsgi fastcgi: /, '');
      if (error instanceof NoListenAddressError) throw new CliError(message, USAGE_HINT);
      if (typeof (error as NodeJS.ErrnoException).code === 'string') {
        throw new CliError(`cannot listen: ${message}`, 'check --listen, or the socket the server passed', 1);
      }
      throw error;
    }
    return running.stopped;
  },
};
