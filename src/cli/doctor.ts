// `tsgi doctor`: checks a deployment (socket permissions, what a real request carried) and prints the fixes.
import { CliError } from './cli-error.js';
import type { Command } from './main.js';
import { parseFlags } from './parse-flags.js';

const HELP = `usage: tsgi doctor --socket PATH [--user NAME]
       tsgi doctor [--listen ADDRESS] [--url URL] [--web-server-addrs LIST]
       tsgi doctor --from FILE

Checks a tsgi deployment and prints each problem with why it matters and the nginx / Apache / lighttpd /
systemd lines that fix it. Exit status 1 when it found an error.

  --socket PATH          can the web server's user (--user, default www-data or the first of nginx, apache,
                         http, lighttpd found) connect to this unix socket? (owner, group, mode, directories)
  --listen ADDRESS       stand in for the app on this FastCGI address (stop the app first, or use a spare
                         address the same location points to), take one request and check its variables:
                         SCRIPT_NAME, PATH_INFO (e.g. emptied by nginx try_files), REQUEST_URI, Authorization,
                         the Proxy header (httpoxy), and FCGI_WEB_SERVER_ADDRS against the web server's address
  (no --listen)          the same as a CGI program, or on the socket the web server passed as fd 0
  --url URL              the app's URL through the web server (e.g. http://localhost/app): doctor sends the
                         request itself, with a path after the mount, an Authorization header and a Proxy
                         header, so it can tell exactly what the web server dropped or passed (a request
                         with ?tsgi-doctor=1 and those headers counts as that probe too, e.g. under CGI)
  --from FILE            check variables saved as JSON (tsgi explain --json)
  --web-server-addrs LIST   the FCGI_WEB_SERVER_ADDRS the listener runs with (default: $FCGI_WEB_SERVER_ADDRS)
  -h, --help             this text

examples:
  tsgi doctor --socket /run/tsgi/app.sock --user www-data
  tsgi doctor --listen 127.0.0.1:9000 --url http://localhost/app
`;

const USAGE_HINT = "run 'tsgi doctor --help' for usage";

function parseDoctorArgs(args: string[]) {
  return parseFlags(
    args,
    {
      socket: { type: 'string' },
      user: { type: 'string' },
      listen: { type: 'string' },
      url: { type: 'string' },
      from: { type: 'string' },
      'web-server-addrs': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE_HINT,
    { allowPositionals: false },
  ).values;
}

/** `tsgi doctor`. */
export const command: Command = {
  summary:
    'check a deployment (socket permissions, the variables a real request carried) and print the fixes',
  async run(args) {
    const values = parseDoctorArgs(args);
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const { formatFindings, webServerOf, Severity } = await import('../deploy/doctor/findings.js');
    const exitCode = (findings: readonly { severity: string }[]): number =>
      findings.some((finding) => finding.severity === Severity.Error) ? 1 : 0;

    if (values.socket !== undefined) {
      const { checkSocketAccess, gatherPathFacts, idNames, lookupUser } =
        await import('../deploy/doctor/socket-access.js');
      const user = lookupUser(values.user);
      if (user === undefined) {
        throw new CliError(
          values.user === undefined
            ? 'no web server user found (www-data, nginx, apache, http…)'
            : `no user '${values.user}' in /etc/passwd`,
          'name the user the web server runs as: --user www-data',
        );
      }
      const findings = checkSocketAccess(gatherPathFacts(values.socket), user, idNames());
      process.stdout.write(formatFindings(findings));
      return exitCode(findings);
    }

    const { checkPeer, checkRequestVars, DOCTOR_PROBE } = await import('../deploy/doctor/request-checks.js');
    const addrs = values['web-server-addrs'] ?? process.env.FCGI_WEB_SERVER_ADDRS;
    const diagnose = (
      request: import('../deploy/explain.js').CapturedRequest,
      sent?: typeof DOCTOR_PROBE,
    ) => {
      // The probe's query marker: doctor sent it (--url), or a person ran the curl line doctor prints.
      const marked = /(^|&)tsgi-doctor=1(&|$)/.test(request.vars.QUERY_STRING ?? '');
      const probe = sent ?? (marked ? DOCTOR_PROBE : undefined);
      const findings = [...checkRequestVars(request, probe), ...checkPeer(addrs, request.peer)];
      if (!findings.some((finding) => finding.severity !== Severity.Ok)) {
        findings.push({
          id: 'request-ok',
          severity: Severity.Ok,
          title: 'the request carried everything tsgi needs',
        });
      }
      return { findings, text: formatFindings(findings, webServerOf(request.vars.SERVER_SOFTWARE)) };
    };

    if (values.from !== undefined) {
      const { readVariablesFile } = await import('./explain.js');
      const { findings, text } = diagnose({ vars: readVariablesFile(values.from), transport: 'fastcgi' });
      process.stdout.write(text);
      return exitCode(findings);
    }

    const { startEndpoint, NoEndpointError } = await import('../deploy/endpoint.js');
    const probe = values.url !== undefined ? DOCTOR_PROBE : undefined;
    let result: { findings: readonly { severity: string }[]; text: string } | undefined;
    let endpoint;
    try {
      endpoint = await startEndpoint({
        listen: values.listen,
        once: true,
        respond: (request) => {
          result = diagnose(request, probe);
          return { status: '200 OK', contentType: 'text/plain; charset=utf-8', body: result.text };
        },
      });
    } catch (error) {
      if (error instanceof NoEndpointError) throw new CliError(error.message, USAGE_HINT);
      throw new CliError((error as Error).message, USAGE_HINT, 1);
    }
    if (endpoint.kind === 'cgi') return result === undefined ? 1 : exitCode(result.findings);
    const { server } = endpoint;
    const closed = new Promise<void>((resolve) => server.once('close', resolve));
    if (values.url !== undefined) {
      const url = `${values.url.replace(/\/+$/, '')}${DOCTOR_PROBE.pathSuffix}?tsgi-doctor=1`;
      process.stderr.write(`tsgi doctor: listening on ${endpoint.address}; requesting ${url}\n`);
      try {
        const response = await fetch(url, {
          headers: { Authorization: DOCTOR_PROBE.authorization, Proxy: DOCTOR_PROBE.proxy },
          signal: AbortSignal.timeout(15_000),
        });
        await response.arrayBuffer();
        if (result === undefined) {
          server.close();
          throw new CliError(
            `${url} answered ${response.status} without reaching doctor at ${endpoint.address}`,
            'is --url the location that fastcgi_pass / SetHandler / fastcgi.server sends to --listen?',
            1,
          );
        }
      } catch (error) {
        if (error instanceof CliError) throw error;
        server.close();
        throw new CliError(
          `cannot request ${url}: ${(error as Error).message}`,
          'is the web server running?',
          1,
        );
      }
    } else {
      process.stderr.write(
        `tsgi doctor: listening on ${endpoint.address} (FastCGI); send one request through the web server\n`,
      );
    }
    await closed;
    if (result === undefined) return 1;
    process.stdout.write(result.text);
    return exitCode(result.findings);
  },
};
