// The `tsgi cgi` fast path: bin/tsgi.js loads this file directly for `tsgi cgi`, built as one file (no shared
// chunks), because each extra ES module costs a CGI request Node's loader time (resolve, read, compile).
import { command } from './cgi.js';
import { CliError } from './cli-error.js';

/** Runs `tsgi cgi ARGS` and returns the exit code; errors are reported in the same one-line form as `main`. */
export async function runCgiCommand(args: string[]): Promise<number> {
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`tsgi cgi: ${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}\n`);
      return error.exitCode;
    }
    if (process.env.TSGI_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`);
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const hint = process.env.TSGI_DEBUG ? '' : ' (hint: set TSGI_DEBUG=1 for the stack trace)';
    process.stderr.write(`tsgi cgi: ${message.split('\n')[0]}${hint}\n`);
    return 1;
  }
}
