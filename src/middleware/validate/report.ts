// How the validator reports a breach: a ValidationError whose code is the SPEC.md clause id, or a warning line.
import { ValidationError } from '../../shared/errors.js';
import type { ErrorStream } from '../../shared/types.js';

/**
 * Throws the ValidationError for a broken MUST. `clause` is the id of a rule in SPEC.md ("Rules"); the message
 * names the clause and says the fix, as Rack::Lint's messages do.
 */
export function fail(clause: string, message: string): never {
  throw new ValidationError(clause, `tsgi validate: [${clause}] ${message}`);
}

/** Writes one warning line for a broken SHOULD to `tsgi.errors` (wsgiref's validator issues a WSGIWarning). */
export function warn(errors: ErrorStream, clause: string, message: string): void {
  errors.write(`tsgi validate: warning [${clause}] ${message}\n`);
}

/** A short, quoted, printable rendering of a value for messages (control characters escaped). */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (value instanceof Uint8Array) return `a ${value.constructor.name} of ${value.length} bytes`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'null prototype'})`;
  return `${typeof value} ${String(value)}`;
}

/**
 * Writes one line for a broken MUST that has no caller left to throw to (a body the server dropped without
 * closing it: wsgiref's validator reports that from `__del__`).
 */
export function report(errors: ErrorStream, clause: string, message: string): void {
  errors.write(`tsgi validate: [${clause}] ${message}\n`);
}
