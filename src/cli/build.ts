// `tsgi build APP -o OUT`: one self-contained executable file for a cgi-bin or a FastCGI launcher.
import { APP_SHAPES_HELP } from '../deploy/detect-app.js';
import { CliError } from './cli-error.js';
import type { Command } from './main.js';
import { parseFlags } from './parse-flags.js';

const HELP = `usage: tsgi build APP -o OUT [--cgi | --fastcgi | --auto] [options]

Bundles APP (path or path#exportName; .ts, .js), the tsgi runtime and every dependency into OUT: one file with
a #! line and the run bit that needs no node_modules beside it. Copy it into any cgi-bin and it serves CGI;
start it with a listening socket on fd 0 (lighttpd bin-path, spawn-fcgi, mod_fcgid), from a systemd .socket,
or with --listen ADDRESS and it serves FastCGI. The first request writes a V8 code cache (per user, in the
temp dir; TSGI_CACHE_DIR moves it, TSGI_CACHE_DIR=off turns it off) that later cold starts load.

options:
  -o, --out OUT        the file to write (required)
  --auto               detect CGI or FastCGI at each start (default)
  --cgi                CGI only: leaves the FastCGI listener out of the file
  --fastcgi            FastCGI only: leaves the CGI runner out of the file
  --node PATH          interpreter for the #! line (default /usr/bin/env node; web servers often run CGI
                       with a short PATH, so a node under ~/.nvm needs its full path here)
  --cache-dir DIR      default code cache directory baked into the file
  --no-code-cache      never read or write a code cache
  --no-minify          keep the bundle readable (slower to load)
  -h, --help           this text

examples:
  tsgi build examples/hello.ts -o /usr/lib/cgi-bin/hello
  tsgi build app.ts -o app.fcgi --fastcgi --node /opt/node22/bin/node

${APP_SHAPES_HELP}
`;

const USAGE_HINT = "run 'tsgi build --help' for usage";

function parseBuildArgs(args: string[]) {
  return parseFlags(
    args,
    {
      out: { type: 'string', short: 'o' },
      auto: { type: 'boolean' },
      cgi: { type: 'boolean' },
      fastcgi: { type: 'boolean' },
      node: { type: 'string' },
      'cache-dir': { type: 'string' },
      'no-code-cache': { type: 'boolean' },
      'no-minify': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE_HINT,
  );
}

/** `tsgi build`. */
export const command: Command = {
  summary: 'bundle APP into one self-contained executable file (CGI and FastCGI, no node_modules needed)',
  async run(args) {
    const { values, positionals } = parseBuildArgs(args);
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const [app, extra] = positionals;
    if (app === undefined) throw new CliError('missing APP', USAGE_HINT);
    if (extra !== undefined) throw new CliError(`unexpected argument '${extra}'`, USAGE_HINT);
    if (values.out === undefined)
      throw new CliError('missing -o OUT', 'say where to write the file: -o app.cgi');
    const modes = (['auto', 'cgi', 'fastcgi'] as const).filter((mode) => values[mode] === true);
    if (modes.length > 1)
      throw new CliError(`--${modes[0]} and --${modes[1]} exclude each other`, USAGE_HINT);
    const { buildApp, BuildError } = await import('../deploy/build-app.js');
    try {
      const result = await buildApp({
        app,
        outFile: values.out,
        mode: modes[0] ?? 'auto',
        minify: values['no-minify'] !== true,
        codeCache: values['no-code-cache'] !== true,
        cacheDir: values['cache-dir'],
        node: values.node,
      });
      for (const warning of result.warnings) process.stderr.write(`tsgi build: warning: ${warning}\n`);
      const kib = (result.bytes / 1024).toFixed(0);
      process.stdout.write(`tsgi build: wrote ${result.outFile} (${kib} KiB, build ${result.buildId})\n`);
      return 0;
    } catch (error) {
      if (error instanceof BuildError) throw new CliError(error.message, error.hint, 1);
      throw error;
    }
  },
};
