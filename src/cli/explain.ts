// `tsgi explain`: stand where the app would and show, per request, the raw variables and each normalisation step.
import { readFileSync } from 'node:fs';
import { CliError } from './cli-error.js';
import type { Command } from './main.js';
import { parseFlags } from './parse-flags.js';

const HELP = `usage: tsgi explain [--listen ADDRESS] [--once] [--json]
       tsgi explain --from FILE [--reveal]
       tsgi explain --app APP

Shows, for one request, the variables exactly as the web server sent them, each step tsgi takes to turn them
into the environ (which quirk changed SCRIPT_NAME/PATH_INFO, which empty variable was dropped, httpoxy), and
the resulting environ. Point the web server at it instead of the app (same location, same socket), request
the URL, and read the answer in the browser or curl; each explanation also goes to stderr.

where the request comes from:
  --listen ADDRESS   FastCGI on HOST:PORT or unix:/PATH (the address in fastcgi_pass / SetHandler)
  (none)             as a CGI program (request variables in the environment), or FastCGI on the socket the
                     web server passed as fd 0 (lighttpd bin-path, mod_fcgid) or systemd passed as fd 3
  --from FILE        a JSON object of variables (e.g. saved from --json), no server needed
  --app APP          say what APP's export is detected as and how it will be served, then exit

what it shows: the request only (CGI meta-variables such as REQUEST_METHOD and SCRIPT_NAME, HTTP_* headers),
never the rest of the process environment; Authorization, Proxy-Authorization, Cookie and any variable whose
name says PASSWORD, SECRET, TOKEN, KEY, ... appear as <redacted, N bytes>. Whoever can reach the URL sees the
answer: keep the location limited to localhost, and remove it when done.

options:
  --reveal           with --from only (a local terminal): show every variable and value as saved
  --once             exit after the first request
  --json             answer with JSON ({ raw, steps, changes, environ }) instead of text
  --socket-mode MODE, --socket-group GROUP   for a unix socket (default 660)
  -h, --help         this text

examples:
  tsgi explain --listen 127.0.0.1:9000 --once     # then: curl http://localhost/app/some/path?q=1
  printf '#!/bin/sh\\nexec tsgi explain\\n' > /usr/lib/cgi-bin/explain && chmod 755 /usr/lib/cgi-bin/explain
`;

const USAGE_HINT = "run 'tsgi explain --help' for usage";

function parseExplainArgs(args: string[]) {
  return parseFlags(
    args,
    {
      listen: { type: 'string' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
      reveal: { type: 'boolean' },
      from: { type: 'string' },
      app: { type: 'string' },
      'socket-mode': { type: 'string' },
      'socket-group': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE_HINT,
    { allowPositionals: false },
  ).values;
}

/** Variables from a `--from` file: a plain object of strings, or the `raw` of a `--json` explanation. */
export function readVariablesFile(path: string): Record<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CliError(
      `cannot read ${path}: ${(error as Error).message}`,
      'give a JSON object of NAME: value',
    );
  }
  const object = (data as { raw?: unknown })?.raw ?? data;
  if (typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw new CliError(
      `${path} is not a JSON object of variables`,
      'e.g. {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/app"}',
    );
  }
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(object)) {
    if (typeof value === 'string') vars[name] = value;
  }
  return vars;
}

/** `tsgi explain`. */
export const command: Command = {
  summary: 'show one request as it arrived and each step that turned it into the environ',
  async run(args) {
    const values = parseExplainArgs(args);
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.app !== undefined) {
      const { loadDetectedApp } = await import('./load-app.js');
      const { describeDetected, APP_SHAPES_HELP } = await import('../deploy/detect-app.js');
      const { detected } = await loadDetectedApp(values.app);
      process.stdout.write(`${values.app}: ${describeDetected(detected)}\n\n${APP_SHAPES_HELP}\n`);
      return 0;
    }
    const { explainRequest, formatExplanation } = await import('../deploy/explain.js');
    const { redactExplanation } = await import('../deploy/redact.js');
    if (values.from !== undefined) {
      const explained = explainRequest({ vars: readVariablesFile(values.from), transport: 'fastcgi' });
      const explanation = values.reveal === true ? explained : redactExplanation(explained);
      process.stdout.write(
        values.json ? `${JSON.stringify(explanation, null, 2)}\n` : formatExplanation(explanation),
      );
      return 0;
    }
    if (values.reveal === true) {
      // The answer goes to whoever sent the request: a web server's client must never get secrets.
      throw new CliError(
        '--reveal is refused when serving a web server (the answer goes to its client)',
        '--reveal is for a terminal: tsgi explain --from FILE --reveal',
      );
    }
    const { startEndpoint, NoEndpointError } = await import('../deploy/endpoint.js');
    const { parseSocketMode } = await import('../fastcgi/listen.js');
    let endpoint;
    try {
      endpoint = await startEndpoint({
        listen: values.listen,
        once: values.once === true,
        ...(values['socket-mode'] !== undefined
          ? { socketMode: parseSocketMode(values['socket-mode']) }
          : {}),
        ...(values['socket-group'] !== undefined ? { socketGroup: values['socket-group'] } : {}),
        respond: (request) => {
          const explanation = redactExplanation(explainRequest(request));
          const text = formatExplanation(explanation);
          if (request.transport === 'fastcgi') process.stderr.write(text);
          return values.json
            ? {
                status: '200 OK',
                contentType: 'application/json',
                body: `${JSON.stringify(explanation, null, 2)}\n`,
              }
            : { status: '200 OK', contentType: 'text/plain; charset=utf-8', body: text };
        },
      });
    } catch (error) {
      if (error instanceof NoEndpointError) throw new CliError(error.message, USAGE_HINT);
      throw new CliError((error as Error).message, USAGE_HINT, 1);
    }
    if (endpoint.kind === 'cgi') return 0;
    process.stderr.write(
      `tsgi explain: listening on ${endpoint.address} (FastCGI); send a request through the web server\n`,
    );
    const { server } = endpoint;
    await new Promise<void>((resolve) => {
      server.once('close', resolve);
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => server.close());
    });
    return 0;
  },
};
