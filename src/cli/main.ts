// The `tsgi` command: dispatch to one module per subcommand, loaded lazily so that `tsgi cgi` starts fast.
import { closest } from './closest.js';
import { CliError } from './cli-error.js';

/** A subcommand: parses its own arguments and returns the process exit code. */
export interface Command {
  readonly summary: string;
  run(args: string[]): Promise<number>;
}

// Each entry is imported only when its command runs: a CGI request pays for `cgi.ts` alone.
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  cgi: () => import('./cgi.js'),
  serve: () => import('./serve.js'),
  fastcgi: () => import('./fastcgi.js'),
  call: () => import('./call.js'),
  build: () => import('./build.js'),
  doctor: () => import('./doctor.js'),
  explain: () => import('./explain.js'),
  run: () => import('./run-mode.js'),
  conform: () => import('./conform.js'),
};

const SUMMARIES: Record<string, string> = {
  cgi: 'run APP once as a CGI program (RFC 3875): environment + stdin in, Status: + headers + body out',
  serve: 'serve APP on the development server (node:http), validator on',
  fastcgi: 'serve APP over FastCGI for nginx/Apache/lighttpd: TCP, unix socket, fd 0 or systemd; --workers N',
  call: 'send one request to a FastCGI listener and print the response like curl -i',
  build: 'bundle APP into one self-contained executable file (CGI and FastCGI, no node_modules needed)',
  doctor: 'check a deployment (socket permissions, the variables a real request carried) and print the fixes',
  explain: 'show one request as it arrived and each step that turned it into the environ',
  run: 'serve APP as CGI, FastCGI or the development server, whichever way it was started (--explain-mode)',
  conform:
    'check any FastCGI responder on the wire (codec, roles, management records, hostile input): N/M cases pass',
};

function usage(): string {
  const width = Math.max(...Object.keys(SUMMARIES).map((n) => n.length));
  const lines = Object.entries(SUMMARIES).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`);
  return [
    'usage: tsgi <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    "Run 'tsgi <command> --help' for a command's options and an example.",
  ].join('\n');
}

/** The known command closest to a mistyped one (at most two edits away), for a "did you mean" hint. */
function closestCommand(name: string): string | undefined {
  return closest(name, Object.keys(COMMANDS));
}

/** Runs the CLI with `args` (process.argv minus node and script; tests pass their own) and returns the exit code. */
export async function main(args: string[] = process.argv.slice(2)): Promise<number> {
  let [name, ...rest] = args;
  if (name === undefined) {
    // No command is a usage error: the usage goes to stderr so that `tsgi > file` does not hide it.
    process.stderr.write(usage() + '\n');
    return 2;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  if (name === 'help') [name, rest] = [rest[0] as string, ['--help']];
  if (name === '--version' || name === '-v') {
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
    process.stdout.write(`tsgi ${pkg.version}\n`);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (load === undefined) {
    const guess = closestCommand(name);
    const hint = guess ? `did you mean 'tsgi ${guess}'? ` : '';
    const what = name.startsWith('-') ? 'option' : 'command';
    process.stderr.write(`tsgi: unknown ${what} '${name}' (hint: ${hint}run 'tsgi --help' for the list)\n`);
    return 2;
  }
  try {
    const { command } = await load();
    return await command.run(rest);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`tsgi ${name}: ${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}\n`);
      return error.exitCode;
    }
    // Anything else is an error from APP's module or a tsgi bug: still one line, the stack on request.
    if (process.env.TSGI_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const hint = process.env.TSGI_DEBUG ? '' : ' (hint: set TSGI_DEBUG=1 for the stack trace)';
    process.stderr.write(`tsgi ${name}: ${message.split('\n')[0]}${hint}\n`);
    return 1;
  }
}
