// Runs `tsgi cgi APP` as a real child process, as a web server would: variables in the environment, the body on
// stdin, and the raw CGI response parsed from stdout.
import { spawn, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** bin/tsgi.js of this checkout (run `node scripts/build.mjs --js-only` first: it loads dist/). */
export const TSGI_BIN = fileURLToPath(new URL('../../bin/tsgi.js', import.meta.url));

/** A CGI response as it left the process. */
export interface CgiResult {
  /** Status code from the `Status:` header (RFC 3875 §6.3.3: absent means 200, or 302 with a Location). */
  status: number;
  /** The head lines, without the blank line. */
  headLines: string[];
  /** Lower-case header names (not Status); repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Uint8Array;
  /** Everything written to stdout. */
  raw: Uint8Array;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export interface SpawnCgiOptions {
  body?: Uint8Array;
  /** stdin as a file descriptor (instead of a pipe carrying `body`). */
  stdinFd?: number;
  /** The Node binary (default: the one running the tests). */
  node?: string;
  /** Extra environment beyond the request variables (PATH is always passed). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

/** Splits CGI output at the blank line that ends the head (CRLF or bare LF, as RFC 3875 §6.2 allows). */
export function parseCgiOutput(
  raw: Uint8Array,
): Pick<CgiResult, 'status' | 'headLines' | 'headers' | 'body'> {
  const buffer = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  let end = buffer.indexOf('\r\n\r\n');
  let skip = 4;
  const lf = buffer.indexOf('\n\n');
  if (end === -1 || (lf !== -1 && lf < end)) {
    end = lf;
    skip = 2;
  }
  if (end === -1) return { status: 0, headLines: [], headers: {}, body: new Uint8Array(0) };
  const headLines = buffer.toString('latin1', 0, end).split(/\r?\n/);
  const headers: Record<string, string> = {};
  let status = 0;
  for (const line of headLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') status = Number(value.slice(0, 3));
    else headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  if (status === 0) status = headers.location !== undefined ? 302 : 200;
  return { status, headLines, headers, body: buffer.subarray(end + skip) };
}

/** A CGI head read off a stream: the status, the headers in order (lower-case names), and the body to come. */
export interface StreamedCgiHead {
  status: number;
  headers: [string, string][];
  chunks: AsyncGenerator<Uint8Array>;
}

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * Reads CGI output (`Status:` line, headers, CRLF CRLF; what tsgi's CGI runner and FastCGI STDOUT both write)
 * from `stdout` until the head is complete, without waiting for the body, which `chunks` then streams.
 * `source` names the stream in the error thrown when it ends before the head does.
 */
export async function readCgiHead(
  stdout: AsyncIterator<Uint8Array>,
  source: string,
): Promise<StreamedCgiHead> {
  let buffered = Buffer.alloc(0);
  let end = -1;
  while (end === -1) {
    const step = await stdout.next();
    if (step.done === true) throw new Error(`${source} ended without a head: ${buffered.toString('latin1')}`);
    buffered = Buffer.concat([buffered, step.value]);
    end = buffered.indexOf(HEAD_END);
  }
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of buffered.toString('latin1', 0, end).split('\r\n')) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'status') status = Number(value.slice(0, 3));
    else headers.push([name, value]);
  }
  const rest = buffered.subarray(end + HEAD_END.length);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (rest.byteLength > 0) yield rest;
    for (let step = await stdout.next(); step.done !== true; step = await stdout.next()) yield step.value;
  }
  return { status, headers, chunks: chunks() };
}

// POSIX sh printf with octal escapes writes any byte; Node can only put UTF-8 strings into a child's environment.
function shellBytes(value: string): string {
  let escaped = '';
  for (const char of value) escaped += `\\${char.charCodeAt(0).toString(8).padStart(3, '0')}`;
  return `"$(printf '${escaped}')"`;
}

/**
 * Spawns `node bin/tsgi.js cgi APP` with `vars` (ISO-8859-1 strings: a char above U+007F is passed as that one
 * byte, through sh, so PATH_INFO can carry a byte that is not UTF-8) and returns the parsed response.
 */
export function spawnCgi(
  app: string,
  vars: Readonly<Record<string, string>>,
  options: SpawnCgiOptions = {},
): Promise<CgiResult> {
  const node = options.node ?? process.execPath;
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env };
  const raw: [string, string][] = [];
  for (const [name, value] of Object.entries(vars)) {
    // eslint-disable-next-line no-control-regex
    if (/^[\x00-\x7f]*$/.test(value)) env[name] = value;
    else raw.push([name, value]);
  }
  let command = node;
  let args = [TSGI_BIN, 'cgi', app];
  if (raw.length > 0) {
    const assignments = raw.map(([name, value]) => `${name}=${shellBytes(value)}; export ${name}; `).join('');
    command = '/bin/sh';
    args = ['-c', `${assignments}exec "$@"`, 'sh', node, ...args];
  }
  const stdio: StdioOptions = [options.stdinFd ?? 'pipe', 'pipe', 'pipe'];
  const child = spawn(command, args, { env, stdio });
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
  if (child.stdin) {
    // The runner may exit without reading a body it did not need: that is not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.body ?? new Uint8Array(0));
  }
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      const rawOut = Buffer.concat(stdout);
      resolve({ ...parseCgiOutput(rawOut), raw: rawOut, exitCode, signal, stderr });
    });
  });
}
