// `tsgi fastcgi APP`: the FastCGI listener for nginx, Apache and lighttpd (TCP, unix socket, fd 0, systemd).
import { APP_SHAPES_HELP } from '../deploy/detect-app.js';
import { CliError } from './cli-error.js';
import { parseFlags } from './parse-flags.js';
import { SCRIPT_FLAGS, SCRIPT_FLAGS_HELP, type ScriptFlagValues } from './script-flags.js';
import type { Command } from './main.js';

const HELP = `usage: tsgi fastcgi APP | --scripts ROOT | --cgi-bin DIR [--listen ADDR]... [--workers N] [options]

Serves APP over FastCGI 1.0 for a web server (nginx fastcgi_pass, Apache mod_proxy_fcgi, lighttpd
mod_fastcgi). APP is a module path, optionally path#exportName. One line on stderr says where it listens.
SIGTERM, SIGUSR1 (mod_fcgid, mod_fastcgi) and SIGINT stop it gracefully: no new connections, requests in
flight finish (up to --shutdown-timeout), exit 0; a second signal aborts what is left.

where to listen (--listen may be repeated):
  --listen HOST:PORT      TCP, e.g. 127.0.0.1:9000 or [::1]:9000 (a bare PORT means 127.0.0.1:PORT)
  --listen unix:/PATH     a unix socket (also any path with a /); a stale socket file is replaced
  --listen fd:N           an inherited listening socket
  (none)                  systemd's sockets (LISTEN_FDS), else fd 0 when the web server started tsgi with
                          its listening socket there (lighttpd bin-path, spawn-fcgi, mod_fcgid)

options:
  --workers N                 N processes (node:cluster) share the sockets; a crashed one is restarted
  --socket-mode MODE          unix socket mode in octal (default 660; world-writable modes are refused)
  --socket-owner USER         owner of the unix socket (needs root)
  --socket-group GROUP        group of the unix socket: the web server's (e.g. www-data)
  --web-server-addrs LIST     who may connect over TCP: comma-separated IPs or subnets
                              (default: $FCGI_WEB_SERVER_ADDRS; unset means anyone)
  --max-connections N         connections at once (default 1024)
  --max-requests N            requests in flight over all connections (default 1024); more get FCGI_OVERLOADED
  --max-requests-per-connection N   multiplexed requests on one connection (default 128)
  --max-params-bytes N        size of one request's FCGI_PARAMS (default 262144)
  --idle-timeout SECONDS      close a kept-alive connection idle this long (default 60)
  --shutdown-timeout SECONDS  how long a stop waits for requests in flight (default 30)
  --no-multiplex              one request at a time per connection (others get FCGI_CANT_MPX_CONN)
  -h, --help                  this text

${SCRIPT_FLAGS_HELP}
examples:
  tsgi fastcgi app.ts --listen 127.0.0.1:9000
  tsgi fastcgi app.ts --listen unix:/run/tsgi/app.sock --socket-group www-data --workers 2
  tsgi fastcgi --scripts /srv/www --listen 127.0.0.1:9000      (nginx: $document_root$fastcgi_script_name)
  spawn-fcgi -n -a 127.0.0.1 -p 9000 -- /usr/bin/node node_modules/.bin/tsgi fastcgi app.ts

${APP_SHAPES_HELP}
`;

const USAGE_HINT = "run 'tsgi fastcgi --help' for usage";
const NO_ADDRESS_HINT =
  'pass --listen 127.0.0.1:9000 or --listen unix:/run/tsgi.sock, or let the web server start tsgi with a listening socket on fd 0 (lighttpd bin-path, spawn-fcgi)';

interface FastCgiArgs {
  help: boolean;
  spec?: string;
  listen: string[];
  workers: number;
  socketMode?: number;
  socketOwner?: string;
  socketGroup?: string;
  webServerAddrs?: string;
  maxConnections?: number;
  maxRequests?: number;
  maxRequestsPerConnection?: number;
  maxParamsBytes?: number;
  idleTimeoutMs?: number;
  shutdownTimeoutMs?: number;
  multiplex: boolean;
  directory: ScriptFlagValues;
}

function count(name: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min))
    throw new CliError(`--${name} wants a whole number of at least ${min}, got '${text}'`, USAGE_HINT);
  return value;
}

function seconds(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0)) throw new CliError(`--${name} wants seconds (e.g. 30), got '${text}'`, USAGE_HINT);
  return Math.round(value * 1000);
}

/** The flags and APP, or a one-line CliError. */
export function parseFastCgiArgs(args: string[]): FastCgiArgs {
  const { values, positionals } = parseFlags(
    args,
    {
      listen: { type: 'string', short: 'l', multiple: true },
      workers: { type: 'string', short: 'w' },
      'socket-mode': { type: 'string' },
      'socket-owner': { type: 'string' },
      'socket-group': { type: 'string' },
      'web-server-addrs': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-requests': { type: 'string' },
      'max-requests-per-connection': { type: 'string' },
      'max-params-bytes': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      // parseArgs learned `--no-*` (allowNegative) in Node 22.4; Node 20 needs the flag spelled out.
      'no-multiplex': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...SCRIPT_FLAGS,
    },
    USAGE_HINT,
  );
  if (positionals.length > 1) throw new CliError(`unexpected argument '${positionals[1]}'`, USAGE_HINT);
  let socketMode: number | undefined;
  if (values['socket-mode'] !== undefined) {
    const text = values['socket-mode'].replace(/^0o/i, '');
    socketMode = /^[0-7]{3,4}$/.test(text) ? parseInt(text, 8) : NaN;
    if (Number.isNaN(socketMode))
      throw new CliError(`bad --socket-mode '${values['socket-mode']}'`, 'an octal mode such as 660');
    if ((socketMode & 0o002) !== 0)
      throw new CliError(
        `--socket-mode ${values['socket-mode']} lets every local user send requests`,
        'use 660 (or 600) and --socket-group for the web server',
      );
  }
  return {
    help: values.help === true,
    spec: positionals[0],
    listen: values.listen ?? [],
    workers: count('workers', values.workers, 0) ?? 0,
    socketMode,
    socketOwner: values['socket-owner'],
    socketGroup: values['socket-group'],
    webServerAddrs: values['web-server-addrs'],
    maxConnections: count('max-connections', values['max-connections']),
    maxRequests: count('max-requests', values['max-requests']),
    maxRequestsPerConnection: count('max-requests-per-connection', values['max-requests-per-connection']),
    maxParamsBytes: count('max-params-bytes', values['max-params-bytes']),
    idleTimeoutMs: seconds('idle-timeout', values['idle-timeout']),
    shutdownTimeoutMs: seconds('shutdown-timeout', values['shutdown-timeout']),
    multiplex: values['no-multiplex'] !== true,
    directory: values,
  };
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

export const command: Command = {
  summary: 'serve APP over FastCGI (nginx, Apache, lighttpd): TCP, unix socket, fd 0 or systemd; --workers N',
  async run(args) {
    const options = parseFastCgiArgs(args);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const { describeTarget, resolveApp } = await import('./script-flags.js');
    describeTarget(options.spec, options.directory, 'usage: tsgi fastcgi APP [--listen ADDR]');
    const { parseListenAddress, parseWebServerAddrs } = await import('../fastcgi/index.js');
    for (const address of options.listen) {
      try {
        parseListenAddress(address);
      } catch (error) {
        throw new CliError((error as Error).message, USAGE_HINT);
      }
    }
    try {
      parseWebServerAddrs(options.webServerAddrs ?? process.env.FCGI_WEB_SERVER_ADDRS);
    } catch (error) {
      throw new CliError(
        (error as Error).message,
        'comma-separated IP addresses or subnets, e.g. 127.0.0.1,::1',
      );
    }
    // Loaded in a --workers primary too, which never calls it: a broken APP then fails here with one line,
    // instead of in every worker the primary would keep restarting.
    let app, detected;
    try {
      ({ app, detected } = await resolveApp(options.spec, options.directory, USAGE_HINT));
    } catch (error) {
      // In a --workers worker the IPC channel would keep this process alive after the error: let go of it, so
      // the worker exits (status 1) and the primary counts a failed start.
      const { isWorker } = await import('../fastcgi/workers.js');
      if (isWorker()) {
        // worker.disconnect(), not process.disconnect(): cluster would take the latter for a dead primary and
        // exit 0, hiding the failure.
        const { default: cluster } = await import('node:cluster');
        process.exitCode = 1;
        cluster.worker?.disconnect();
      }
      throw error;
    }
    const { serveFastCgi, NoListenAddressError } = await import('../fastcgi/index.js');
    const { servedAs } = await import('../deploy/detect-app.js');
    const served = servedAs(detected);
    const limits = {
      ...(options.maxParamsBytes !== undefined ? { maxParamsBytes: options.maxParamsBytes } : {}),
      ...(options.maxRequestsPerConnection !== undefined
        ? { maxRequestsPerConnection: options.maxRequestsPerConnection }
        : {}),
      ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    };
    let running;
    try {
      running = await serveFastCgi(app, {
        listen: options.listen,
        workers: options.workers,
        socketMode: options.socketMode,
        socketOwner: options.socketOwner,
        socketGroup: options.socketGroup,
        webServerAddrs: options.webServerAddrs,
        maxConnections: options.maxConnections,
        maxRequests: options.maxRequests,
        multiplex: options.multiplex,
        limits,
        shutdownTimeoutMs: options.shutdownTimeoutMs,
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
