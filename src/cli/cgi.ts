// `tsgi cgi APP`: run APP once as a CGI program. On the cold path of every CGI request: keep imports few.
import { APP_SHAPES_HELP } from '../deploy/detect-app.js';
import { nodeBuiltin } from '../shared/node-builtins.js';
import { startCgi } from '../cgi/start.js';
import { CliError } from './cli-error.js';
import type { Command } from './main.js';

const HELP = `usage: tsgi cgi APP

Runs APP once as a CGI program (RFC 3875): the request comes from the environment and stdin, the response
(Status: line, headers, body) goes to stdout, the application's errors to stderr. Exit status 0 when a whole
response was sent, 1 when it was cut off. APP is a module path, optionally path#exportName; its default export
is the tsgi application. .ts files load directly (esbuild output is cached per user on Node without type
stripping). HTTP_PROXY (from a client's Proxy: header, httpoxy) is removed from the process environment
before APP is imported; the application still sees the request header as environ.HTTP_PROXY. NODE_ENV is
set to production unless it is set. The application's console output and process.stdout writes go to stderr
(stdout is the response). An APP that cannot be loaded, or a response that can never finish, is answered 500
with one line on stderr.

example (a cgi-bin wrapper script, executable by the web server's user):
  #!/bin/sh
  exec /usr/bin/node /srv/app/node_modules/tsgi/bin/tsgi.js cgi /srv/app/app.ts

${APP_SHAPES_HELP}
`;

/**
 * Enables Node's on-disk compile cache (22.1+) in this user's cache directory, so that each request does not
 * compile the app's modules again (measured for an Express app as a CGI on Node 24: 126 → 95 ms per request).
 */
async function enableCompileCache(): Promise<void> {
  const module = nodeBuiltin('node:module');
  if (module.enableCompileCache === undefined) return;
  const { userCacheDir } = await import('../deploy/transpile-cache.js');
  const dir = userCacheDir();
  if (dir !== undefined) module.enableCompileCache(`${dir}/compile`);
}

export const command: Command = {
  summary: 'run APP once as a CGI program (RFC 3875)',
  async run(args) {
    // One flag and one positional: parsed by hand, because node:util (parseArgs) costs ~9 ms to import on Node 24.
    if (args.includes('--help') || args.includes('-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    const unknown = args.find((arg) => arg.startsWith('-') && arg !== '--');
    if (unknown !== undefined) throw new CliError(`unknown option '${unknown}'`, "see 'tsgi cgi --help'");
    const [spec, ...extra] = args.filter((arg) => arg !== '--');
    if (spec === undefined) throw new CliError('missing APP', "usage: tsgi cgi APP (see 'tsgi cgi --help')");
    if (extra.length > 0) throw new CliError(`unexpected argument '${extra[0]}'`, 'usage: tsgi cgi APP');
    // The one CGI start sequence (src/cgi/start.ts): httpoxy, NODE_ENV, stdout captured, then the app is loaded.
    return startCgi({
      name: 'tsgi cgi',
      async load() {
        await enableCompileCache();
        const { loadApp } = await import('./load-app.js');
        return loadApp(spec);
      },
      describeLoadError,
      // From a shell (no REQUEST_METHOD), a load error is a plain CLI error with its hint.
      throwLoadErrorWithoutRequest: true,
    });
  },
};

function describeLoadError(error: unknown): string {
  if (error instanceof CliError) return `${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}`;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return message.split('\n')[0] ?? message;
}
