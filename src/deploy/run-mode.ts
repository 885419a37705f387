// Run-mode detection: CGI, FastCGI on an inherited / systemd / bound socket, or neither — with the reasons.
import { StdinKind, type StdinProbe } from '../shared/stdin-probe.js';

/** The ways a started tsgi program can serve. */
export const RunMode = {
  /** One request from the environment and stdin (RFC 3875), then exit. */
  Cgi: 'cgi',
  /** FastCGI on the listening socket the web server handed over as fd 0 (FastCGI 1.0 §2.2). */
  FastCgiInherited: 'fastcgi-inherited',
  /** FastCGI on the sockets systemd passed from fd 3 (sd_listen_fds(3)). */
  FastCgiSystemd: 'fastcgi-systemd',
  /** FastCGI on a socket the program binds itself (`--listen`). */
  FastCgiListen: 'fastcgi-listen',
  /** The development server (only `tsgi run` falls back to it). */
  Development: 'development',
  /** Nothing says how to serve: print how to use the program. */
  Usage: 'usage',
} as const;
/** One run mode. */
export type RunMode = (typeof RunMode)[keyof typeof RunMode];

/** An explicit choice that overrides detection, and where it came from (for the reasons). */
export interface ModeOverride {
  readonly mode: 'cgi' | 'fastcgi';
  readonly source: string;
}

/** Everything detection looks at; gathered by the caller so that the decision itself is pure. */
export interface RunModeFacts {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pid: number;
  readonly stdin: StdinProbe;
  /** `--cgi` / `--fastcgi` / `TSGI_MODE`, or the mode a `tsgi build --cgi|--fastcgi` file was built for. */
  readonly override?: ModeOverride;
  /** An address to bind (`--listen` or `TSGI_LISTEN`). */
  readonly listen?: string;
  /** What to do when nothing matches: `tsgi run` serves for development, a built file prints its usage. */
  readonly fallback: 'development' | 'usage';
}

/** The decision: the mode, why (one sentence per fact that counted), and a problem when it cannot work. */
export interface RunModeDecision {
  readonly mode: RunMode;
  readonly reasons: readonly string[];
  /** Set when an override asks for something this process cannot do (e.g. FastCGI with no socket). */
  readonly problem?: string;
  /** The address for FastCgiListen. */
  readonly listen?: string;
}

/** True when systemd passed sockets to this very process (LISTEN_PID guards against inherited variables). */
function systemdSockets(facts: RunModeFacts): number {
  const count = Number(facts.env.LISTEN_FDS);
  if (facts.env.LISTEN_PID !== String(facts.pid) || !Number.isInteger(count) || count <= 0) return 0;
  return count;
}

/** The CGI request variables that say a web server started this process for one request (RFC 3875 §4.1). */
function cgiEvidence(env: RunModeFacts['env']): string | undefined {
  const present = ['GATEWAY_INTERFACE', 'REQUEST_METHOD'].filter((name) => env[name] !== undefined);
  if (present.length === 0) return undefined;
  return present.map((name) => `${name}=${env[name] ?? ''}`).join(' and ');
}

function fastCgiSocket(facts: RunModeFacts, reasons: string[]): RunModeDecision | undefined {
  const systemd = systemdSockets(facts);
  if (systemd > 0) {
    reasons.push(
      `LISTEN_FDS=${systemd} and LISTEN_PID=${facts.pid} (this process): systemd socket activation, listening on fd 3${systemd > 1 ? `-${2 + systemd}` : ''}`,
    );
    return { mode: RunMode.FastCgiSystemd, reasons };
  }
  if (facts.stdin.kind === StdinKind.ListeningSocket || facts.stdin.kind === StdinKind.Socket) {
    reasons.push(
      `${facts.stdin.detail}: FCGI_LISTENSOCK_FILENO (FastCGI 1.0 §2.2), as lighttpd bin-path, spawn-fcgi and mod_fcgid pass it`,
    );
    return { mode: RunMode.FastCgiInherited, reasons };
  }
  return undefined;
}

/**
 * Decides how to serve. Order: an explicit override; `--listen`; fd 0 a listening socket (it cannot be a
 * CGI request's stdin); systemd's LISTEN_FDS for this pid; CGI request variables; a socket of unknown state
 * when there are no CGI variables; else the fallback. Every step that counted adds a reason.
 */
export function decideRunMode(facts: RunModeFacts): RunModeDecision {
  const reasons: string[] = [];
  const { override } = facts;
  if (override?.mode === 'cgi') {
    reasons.push(`${override.source} asks for CGI`);
    return { mode: RunMode.Cgi, reasons };
  }
  if (facts.listen !== undefined) {
    reasons.push(`--listen ${facts.listen}: FastCGI on a socket this process binds`);
    return { mode: RunMode.FastCgiListen, reasons, listen: facts.listen };
  }
  if (override?.mode === 'fastcgi') {
    reasons.push(`${override.source} asks for FastCGI`);
    const found = fastCgiSocket(facts, reasons);
    if (found !== undefined) return found;
    reasons.push(`${facts.stdin.detail}, and no LISTEN_FDS for this process`);
    return {
      mode: RunMode.Usage,
      reasons,
      problem:
        'FastCGI needs a socket: start it from the web server (fd 0), from systemd (LISTEN_FDS), or give --listen ADDRESS',
    };
  }
  if (facts.stdin.kind === StdinKind.ListeningSocket || systemdSockets(facts) > 0) {
    return fastCgiSocket(facts, reasons) as RunModeDecision;
  }
  const cgi = cgiEvidence(facts.env);
  if (cgi !== undefined) {
    reasons.push(`${cgi} set: a web server started this process for one request (RFC 3875 §4.1)`);
    reasons.push(`${facts.stdin.detail} (the request body, if any)`);
    return { mode: RunMode.Cgi, reasons };
  }
  if (facts.stdin.kind === StdinKind.Socket) return fastCgiSocket(facts, reasons) as RunModeDecision;
  reasons.push(
    `no CGI request variables (GATEWAY_INTERFACE, REQUEST_METHOD), ${facts.stdin.detail}, no LISTEN_FDS for this process, no --listen`,
  );
  return { mode: facts.fallback === 'development' ? RunMode.Development : RunMode.Usage, reasons };
}

/** Reads `--cgi` / `--fastcgi` and `TSGI_MODE`; the flag wins over the variable. Throws on a bad TSGI_MODE. */
export function modeOverride(
  flags: { cgi?: boolean; fastcgi?: boolean },
  env: Readonly<Record<string, string | undefined>>,
  built?: 'cgi' | 'fastcgi',
): ModeOverride | undefined {
  if (flags.cgi === true && flags.fastcgi === true) throw new Error('--cgi and --fastcgi exclude each other');
  if (flags.cgi === true) return { mode: 'cgi', source: '--cgi' };
  if (flags.fastcgi === true) return { mode: 'fastcgi', source: '--fastcgi' };
  const variable = env.TSGI_MODE;
  if (variable !== undefined && variable !== '' && variable !== 'auto') {
    if (variable !== 'cgi' && variable !== 'fastcgi') {
      throw new Error(`TSGI_MODE=${variable} is not one of cgi, fastcgi, auto`);
    }
    return { mode: variable, source: `TSGI_MODE=${variable}` };
  }
  if (built !== undefined) return { mode: built, source: `tsgi build --${built}` };
  return undefined;
}

/** The decision as the lines `--explain-mode` prints (and the FastCGI start log repeats on one line). */
export function formatRunMode(decision: RunModeDecision): string {
  const lines = [`mode: ${decision.mode}`, ...decision.reasons.map((reason) => `  because ${reason}`)];
  if (decision.problem !== undefined) lines.push(`problem: ${decision.problem}`);
  return lines.join('\n');
}
