// Runs the conformance cases one after another against one responder and turns the verdicts into a scorecard.
import type { FastCgiAddress } from '../client.js';
import { GET_VARS } from './bytes.js';
import { CaseContext, type CaseGroup, type ConformCase } from './case.js';
import { CODEC_CASES } from './cases-codec.js';
import { CONNECTION_CASES, UNKNOWN_TYPE_CASES } from './cases-connection.js';
import { HOSTILE_CASES, HOSTILE_UNKNOWN_TYPE_CASES } from './cases-hostile.js';
import { CaseFailure, probeTarget } from './probe.js';

/** Every case, in run order (unknown record types last: they take some responders down). */
export const CONFORM_CASES: readonly ConformCase[] = [
  ...CODEC_CASES,
  ...CONNECTION_CASES,
  ...HOSTILE_CASES,
  ...UNKNOWN_TYPE_CASES,
  ...HOSTILE_UNKNOWN_TYPE_CASES,
];

/** Options of a run. */
export interface ConformOptions {
  /** Extra FCGI_PARAMS for every request, e.g. SCRIPT_FILENAME for PHP-FPM. */
  params?: Readonly<Record<string, string>>;
  /** How long each wait for the responder may take (default 3000 ms). */
  timeoutMs?: number;
  /** Run only the cases whose id starts with one of these prefixes. */
  only?: readonly string[];
}

/** One case's verdict. */
export interface CaseResult {
  id: string;
  group: CaseGroup;
  section: string;
  title: string;
  ok: boolean;
  /** Why it failed. */
  reason?: string;
}

/** The outcome of a run. */
export interface Scorecard {
  address: string;
  passed: number;
  total: number;
  results: CaseResult[];
}

/** Runs the cases against the responder at `address`; never throws for what the responder does. */
export async function runConformance(
  address: FastCgiAddress,
  options: ConformOptions = {},
): Promise<Scorecard> {
  const target = probeTarget(address);
  const vars = { ...GET_VARS, ...options.params };
  const timeoutMs = options.timeoutMs ?? 3000;
  const only = options.only ?? [];
  const cases = CONFORM_CASES.filter(
    (c) => only.length === 0 || only.some((prefix) => c.id.startsWith(prefix)),
  );
  const results: CaseResult[] = [];
  for (const conformCase of cases) {
    const context = new CaseContext(target, vars, timeoutMs);
    const { id, group, section, title } = conformCase;
    try {
      await conformCase.run(context);
      results.push({ id, group, section, title, ok: true });
    } catch (error) {
      // A CaseFailure is the responder's doing; anything else is reported the same way, with its message.
      const reason = error instanceof CaseFailure ? error.message : `unexpected error: ${String(error)}`;
      results.push({ id, group, section, title, ok: false, reason });
    } finally {
      context.dispose();
    }
  }
  const name = typeof address === 'string' ? address : JSON.stringify(address);
  return { address: name, passed: results.filter((r) => r.ok).length, total: results.length, results };
}

/** `N/M cases pass`, then one line per failed case (id, FastCGI section, reason); `verbose` lists passes too. */
export function formatScorecard(card: Scorecard, verbose = false): string {
  const lines = [`${card.passed}/${card.total} cases pass (${card.address})`];
  for (const result of card.results) {
    if (result.ok) {
      if (verbose) lines.push(`pass ${result.id} (FastCGI 1.0 ${result.section}): ${result.title}`);
    } else {
      lines.push(`FAIL ${result.id} (FastCGI 1.0 ${result.section}): ${result.reason ?? 'failed'}`);
    }
  }
  return lines.join('\n') + '\n';
}
