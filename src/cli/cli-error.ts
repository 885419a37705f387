// A user-facing CLI failure: printed as one line with a hint, mapped to a non-zero exit code.

export class CliError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;
  constructor(message: string, hint?: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.hint = hint;
    this.exitCode = exitCode;
  }
}
