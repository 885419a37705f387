// `tsgi conform ADDRESS`: the wire-level conformance kit run against any FastCGI responder, printed as a scorecard.
import { CliError } from './cli-error.js';
import { parseFlags } from './parse-flags.js';
import type { Command } from './main.js';

const HELP = `usage: tsgi conform ADDRESS [--param NAME=VALUE]... [--only PREFIX]... [--timeout MS] [--verbose|--json]

Checks the FastCGI responder at ADDRESS (HOST:PORT, [IPV6]:PORT, unix:/PATH or /PATH) on the wire: the record
codec, the Responder/Authorizer/Filter roles, keep-conn and FCGI_ABORT_REQUEST, multiplexing, the management
records (FCGI_GET_VALUES, FCGI_UNKNOWN_TYPE) and hostile input. Prints "N/M cases pass", then one line per
case that failed with its FastCGI 1.0 section. Exit status 0 when every case passes, 1 when one fails.
Hostile cases send broken bytes: point it at a responder you run, not at production.

options:
  --param NAME=VALUE   an extra FCGI_PARAMS variable for every request (e.g. SCRIPT_FILENAME for PHP-FPM)
  --only PREFIX        run only the cases whose id starts with PREFIX (codec, roles, management.get-values …)
  --timeout MS         how long to wait for each answer (default 3000)
  --verbose            list the cases that pass too
  --json               print the scorecard as JSON
  -h, --help           this text

examples:
  tsgi conform 127.0.0.1:9000
  tsgi conform unix:/run/php/php8.2-fpm.sock --param SCRIPT_FILENAME=/var/www/html/index.php
`;

const USAGE_HINT = "run 'tsgi conform --help' for usage";

/** A parsed `tsgi conform` command line. */
export interface ConformArgs {
  help: boolean;
  address?: string;
  params: Record<string, string>;
  only: string[];
  timeoutMs: number;
  verbose: boolean;
  json: boolean;
}

/** The flags and ADDRESS, or a one-line CliError. */
export function parseConformArgs(args: string[]): ConformArgs {
  const { values, positionals } = parseFlags(
    args,
    {
      param: { type: 'string', multiple: true },
      only: { type: 'string', multiple: true },
      timeout: { type: 'string' },
      verbose: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    USAGE_HINT,
  );
  if (positionals.length > 1) throw new CliError(`unexpected argument '${positionals[1]}'`, USAGE_HINT);
  const params: Record<string, string> = {};
  for (const pair of values.param ?? []) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new CliError(`bad --param '${pair}'`, 'write it as --param NAME=VALUE');
    params[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  const timeoutMs = values.timeout === undefined ? 3000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new CliError(`bad --timeout '${values.timeout}'`, 'give a whole number of milliseconds');
  }
  return {
    help: values.help === true,
    address: positionals[0],
    params,
    only: values.only ?? [],
    timeoutMs,
    verbose: values.verbose === true,
    json: values.json === true,
  };
}

export const command: Command = {
  summary: 'check a FastCGI responder on the wire and print a scorecard (N/M cases pass)',
  async run(args) {
    const options = parseConformArgs(args);
    if (options.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (options.address === undefined) throw new CliError('missing ADDRESS', USAGE_HINT);
    const { runConformance, formatScorecard, CONFORM_CASES } = await import('../fastcgi/conform/index.js');
    if (options.only.length > 0 && !CONFORM_CASES.some((c) => options.only.some((p) => c.id.startsWith(p)))) {
      throw new CliError(`no case id starts with ${options.only.join(' or ')}`, USAGE_HINT);
    }
    let card;
    try {
      card = await runConformance(options.address, options);
    } catch (error) {
      throw new CliError((error as Error).message, USAGE_HINT);
    }
    process.stdout.write(
      options.json ? JSON.stringify(card, null, 2) + '\n' : formatScorecard(card, options.verbose),
    );
    return card.passed === card.total ? 0 : 1;
  },
};
