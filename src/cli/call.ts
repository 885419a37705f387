// `tsgi call ADDR PATH`: one request to a FastCGI listener, printed like `curl -i` (a smoke test, no web server).
import { readFileSync } from 'node:fs';
import { CliError } from './cli-error.js';
import { parseFlags } from './parse-flags.js';
import { isToken } from '../shared/headers.js';
import type { Command } from './main.js';

const HELP = `usage: tsgi call ADDR [-X METHOD] [-H 'Name: value']... [-d DATA|@FILE] PATH[?QUERY]

Sends one request to the FastCGI listener at ADDR (HOST:PORT, [IPV6]:PORT, unix:/PATH or /PATH) as a web
server would, and prints the response like curl -i: an HTTP/1.1 status line, the headers, a blank line, the
body as it arrives. FCGI_STDERR goes to stderr. Exit status 0 when a response came back complete.

options:
  -X, --request METHOD    request method (default GET, or POST with -d)
  -H, --header 'N: v'     a request header, sent as HTTP_N (Content-Type and Content-Length as CGI's own)
  -d, --data DATA         request body; @FILE reads a file, @- reads stdin
  --script-name PREFIX    the part of PATH that is SCRIPT_NAME (default none: PATH is all PATH_INFO)
  -h, --help              this text

examples:
  tsgi call 127.0.0.1:9000 /hello?name=world
  tsgi call unix:/run/tsgi.sock -X PUT -H 'Content-Type: application/json' -d @body.json /api/items/1
`;

const USAGE_HINT = "run 'tsgi call --help' for usage";

/** A parsed `tsgi call` command line. */
export interface CallArgs {
  help: boolean;
  address?: string;
  target?: string;
  method?: string;
  headers: [string, string][];
  data?: string;
  scriptName: string;
}

/** The flags, ADDR and PATH, or a one-line CliError. */
export function parseCallArgs(args: string[]): CallArgs {
  const { values, positionals } = parseFlags(
    args,
    {
      request: { type: 'string', short: 'X' },
      header: { type: 'string', short: 'H', multiple: true },
      data: { type: 'string', short: 'd' },
      'script-name': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE_HINT,
  );
  if (positionals.length > 2) throw new CliError(`unexpected argument '${positionals[2]}'`, USAGE_HINT);
  const headers = (values.header ?? []).map((line): [string, string] => {
    const colon = line.indexOf(':');
    if (colon <= 0 || !isToken(line.slice(0, colon)))
      throw new CliError(`bad header '${line}'`, "write it as -H 'Name: value'");
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const method = values.request;
  if (method !== undefined && !/^[A-Za-z]+$/.test(method))
    throw new CliError(`bad method '${method}'`, USAGE_HINT);
  const scriptName = values['script-name'] ?? '';
  return {
    help: values.help === true,
    address: positionals[0],
    target: positionals[1],
    method,
    headers,
    data: values.data,
    scriptName: scriptName.replace(/\/+$/, ''),
  };
}

// RFC 3875 §4.1.5: PATH_INFO is decoded; the bytes are kept as they are (latin1: one char per byte).
function percentDecode(path: string): Buffer {
  const bytes = Buffer.from(path, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x25 ? bytes.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else out[n++] = bytes[i]!;
  }
  return out.subarray(0, n);
}

function readBody(data: string): Buffer {
  if (!data.startsWith('@')) return Buffer.from(data, 'utf8');
  const file = data.slice(1);
  try {
    return readFileSync(file === '-' ? 0 : file);
  } catch (error) {
    throw new CliError(
      `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      USAGE_HINT,
    );
  }
}

/** The FCGI_PARAMS a web server would send for this command line (nginx's fastcgi_params, in spirit). */
export function buildCallParams(options: CallArgs, body: Buffer | undefined): [string, string | Buffer][] {
  const target = options.target ?? '/';
  const question = target.indexOf('?');
  const path = question < 0 ? target : target.slice(0, question);
  const query = question < 0 ? '' : target.slice(question + 1);
  const decoded = percentDecode(path);
  const prefix = Buffer.from(options.scriptName, 'latin1');
  const underPrefix =
    prefix.length > 0 &&
    decoded.subarray(0, prefix.length).equals(prefix) &&
    (decoded.length === prefix.length || decoded[prefix.length] === 0x2f);
  const pathInfo = underPrefix ? decoded.subarray(prefix.length) : decoded;
  const method = (options.method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase();
  const params: [string, string | Buffer][] = [
    ['GATEWAY_INTERFACE', 'CGI/1.1'],
    ['SERVER_SOFTWARE', 'tsgi-call'],
    ['SERVER_PROTOCOL', 'HTTP/1.1'],
    ['SERVER_NAME', 'localhost'],
    ['SERVER_PORT', '80'],
    ['REMOTE_ADDR', '127.0.0.1'],
    ['REQUEST_METHOD', method],
    ['REQUEST_URI', target],
    ['SCRIPT_NAME', underPrefix ? options.scriptName : ''],
    ['PATH_INFO', pathInfo],
    ['QUERY_STRING', query],
  ];
  let host = 'localhost';
  let contentType: string | undefined;
  for (const [name, value] of options.headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type') contentType = value;
    else if (lower === 'content-length')
      continue; // the body's real length is sent below
    else if (lower === 'host') host = value;
    else params.push([`HTTP_${name.toUpperCase().replace(/-/g, '_')}`, value]);
  }
  params.push(['HTTP_HOST', host]);
  if (body !== undefined) {
    params.push(['CONTENT_LENGTH', String(body.length)]);
    // curl -d sends this type unless told otherwise.
    params.push(['CONTENT_TYPE', contentType ?? 'application/x-www-form-urlencoded']);
  } else if (contentType !== undefined) params.push(['CONTENT_TYPE', contentType]);
  return params;
}

// Prints the CGI head as an HTTP/1.1 head (curl -i), then passes the body through as it arrives.
async function printResponse(stdout: AsyncIterable<Uint8Array>): Promise<boolean> {
  const { parseCgiResponse } = await import('../fastcgi/client.js');
  let pending = Buffer.alloc(0);
  let headDone = false;
  for await (const chunk of stdout) {
    if (headDone) {
      process.stdout.write(chunk);
      continue;
    }
    pending = Buffer.concat([pending, chunk]);
    let response;
    try {
      response = parseCgiResponse(pending);
    } catch {
      continue; // the blank line after the head has not arrived yet
    }
    headDone = true;
    const lines = [`HTTP/1.1 ${response.status}`, ...response.headers.map(([n, v]) => `${n}: ${v}`)];
    process.stdout.write(lines.join('\r\n') + '\r\n\r\n');
    if (response.body.length > 0) process.stdout.write(response.body);
  }
  if (!headDone && pending.length > 0) process.stdout.write(pending);
  return headDone;
}

export const command: Command = {
  summary: 'send one request to a FastCGI listener and print the response like curl -i',
  async run(args) {
    const options = parseCallArgs(args);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (options.address === undefined || options.target === undefined)
      throw new CliError('missing ADDR or PATH', 'usage: tsgi call ADDR [-X METHOD] [-H ...] [-d DATA] PATH');
    const body = options.data === undefined ? undefined : readBody(options.data);
    const [{ connectFastCgi }, { ProtocolStatus }] = await Promise.all([
      import('../fastcgi/client.js'),
      import('../fastcgi/protocol.js'),
    ]);
    let client;
    try {
      client = await connectFastCgi(options.address, { keepConn: false });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new CliError(
        `cannot connect to ${options.address}: ${code ?? (error as Error).message}`,
        code === 'EACCES' ? 'the socket mode or group keeps you out' : 'is tsgi fastcgi listening there?',
        1,
      );
    }
    const call = client.request({ params: buildCallParams(options, body), stdin: body ?? new Uint8Array(0) });
    const stderr = (async () => {
      for await (const chunk of call.stderr) process.stderr.write(chunk);
    })();
    let complete: boolean;
    try {
      const [headSeen, end] = await Promise.all([printResponse(call.stdout), call.ended, stderr]);
      const names = Object.fromEntries(Object.entries(ProtocolStatus).map(([name, value]) => [value, name]));
      if (end.protocolStatus !== ProtocolStatus.RequestComplete) {
        process.stderr.write(
          `tsgi call: request refused: ${names[end.protocolStatus] ?? end.protocolStatus}\n`,
        );
      } else if (end.appStatus !== 0) {
        process.stderr.write(
          `tsgi call: the application ended with status ${end.appStatus} (response cut off)\n`,
        );
      }
      complete = headSeen && end.protocolStatus === ProtocolStatus.RequestComplete && end.appStatus === 0;
    } catch (error) {
      throw new CliError((error as Error).message.replace(/^tsgi fastcgi client: /, ''), undefined, 1);
    } finally {
      client.destroy();
    }
    return complete ? 0 : 1;
  },
};
