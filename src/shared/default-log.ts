// Where diagnostics go when the caller names no place: this process's stderr (the web server's error log for a
// CGI program or a spawned FastCGI listener), written once here for every front end.
import type { ErrorStream } from './types.js';

/** `tsgi.errors` (and a server's own error lines) when no `errors` option is given. */
export const STDERR: ErrorStream = { write: (text) => void process.stderr.write(text) };

/** A server's one-line log (listener, connection, pool) when no `log` option is given. */
export function logToStderr(line: string): void {
  process.stderr.write(line + '\n');
}
