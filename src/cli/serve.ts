// `tsgi serve APP`: the development server on node:http, with the validator on (as rackup and plackup do).
import { APP_SHAPES_HELP } from '../deploy/detect-app.js';
import { CliError } from './cli-error.js';
import type { Command } from './main.js';
import {
  appOrDefault,
  DEFAULT_APP_HELP,
  DEV_ADDRESS_FLAGS,
  DEV_ADDRESS_HELP,
  devAddress,
  type DevListen,
} from './dev-address.js';
import { parseFlags } from './parse-flags.js';
import { SCRIPT_FLAGS, SCRIPT_FLAGS_HELP, type ScriptFlagValues } from './script-flags.js';

const HELP = `usage: tsgi serve [APP | --scripts ROOT | --cgi-bin DIR] [--listen ADDRESS | --host HOST -p PORT] [--watch] [--no-validate]

Serves APP on the development server (node:http): streaming in both directions, keep-alive, HEAD, one access
log line per request on stderr. APP is a module path, optionally path#exportName; its default export is the tsgi
application. .ts files load directly. The validator (tsgi/middleware validate) checks every request and response
against SPEC.md and reports the first breach; --no-validate turns it off. Ctrl-C (SIGINT) or SIGTERM lets the
requests in flight finish, then exits; a second signal exits at once. Not for production: use tsgi fastcgi
behind nginx, Apache or lighttpd.

${DEFAULT_APP_HELP}.
NODE_ENV is set to development unless it is set. An error before the response starts gets an HTML page with
the error and its stack (the app's own frames), here only: never under tsgi cgi or tsgi fastcgi.

options:
${DEV_ADDRESS_HELP}
  --watch           restart when a .ts/.js/.json file under APP's directory changes (not node_modules)
  --no-validate     do not wrap APP in the validator
  -h, --help        this text

${SCRIPT_FLAGS_HELP}
examples:
  tsgi serve examples/hello.ts
  tsgi serve                          (app.ts, or the first default app file here)
  tsgi serve app.ts#api --host 0.0.0.0 --port 8080 --no-validate
  tsgi serve app.ts --listen unix:/tmp/app.sock
  tsgi serve --scripts ./www          (http://127.0.0.1:8000/hello.ts/users/7 runs www/hello.ts)

${APP_SHAPES_HELP}
`;

const USAGE_HINT = "run 'tsgi serve --help' for usage";
/** The flags and APP, or a one-line CliError for anything parseArgs refuses (unknown flag, missing value). */
function parseServeArgs(args: string[]): {
  help: boolean;
  spec?: string;
  address: DevListen;
  validate: boolean;
  watch: boolean;
  directory: ScriptFlagValues;
} {
  const { values, positionals } = parseFlags(
    args,
    {
      ...DEV_ADDRESS_FLAGS,
      // parseArgs learned `--no-*` (allowNegative) in Node 22.4; Node 20 needs the flag spelled out.
      'no-validate': { type: 'boolean' },
      watch: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...SCRIPT_FLAGS,
    },
    USAGE_HINT,
  );
  if (positionals.length > 1) throw new CliError(`unexpected argument '${positionals[1]}'`, USAGE_HINT);
  return {
    help: values.help === true,
    spec: positionals[0],
    address: devAddress(values, process.env, USAGE_HINT),
    validate: values['no-validate'] !== true,
    watch: values.watch === true,
    directory: values,
  };
}

/** A listen error as one line with a way out. */
function listenError(error: NodeJS.ErrnoException, address: DevListen): CliError {
  if (!('port' in address)) {
    const where = 'path' in address ? `unix:${address.path}` : `fd:${address.fd}`;
    return new CliError(`cannot listen on ${where}: ${error.message}`, 'check the --listen address', 1);
  }
  const { host, port } = address;
  if (error.code === 'EADDRINUSE') {
    return new CliError(
      `port ${port} on ${host} is already in use`,
      'pick another with --port, or --port 0',
      1,
    );
  }
  if (error.code === 'EACCES') {
    return new CliError(
      `no permission to listen on port ${port}`,
      'ports below 1024 need root; try --port 8000',
      1,
    );
  }
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return new CliError(
      `cannot listen on host '${host}' (${error.code})`,
      'try --host 127.0.0.1 or --host 0.0.0.0',
      1,
    );
  }
  return new CliError(
    `cannot listen on ${host}:${port}: ${error.message}`,
    'try another --host or --port',
    1,
  );
}

/** Waits for SIGINT or SIGTERM, then for `close()`; a second signal while closing exits at once. */
function closeOnSignal(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', first);
      process.off('SIGTERM', first);
      process.stderr.write(
        `tsgi serve: ${signal}, finishing requests in flight (send it again to stop now)\n`,
      );
      const force = (again: NodeJS.Signals): void => process.exit(again === 'SIGINT' ? 130 : 143);
      process.once('SIGINT', force);
      process.once('SIGTERM', force);
      void close().then(() => {
        process.off('SIGINT', force);
        process.off('SIGTERM', force);
        resolve();
      });
    };
    process.on('SIGINT', first);
    process.on('SIGTERM', first);
  });
}

export const command: Command = {
  summary: 'serve APP on the development server (node:http), validator on',
  async run(args) {
    const options = parseServeArgs(args);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    // Frameworks read NODE_ENV when the app is created: development here unless told otherwise (issue 11).
    process.env.NODE_ENV ??= 'development';
    const { describeTarget, resolveApp } = await import('./script-flags.js');
    const { scripts, 'cgi-bin': cgiBin } = options.directory;
    const spec =
      scripts === undefined && cgiBin === undefined
        ? appOrDefault(options.spec, process.cwd(), USAGE_HINT)
        : options.spec;
    const target = describeTarget(spec, options.directory, 'usage: tsgi serve APP [--host H] [--port N]');
    if (options.watch) {
      // The server runs in a child without --watch; this process only watches the app's directory.
      const { serveWatching } = await import('./watch.js');
      const { dirname, resolve } = await import('node:path');
      const root = spec === undefined ? process.cwd() : dirname(resolve(spec.split('#')[0] ?? spec));
      const rest = args.filter((arg) => arg !== '--watch');
      return serveWatching(options.spec === undefined && spec !== undefined ? [spec, ...rest] : rest, root);
    }
    const { app: loaded, detected } = await resolveApp(spec, options.directory, USAGE_HINT);
    // The development error page (issue 11): the error and the app's stack frames as HTML, on serve only.
    const { catchErrors } = await import('../middleware/catch-errors.js');
    const app = catchErrors(loaded, { debug: true, html: true });
    const { serve } = await import('../http/server.js');
    const { address } = options;
    const where = 'port' in address ? { host: address.host, port: address.port } : { listen: address };
    const server = await serve(app, { ...where, validate: options.validate }).catch(
      (error: NodeJS.ErrnoException) => {
        throw listenError(error, address);
      },
    );
    const validator = options.validate ? 'validator on' : 'validator off';
    const { describeDetected } = await import('../deploy/detect-app.js');
    const kind = detected.adapter === undefined ? '' : `${describeDetected(detected)}; `;
    process.stdout.write(`tsgi serve: ${target} on ${server.url} (${kind}${validator}; Ctrl-C to stop)\n`);
    await closeOnSignal(server.close);
    // Closed and flushed; an app's own timer or pool (or esbuild's service, when APP was transpiled) must not
    // keep the process alive after a Ctrl-C. Unref'd, so a process with nothing left exits without waiting.
    setTimeout(() => process.exit(0), 100).unref();
    return 0;
  },
};
