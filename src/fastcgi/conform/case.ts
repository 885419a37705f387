// What a conformance case is, what it gets to work with, and the response checks every case shares.
import { stdoutOf, wholeRequest, type ParsedRecord } from './bytes.js';
import { CaseFailure, Probe, type ProbeTarget } from './probe.js';

/** The groups of the scorecard, in the order they run. */
export type CaseGroup = 'codec' | 'roles' | 'connection' | 'multiplexing' | 'management' | 'hostile';

/** One check of a FastCGI responder. `run` resolves when the responder passes and throws a CaseFailure when not. */
export interface ConformCase {
  /** Stable id, `group.name` (shown in the scorecard; `--only` selects by prefix). */
  readonly id: string;
  readonly group: CaseGroup;
  /** The FastCGI 1.0 section the case checks, e.g. `§4.2`. */
  readonly section: string;
  /** What a conforming responder does, in one line. */
  readonly title: string;
  run(context: CaseContext): Promise<void>;
}

/** What a case works with: fresh connections to the responder and the variables of a plain GET. */
export class CaseContext {
  /** Variables of a plain GET request, with the `--param` extras (e.g. SCRIPT_FILENAME for PHP-FPM). */
  readonly vars: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  private readonly target: ProbeTarget;
  private readonly open = new Set<Probe>();

  constructor(target: ProbeTarget, vars: Readonly<Record<string, string>>, timeoutMs: number) {
    this.target = target;
    this.vars = vars;
    this.timeoutMs = timeoutMs;
  }

  /** A new connection; every connection a case opened is closed when the case ends. */
  async connect(): Promise<Probe> {
    const probe = await Probe.open(this.target, this.timeoutMs);
    this.open.add(probe);
    return probe;
  }

  /** Closes the case's connections. */
  dispose(): void {
    for (const probe of this.open) probe.destroy();
    this.open.clear();
  }
}

/** What a complete response looked like. */
export interface ResponseSeen {
  /** The CGI status code from STDOUT (`Status:`, 302 for a bare Location, else 200). */
  statusCode: number;
  appStatus: number;
  protocolStatus: number;
}

/** FCGI_END_REQUEST's body (§5.5) for `id`, checked for its 8-byte length. */
export function endOf(
  records: readonly ParsedRecord[],
  id: number,
): { appStatus: number; protocolStatus: number } {
  const end = records.find((r) => r.type === 3 && r.id === id);
  if (end === undefined) throw new CaseFailure(`no FCGI_END_REQUEST for request ${id}`);
  if (end.content.length !== 8) {
    throw new CaseFailure(
      `FCGI_END_REQUEST for request ${id} has ${end.content.length} content bytes, not 8 (§5.5)`,
    );
  }
  return { appStatus: end.content.readUInt32BE(0), protocolStatus: end.content[4]! };
}

/**
 * A whole Responder answer for `id` (§6.2): FCGI_STDOUT carrying a CGI head, then FCGI_END_REQUEST with
 * FCGI_REQUEST_COMPLETE. The empty record that should close STDOUT is its own case (codec.stdout-stream-end),
 * so that a responder that leaves it out (PHP-FPM) fails that case and not all of them.
 */
export function expectResponse(records: readonly ParsedRecord[], id: number): ResponseSeen {
  const end = endOf(records, id);
  if (end.protocolStatus !== 0) {
    throw new CaseFailure(
      `FCGI_END_REQUEST for request ${id} has protocolStatus ${end.protocolStatus}, not 0`,
    );
  }
  const mine = records.filter((r) => r.id === id);
  const endAt = mine.findIndex((r) => r.type === 3);
  const stdout = mine.slice(0, endAt).filter((r) => r.type === 6);
  if (stdout.length === 0) throw new CaseFailure(`request ${id} got FCGI_END_REQUEST with no FCGI_STDOUT`);
  if (mine.slice(endAt + 1).length > 0)
    throw new CaseFailure(`records for request ${id} after its END_REQUEST`);
  return { statusCode: cgiStatus(stdoutOf(records, id)), ...end };
}

/** The status code of a CGI response head (RFC 3875 §6.3.3); fails when STDOUT has no head. */
export function cgiStatus(stdout: Buffer): number {
  const text = stdout.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  if (end < 0) throw new CaseFailure('FCGI_STDOUT has no CGI header block (no blank line after the headers)');
  const lines = text.slice(0, end).split(/\r?\n/);
  const status = lines.find((line) => /^status:/i.test(line));
  if (status !== undefined) return Number.parseInt(status.slice(7).trim(), 10);
  return lines.some((line) => /^location:/i.test(line)) ? 302 : 200;
}

/** A fresh connection still gets a whole response: the responder survived what the case sent before. */
export async function expectStillServing(context: CaseContext, after: string): Promise<void> {
  let probe: Probe;
  try {
    probe = await context.connect();
  } catch (error) {
    throw new CaseFailure(`after ${after}, ${(error as Error).message}`);
  }
  probe.write(wholeRequest(1, context.vars));
  try {
    expectResponse(await probe.untilEnd(1), 1);
  } catch (error) {
    throw new CaseFailure(`after ${after}, a fresh connection: ${(error as Error).message}`);
  }
}
