// `tsgi explain`: one request's variables as they arrived, each normalisation step, and the environ that results.
import { buildEnviron } from '../shared/environ.js';
import { createInput } from '../shared/input.js';

/** How a request reached tsgi: its raw variables and what carried them. */
export interface CapturedRequest {
  /** The variables exactly as they arrived (ISO-8859-1 strings): the environment block or FCGI_PARAMS. */
  readonly vars: Readonly<Record<string, string>>;
  readonly transport: 'cgi' | 'fastcgi';
  /** The web server's address (FastCGI over TCP), for FCGI_WEB_SERVER_ADDRS checks. */
  readonly peer?: string;
  /** Request body bytes that arrived (FCGI_STDIN), when known. */
  readonly bodyBytes?: number;
}

/** One variable that normalisation added, removed or changed. */
export interface VariableChange {
  readonly name: string;
  readonly before?: string;
  readonly after?: string;
}

/** What `tsgi explain` reports for one request. */
export interface Explanation {
  readonly transport: 'cgi' | 'fastcgi';
  readonly raw: Readonly<Record<string, string>>;
  /** The notes of each fix-up, in order (from buildEnviron's quirks and the front end's own steps). */
  readonly steps: readonly string[];
  /** The CGI variables of the environ the application would get (tsgi.* keys left out). */
  readonly environ: Readonly<Record<string, string>>;
  readonly changes: readonly VariableChange[];
  /** Set when the request cannot become an environ at all (the application would not be called). */
  readonly error?: string;
  /** How many variables were left out as not part of the request (see redact.ts); absent when none were. */
  readonly hidden?: number;
}

const NO_ERRORS = { write: () => undefined };

/**
 * Explains one request: runs the same `buildEnviron` the front ends run, collecting its step notes, then diffs
 * the variables so that a change no step announced still shows. For CGI it adds the httpoxy step the runner
 * takes on `process.env` (the Proxy header must not become an outbound proxy for child processes).
 */
export function explainRequest(request: CapturedRequest): Explanation {
  const steps: string[] = [];
  if (request.transport === 'cgi' && request.vars.HTTP_PROXY !== undefined) {
    steps.push(
      'httpoxy: HTTP_PROXY (a client "Proxy:" header) removed from process.env so child processes and HTTP clients do not use it as a proxy (CVE-2016-5385); the environ keeps the header',
    );
  }
  let environ: Record<string, string> = {};
  let error: string | undefined;
  try {
    const built = buildEnviron(request.vars, createInput(undefined, { contentLength: 0 }), NO_ERRORS, {
      onStep: (note) => steps.push(note),
    });
    for (const [name, value] of Object.entries(built)) {
      if (typeof value === 'string' && !name.startsWith('tsgi.')) environ[name] = value;
    }
  } catch (caught) {
    error = (caught as Error).message;
    environ = {};
  }
  return {
    transport: request.transport,
    raw: request.vars,
    steps,
    environ,
    changes: diff(request.vars, environ, error),
    error,
  };
}

function diff(
  before: Readonly<Record<string, string>>,
  after: Readonly<Record<string, string>>,
  error: string | undefined,
): VariableChange[] {
  if (error !== undefined) return [];
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const changes: VariableChange[] = [];
  for (const name of names) {
    const was = Object.hasOwn(before, name) ? before[name] : undefined;
    const now = Object.hasOwn(after, name) ? after[name] : undefined;
    if (was !== now)
      changes.push({
        name,
        ...(was !== undefined ? { before: was } : {}),
        ...(now !== undefined ? { after: now } : {}),
      });
  }
  return changes;
}

// The request variables people ask about first; the rest follow alphabetically.
const FIRST = [
  'REQUEST_METHOD',
  'REQUEST_URI',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'SCRIPT_FILENAME',
];

function ordered(vars: Readonly<Record<string, string>>): [string, string][] {
  const entries = Object.entries(vars);
  const rank = (name: string): number => {
    const index = FIRST.indexOf(name);
    return index === -1 ? FIRST.length : index;
  };
  return entries.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

const show = (value: string | undefined): string => (value === undefined ? '(unset)' : JSON.stringify(value));

/** The explanation as plain text: raw variables, steps, changes, resulting environ. */
export function formatExplanation(explanation: Explanation): string {
  const lines = [
    `tsgi explain: one ${explanation.transport === 'cgi' ? 'CGI' : 'FastCGI'} request`,
    '',
    'as it arrived:',
  ];
  for (const [name, value] of ordered(explanation.raw)) lines.push(`  ${name}=${JSON.stringify(value)}`);
  if (explanation.hidden) {
    lines.push(
      `  (${explanation.hidden} more not shown: not part of the request, e.g. the process environment; credentials appear as <redacted>)`,
    );
  }
  lines.push('', 'normalisation steps:');
  if (explanation.steps.length === 0) lines.push('  (none: the variables were used as they came)');
  for (const step of explanation.steps) lines.push(`  - ${step}`);
  if (explanation.error !== undefined) {
    lines.push(
      '',
      `refused: ${explanation.error}`,
      '(the application would not be called; the client gets 400)',
    );
    return lines.join('\n') + '\n';
  }
  lines.push('', 'changed:');
  if (explanation.changes.length === 0) lines.push('  (nothing)');
  for (const change of explanation.changes) {
    lines.push(`  ${change.name}: ${show(change.before)} -> ${show(change.after)}`);
  }
  lines.push('', 'environ (CGI variables the application gets):');
  for (const [name, value] of ordered(explanation.environ)) lines.push(`  ${name}=${JSON.stringify(value)}`);
  return lines.join('\n') + '\n';
}
