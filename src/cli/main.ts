// The `tsgi` command: dispatch to one module per subcommand, loaded lazily so that `tsgi cgi` starts fast.
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
};

const SUMMARIES: Record<string, string> = {
  cgi: 'run APP once as a CGI program (RFC 3875): environment + stdin in, Status: + headers + body out',
  serve: 'serve APP on the development server (node:http), validator on',
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

/** Runs the CLI with `args` (process.argv minus node and script; tests pass their own) and returns the exit code. */
export async function main(args: string[] = process.argv.slice(2)): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
    process.stdout.write(`tsgi ${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (load === undefined) {
    process.stderr.write(`tsgi: unknown command '${name}' (hint: run 'tsgi --help' for the list)\n`);
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
    throw error;
  }
}
