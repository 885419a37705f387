// `tsgi fastcgi` flags: one table row per flag (name, kind, help with its default), and their parsing.
import { CliError } from './cli-error.js';
import { parseFlags } from './parse-flags.js';
import { SCRIPT_FLAGS, type ScriptFlagValues } from './script-flags.js';

export const USAGE_HINT = "run 'tsgi fastcgi --help' for usage";

type Kind = 'count' | 'count0' | 'seconds' | 'text' | 'list' | 'flag';

/** One flag: how it is read and its --help line (the default is part of the text). */
interface FlagSpec {
  readonly kind: Kind;
  readonly short?: string;
  readonly arg?: string;
  readonly help: string;
  readonly group: 'listen' | 'pool' | 'limits' | 'other';
}

/**
 * Every flag of `tsgi fastcgi`. Adding one is a row here (and reading it in fastcgi.ts); --help is built from
 * this table, so a flag and its documented default cannot drift apart.
 */
export const FASTCGI_FLAGS = {
  listen: {
    kind: 'list',
    short: 'l',
    arg: 'ADDR',
    group: 'listen',
    help: 'HOST:PORT, [IPV6]:PORT, unix:/PATH, /PATH or fd:N (repeatable)',
  },
  'socket-mode': {
    kind: 'text',
    arg: 'MODE',
    group: 'listen',
    help: 'unix socket mode in octal (default 660; world-writable modes are refused)',
  },
  'socket-owner': {
    kind: 'text',
    arg: 'USER',
    group: 'listen',
    help: 'owner of the unix socket (needs root)',
  },
  'socket-group': {
    kind: 'text',
    arg: 'GROUP',
    group: 'listen',
    help: "group of the unix socket: the web server's (e.g. www-data)",
  },
  'web-server-addrs': {
    kind: 'text',
    arg: 'LIST',
    group: 'listen',
    help: 'who may connect over TCP: comma-separated IPs or subnets (default $FCGI_WEB_SERVER_ADDRS; unset: anyone)',
  },
  workers: {
    kind: 'count0',
    short: 'w',
    arg: 'N',
    group: 'pool',
    help: 'worker processes (default 1 when tsgi binds its own address; 0 serves in one process, the default on fd 0); the most for --pm dynamic/ondemand (default 4)',
  },
  pm: {
    kind: 'text',
    arg: 'MODEL',
    group: 'pool',
    help: 'static (default), dynamic (keep --min-spare..--max-spare idle) or ondemand (start on demand, stop when idle)',
  },
  'min-spare': {
    kind: 'count',
    arg: 'N',
    group: 'pool',
    help: 'pm dynamic: fewest idle workers (default 1)',
  },
  'max-spare': { kind: 'count', arg: 'N', group: 'pool', help: 'pm dynamic: most idle workers (default 3)' },
  'idle-worker-timeout': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'pool',
    help: 'pm ondemand: stop a worker idle this long (default 10)',
  },
  'max-requests-per-worker': {
    kind: 'count',
    arg: 'N',
    group: 'pool',
    help: 'replace a worker after N requests, plus up to 10% jitter (default: never)',
  },
  'max-worker-memory': {
    kind: 'count',
    arg: 'MIB',
    group: 'pool',
    help: 'replace a worker whose resident memory passes MIB (default: never)',
  },
  'worker-timeout': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'pool',
    help: 'kill a worker whose event loop is blocked this long (default: --request-timeout + 2, else 30)',
  },
  'no-stack-probe': {
    kind: 'flag',
    group: 'pool',
    help: "no probe thread in workers (saves 9-16 MiB each); a blocked worker's log lines then have no stack",
  },
  'status-path': {
    kind: 'text',
    arg: 'PATH',
    group: 'pool',
    help: "answer the pool's status page at this SCRIPT_NAME+PATH_INFO (?json, ?openmetrics, ?full)",
  },
  'ping-path': { kind: 'text', arg: 'PATH', group: 'pool', help: 'answer "pong" at this path' },
  'pool-name': {
    kind: 'text',
    arg: 'NAME',
    group: 'pool',
    help: "the pool's name on the status page (default tsgi)",
  },
  'request-timeout': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'limits',
    help: 'a request running longer gets a 504 (or is cut off) and its signal aborts (default: none)',
  },
  'slow-request': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'limits',
    help: "log one line per request running longer; a blocked pool worker's with its JavaScript stack (default: off)",
  },
  'max-connections': {
    kind: 'count',
    arg: 'N',
    group: 'limits',
    help: 'connections at once per process (default 4096); refusals are logged as a summary',
  },
  'max-concurrent-requests': {
    kind: 'count',
    arg: 'N',
    group: 'limits',
    help: 'requests in flight per process (default 1024); more get FCGI_OVERLOADED',
  },
  'max-requests-per-connection': {
    kind: 'count',
    arg: 'N',
    group: 'limits',
    help: 'multiplexed requests on one connection (default 128)',
  },
  'max-params-bytes': {
    kind: 'count',
    arg: 'N',
    group: 'limits',
    help: "size of one request's FCGI_PARAMS (default 262144)",
  },
  'params-timeout': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'limits',
    help: 'time for a complete BEGIN_REQUEST + PARAMS, from the accept; bytes do not reset it (default 10)',
  },
  'idle-timeout': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'limits',
    help: 'close a kept-alive connection with no request this long (default 60)',
  },
  'shutdown-timeout': {
    kind: 'seconds',
    arg: 'SECONDS',
    group: 'limits',
    help: 'how long a stop waits for requests in flight (default 30)',
  },
  // parseArgs learned `--no-*` (allowNegative) in Node 22.4; Node 20 needs the flag spelled out.
  'no-multiplex': {
    kind: 'flag',
    group: 'other',
    help: 'one request at a time per connection (others get FCGI_CANT_MPX_CONN)',
  },
  check: {
    kind: 'flag',
    group: 'other',
    help: "load APP and exit 0, or 1 with one line saying why (FPM's -t)",
  },
  help: { kind: 'flag', short: 'h', group: 'other', help: 'this text' },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FASTCGI_FLAGS;

/** Flags that were renamed: the old name fails with a hint, instead of silently meaning something else. */
const RENAMED: Record<string, string> = {
  '--max-requests':
    '--max-requests was renamed --max-concurrent-requests (it caps requests in flight); to replace a worker after N requests, as gunicorn and PHP-FPM mean it, use --max-requests-per-worker N',
};

/** The --help lines of one group, aligned. */
export function flagHelp(group: FlagSpec['group']): string {
  const rows = Object.entries(FASTCGI_FLAGS as Record<string, FlagSpec>)
    .filter(([, spec]) => spec.group === group)
    .map(([name, spec]) => {
      const short = spec.short === undefined ? '' : `-${spec.short}, `;
      return [`  ${short}--${name}${spec.arg === undefined ? '' : ` ${spec.arg}`}`, spec.help] as const;
    });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, help]) => `${left.padEnd(width)}${help}`).join('\n');
}

/** The parsed values: numbers for counts, milliseconds for seconds, strings, string lists, booleans. */
export type FastCgiFlagValues = {
  -readonly [K in FlagName]?: (typeof FASTCGI_FLAGS)[K]['kind'] extends 'list'
    ? string[]
    : (typeof FASTCGI_FLAGS)[K]['kind'] extends 'flag'
      ? boolean
      : (typeof FASTCGI_FLAGS)[K]['kind'] extends 'text'
        ? string
        : number;
};

/** The flags and APP, or a one-line CliError; `directory` holds the --scripts/--cgi-bin flags (script-flags.ts). */
export function parseFastCgiFlags(args: string[]): {
  values: FastCgiFlagValues;
  directory: ScriptFlagValues;
  positionals: string[];
} {
  for (const arg of args) {
    const name = arg.split('=')[0] ?? '';
    const hint = RENAMED[name];
    if (hint !== undefined) throw new CliError(`unknown option '${name}'`, hint);
  }
  const options = Object.fromEntries(
    Object.entries(FASTCGI_FLAGS as Record<string, FlagSpec>).map(([name, spec]) => [
      name,
      {
        type: spec.kind === 'flag' ? 'boolean' : 'string',
        ...(spec.kind === 'list' ? { multiple: true } : {}),
        ...(spec.short === undefined ? {} : { short: spec.short }),
      },
    ]),
  ) as Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;
  const { values, positionals } = parseFlags(args, { ...options, ...SCRIPT_FLAGS }, USAGE_HINT);
  const out: Record<string, unknown> = {};
  const directory: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(values)) {
    if (name in SCRIPT_FLAGS) directory[name] = raw;
    const spec = (FASTCGI_FLAGS as Record<string, FlagSpec>)[name];
    if (spec === undefined || raw === undefined) continue;
    if (spec.kind === 'count') out[name] = count(name, raw as string, 1);
    else if (spec.kind === 'count0') out[name] = count(name, raw as string, 0);
    else if (spec.kind === 'seconds') out[name] = seconds(name, raw as string);
    else out[name] = raw;
  }
  return { values: out as FastCgiFlagValues, directory: directory as ScriptFlagValues, positionals };
}

function count(name: string, text: string, min: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(value >= min))
    throw new CliError(`--${name} wants a whole number of at least ${min}, got '${text}'`, USAGE_HINT);
  return value;
}

function seconds(name: string, text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value > 0)) throw new CliError(`--${name} wants seconds (e.g. 30), got '${text}'`, USAGE_HINT);
  return Math.round(value * 1000);
}
