// parseFlags: every subcommand's strict flag parsing and its one-line errors.
import { describe, expect, it } from 'vitest';
import { CliError } from '../../../src/cli/cli-error.js';
import { parseFlags } from '../../../src/cli/parse-flags.js';

const OPTIONS = { port: { type: 'string', short: 'p' }, help: { type: 'boolean' } } as const;

function refusal(action: () => unknown): CliError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    return error as CliError;
  }
  throw new Error('expected a CliError');
}

describe('parseFlags', () => {
  it('returns the flags and the positionals', () => {
    const { values, positionals } = parseFlags(['app.ts', '-p', '80', '--help'], OPTIONS, 'hint');
    expect(values).toEqual({ port: '80', help: true });
    expect(positionals).toEqual(['app.ts']);
  });

  it('refuses an unknown flag in one lower-cased sentence, with the usage hint', () => {
    const error = refusal(() => parseFlags(['--prot', '80'], OPTIONS, "run 'tsgi x --help' for usage"));
    expect(error.message).toMatch(/^unknown option '--prot'$/);
    expect(error.hint).toBe("did you mean --port? run 'tsgi x --help' for usage");
    const far = refusal(() => parseFlags(['--zzzzzz'], OPTIONS, "run 'tsgi x --help' for usage"));
    expect(far.hint).toBe("run 'tsgi x --help' for usage");
  });

  it('refuses a flag without its value', () => {
    expect(refusal(() => parseFlags(['--port'], OPTIONS, 'hint')).message).toMatch(/^option '-p, --port/);
  });

  it('refuses positionals when the command takes none', () => {
    const error = refusal(() => parseFlags(['stray'], OPTIONS, 'hint', { allowPositionals: false }));
    expect(error.message).toMatch(/^unexpected argument 'stray'/);
  });
});
