// The command line of one subcommand: node:util parseArgs in strict mode, its refusals as one-line CliErrors.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from './closest.js';
import { CliError } from './cli-error.js';

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** What parseArgs returns for these options (named, so that the .d.ts build can write the type down). */
export type ParsedFlags<O extends FlagOptions> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>
>;

/**
 * Parses `args` strictly against `options` (unknown flags and missing values are errors, as in every tsgi
 * subcommand). A refusal becomes a CliError: parseArgs' first sentence ("unknown option '--foo'"), lower-cased,
 * with `usageHint` on the next line. `allowPositionals: false` for commands that take no APP.
 */
export function parseFlags<const O extends FlagOptions>(
  args: string[],
  options: O,
  usageHint: string,
  { allowPositionals = true }: { allowPositionals?: boolean } = {},
): ParsedFlags<O> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    // parseArgs' messages are one sentence already ("Unknown option '--foo'…"); keep the first one only.
    const message = (error as Error).message.split('. ')[0] ?? 'bad arguments';
    throw new CliError(
      message.charAt(0).toLowerCase() + message.slice(1),
      didYouMean(message, options, usageHint),
    );
  }
}

/** `usageHint`, led by the closest known flag when the refusal is an unknown option (`--prot` → `--port`). */
function didYouMean(message: string, options: FlagOptions, usageHint: string): string {
  const unknown = /^Unknown option '--?([^'=]+)/.exec(message)?.[1];
  if (unknown === undefined) return usageHint;
  const guess = closest(unknown, Object.keys(options));
  return guess === undefined ? usageHint : `did you mean --${guess}? ${usageHint}`;
}
