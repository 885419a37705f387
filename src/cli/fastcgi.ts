// `tsgi fastcgi APP`: the FastCGI listener for nginx, Apache and lighttpd (TCP, unix socket, fd 0, systemd).
import { APP_SHAPES_HELP } from '../deploy/detect-app.js';
import { CliError } from './cli-error.js';
import {
  FASTCGI_FLAGS,
  flagHelp,
  parseFastCgiFlags,
  USAGE_HINT,
  type FastCgiFlagValues,
} from './fastcgi-flags.js';
import type { Command } from './main.js';
import { SCRIPT_FLAGS_HELP, type ScriptFlagValues } from './script-flags.js';
import type { ProcessModel } from '../fastcgi/pool/process-model.js';
import type { DetectedApp } from '../deploy/detect-app.js';
import type { Application } from '../shared/types.js';

function help(): string {
  return `usage: tsgi fastcgi APP | --scripts ROOT | --cgi-bin DIR [--listen ADDR]... [--workers N] [options]

Serves APP over FastCGI 1.0 for a web server (nginx fastcgi_pass, Apache mod_proxy_fcgi, lighttpd
mod_fastcgi). APP is a module path, optionally path#exportName. One line on stderr says where it listens.

When tsgi binds its own address (--listen, systemd sockets) a primary process holds the sockets and runs
workers on them: a crashed worker costs only its own requests and is replaced. SIGHUP or SIGUSR2 reloads:
workers with the new code start, and only once they listen do the old ones stop accepting and drain (an APP
that fails to load leaves the old ones serving). When the web server started tsgi with its socket on fd 0
(lighttpd bin-path, spawn-fcgi, mod_fcgid) it supervises, and tsgi serves in one process.
SIGTERM, SIGUSR1 (mod_fcgid, mod_fastcgi) and SIGINT stop gracefully: no new connections, requests in
flight finish (up to --shutdown-timeout), exit 0; a second signal aborts what is left at once.

where to listen (with no --listen: systemd's sockets (LISTEN_FDS), else the listening socket on fd 0):
${flagHelp('listen')}

the pool:
${flagHelp('pool')}

limits (per worker process):
${flagHelp('limits')}

other:
${flagHelp('other')}

${SCRIPT_FLAGS_HELP}
examples:
  tsgi fastcgi app.ts --listen 127.0.0.1:9000
  tsgi fastcgi app.ts --listen unix:/run/tsgi/app.sock --socket-group www-data --workers 4
  tsgi fastcgi app.ts --listen 127.0.0.1:9000 --pm dynamic --workers 8 --status-path /status
  tsgi fastcgi app.ts --check
  tsgi fastcgi --scripts /srv/www --listen 127.0.0.1:9000      (nginx: $document_root$fastcgi_script_name)
  spawn-fcgi -n -a 127.0.0.1 -p 9000 -- /usr/bin/node node_modules/.bin/tsgi fastcgi app.ts

${APP_SHAPES_HELP}
`;
}

const NO_ADDRESS_HINT =
  'pass --listen 127.0.0.1:9000 or --listen unix:/run/tsgi.sock, or let the web server start tsgi with a listening socket on fd 0 (lighttpd bin-path, spawn-fcgi)';

/** The flags and APP, as the command uses them; a CliError (one line) for anything wrong. */
export function parseFastCgiArgs(args: string[]): {
  spec?: string;
  values: FastCgiFlagValues;
  directory: ScriptFlagValues;
} {
  const { values, directory, positionals } = parseFastCgiFlags(args);
  if (positionals.length > 1) throw new CliError(`unexpected argument '${positionals[1]}'`, USAGE_HINT);
  const mode = values['socket-mode'];
  if (mode !== undefined) {
    const text = mode.replace(/^0o/i, '');
    const parsed = /^[0-7]{3,4}$/.test(text) ? parseInt(text, 8) : NaN;
    if (Number.isNaN(parsed)) throw new CliError(`bad --socket-mode '${mode}'`, 'an octal mode such as 660');
    if ((parsed & 0o002) !== 0)
      throw new CliError(
        `--socket-mode ${mode} lets every local user send requests`,
        'use 660 (or 600) and --socket-group for the web server',
      );
  }
  const pm = values.pm;
  if (pm !== undefined && pm !== 'static' && pm !== 'dynamic' && pm !== 'ondemand')
    throw new CliError(`--pm wants static, dynamic or ondemand, got '${pm}'`, USAGE_HINT);
  return { spec: positionals[0], values, directory };
}

/** True when tsgi binds its own address: --listen, or systemd's sockets for this very process. */
function bindsOwnAddress(values: FastCgiFlagValues): boolean {
  if ((values.listen ?? []).length > 0) return true;
  return process.env.LISTEN_PID === String(process.pid) && Number(process.env.LISTEN_FDS) > 0;
}

/** The pool the flags ask for: undefined serves in one process. */
export function processModelOf(values: FastCgiFlagValues, ownAddress: boolean): ProcessModel | undefined {
  const pm = values.pm ?? 'static';
  if (pm === 'dynamic') {
    const minSpare = values['min-spare'] ?? 1;
    const maxSpare = Math.max(minSpare, values['max-spare'] ?? 3);
    return { kind: 'dynamic', maxWorkers: values.workers || 4, minSpare, maxSpare };
  }
  if (pm === 'ondemand')
    return {
      kind: 'ondemand',
      maxWorkers: values.workers || 4,
      idleTimeoutMs: values['idle-worker-timeout'] ?? 10_000,
    };
  const workers = values.workers ?? (ownAddress ? 1 : 0);
  return workers > 0 ? { kind: 'static', workers } : undefined;
}

/** A listen failure as one line with a way out. */
function listenError(error: NodeJS.ErrnoException): CliError {
  const message = error.message.replace(/^tsgi fastcgi: /, '');
  if (error.code === 'EADDRINUSE')
    return new CliError(`address in use: ${message}`, 'pick another --listen address', 1);
  if (error.code === 'EACCES')
    return new CliError(`no permission: ${message}`, 'ports below 1024 and some socket paths need root', 1);
  if (error.code === 'EINVAL' || error.code === 'ENOTSOCK')
    return new CliError(`cannot listen: ${message}`, 'an inherited fd must be a listening socket', 1);
  return new CliError(`cannot listen: ${message}`, 'check the --listen address and the socket options', 1);
}

// In a pool the primary loads APP too (it never serves it): a broken APP fails here with one line, and the start
// line can say what it was detected as. Workers load it themselves, so a reload loads the new code.
async function loadOrReport(
  spec: string | undefined,
  directory: ScriptFlagValues,
): Promise<{ app: Application; detected: DetectedApp }> {
  const { resolveApp } = await import('./script-flags.js');
  const { isPoolWorker, tellPrimary } = await import('../fastcgi/pool/worker.js');
  try {
    return await resolveApp(spec, directory, USAGE_HINT);
  } catch (error) {
    if (isPoolWorker()) {
      // One line for the primary (a failed reload keeps the old workers); then let go of the IPC channel so
      // this worker exits with status 1.
      const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
      tellPrimary({ tsgi: 'load-failed', message });
      process.exitCode = 1;
      process.disconnect?.();
    }
    throw error;
  }
}

export const command: Command = {
  summary:
    'serve APP over FastCGI (nginx, Apache, lighttpd): TCP, unix socket, fd 0 or systemd; a pool of workers',
  async run(args) {
    const { spec, values, directory } = parseFastCgiArgs(args);
    if (values.help === true) {
      process.stdout.write(help());
      return 0;
    }
    // Production unless told otherwise (issue 11: Express sent its HTML stack traces to clients); workers inherit it.
    process.env.NODE_ENV ??= 'production';
    const { describeTarget } = await import('./script-flags.js');
    const target = describeTarget(spec, directory, 'usage: tsgi fastcgi APP [--listen ADDR]');
    const { servedAs } = await import('../deploy/detect-app.js');
    if (values.check === true) {
      const { detected } = await loadOrReport(spec, directory);
      process.stderr.write(`tsgi fastcgi: ${target} loads${servedAs(detected)}; the configuration is fine\n`);
      return 0;
    }
    const { parseListenAddress, parseWebServerAddrs } = await import('../fastcgi/index.js');
    for (const address of values.listen ?? []) {
      try {
        parseListenAddress(address);
      } catch (error) {
        throw new CliError((error as Error).message, USAGE_HINT);
      }
    }
    try {
      parseWebServerAddrs(values['web-server-addrs'] ?? process.env.FCGI_WEB_SERVER_ADDRS);
    } catch (error) {
      throw new CliError(
        (error as Error).message,
        'comma-separated IP addresses or subnets, e.g. 127.0.0.1,::1',
      );
    }
    const processModel = processModelOf(values, bindsOwnAddress(values));
    const { app, detected } = await loadOrReport(spec, directory);
    const served = servedAs(detected);
    const { serveFastCgi, NoListenAddressError } = await import('../fastcgi/index.js');
    const limits = {
      ...(values['max-params-bytes'] !== undefined ? { maxParamsBytes: values['max-params-bytes'] } : {}),
      ...(values['max-requests-per-connection'] !== undefined
        ? { maxRequestsPerConnection: values['max-requests-per-connection'] }
        : {}),
      ...(values['idle-timeout'] !== undefined ? { idleTimeoutMs: values['idle-timeout'] } : {}),
      ...(values['params-timeout'] !== undefined ? { paramsTimeoutMs: values['params-timeout'] } : {}),
    };
    let running;
    try {
      running = await serveFastCgi(app, {
        listen: values.listen ?? [],
        processModel,
        socketMode:
          values['socket-mode'] === undefined
            ? undefined
            : parseInt(values['socket-mode'].replace(/^0o/i, ''), 8),
        socketOwner: values['socket-owner'],
        socketGroup: values['socket-group'],
        webServerAddrs: values['web-server-addrs'],
        maxConnections: values['max-connections'],
        maxRequests: values['max-concurrent-requests'],
        multiplex: values['no-multiplex'] !== true,
        limits,
        shutdownTimeoutMs: values['shutdown-timeout'],
        requestTimeoutMs: values['request-timeout'],
        slowRequestMs: values['slow-request'],
        watchdogMs: values['worker-timeout'],
        maxRequestsPerWorker: values['max-requests-per-worker'],
        stackProbe: values['no-stack-probe'] !== true,
        maxWorkerMemoryBytes:
          values['max-worker-memory'] === undefined ? undefined : values['max-worker-memory'] * 1024 * 1024,
        statusPath: values['status-path'],
        pingPath: values['ping-path'],
        poolName: values['pool-name'],
        // The start line says what APP was detected as (issue 13), so a wrong guess shows in the log.
        ...(served === ''
          ? {}
          : {
              log: (line: string) =>
                process.stderr.write(
                  line.startsWith('tsgi fastcgi: listening') ? `${line}${served}\n` : `${line}\n`,
                ),
            }),
      });
    } catch (error) {
      if (error instanceof NoListenAddressError) {
        throw new CliError(
          'nowhere to listen: no --listen address and fd 0 is not a listening socket',
          NO_ADDRESS_HINT,
        );
      }
      throw listenError(error as NodeJS.ErrnoException);
    }
    // Serves until a stop signal; serveFastCgi exits the process once the requests in flight are done.
    return running.stopped;
  },
};

/** The flag table, for documentation and tests. */
export { FASTCGI_FLAGS };
