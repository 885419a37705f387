// What `tsgi doctor` reports: one finding per problem, with why it matters and the fix for each web server.

/** How bad a finding is: `error` breaks requests, `warning` is a risk or a loss, `ok` a check that passed. */
export const Severity = { Error: 'error', Warning: 'warning', Ok: 'ok' } as const;
/** One severity. */
export type Severity = (typeof Severity)[keyof typeof Severity];

/** The configuration lines that fix a finding, per place they go. */
export interface Fix {
  readonly nginx?: string;
  readonly apache?: string;
  readonly lighttpd?: string;
  readonly systemd?: string;
  /** A tsgi command line or option. */
  readonly tsgi?: string;
  /** A shell command run once. */
  readonly shell?: string;
}

/** One finding. `id` is stable (tests and scripts match on it); the texts are for people. */
export interface Finding {
  readonly id: string;
  readonly severity: Severity;
  readonly title: string;
  /** Why it matters / what the web server does with it. */
  readonly detail?: string;
  readonly fix?: Fix;
}

/** The web server a request came from, guessed from SERVER_SOFTWARE; undefined shows every server's fix. */
export type WebServer = 'nginx' | 'apache' | 'lighttpd';

/** nginx/1.22.1, Apache/2.4.62 (Debian), lighttpd/1.4.69 → the server, else undefined. */
export function webServerOf(serverSoftware: string | undefined): WebServer | undefined {
  const name = serverSoftware?.toLowerCase() ?? '';
  if (name.startsWith('nginx')) return 'nginx';
  if (name.startsWith('apache')) return 'apache';
  if (name.startsWith('lighttpd')) return 'lighttpd';
  return undefined;
}

const MARK: Record<Severity, string> = { error: 'ERROR', warning: 'WARN ', ok: 'ok   ' };
const FIX_ORDER = ['tsgi', 'shell', 'systemd', 'nginx', 'apache', 'lighttpd'] as const;

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}

/**
 * Findings as text, worst first. With `server` known, only that server's snippet is shown (plus tsgi,
 * shell and systemd fixes, which apply everywhere).
 */
export function formatFindings(findings: readonly Finding[], server?: WebServer): string {
  const rank: Record<Severity, number> = { error: 0, warning: 1, ok: 2 };
  const sorted = [...findings].sort((a, b) => rank[a.severity] - rank[b.severity]);
  const out: string[] = [];
  for (const finding of sorted) {
    out.push(`${MARK[finding.severity]} ${finding.id}: ${finding.title}`);
    if (finding.detail !== undefined) out.push(indent(finding.detail, '        '));
    for (const place of FIX_ORDER) {
      const snippet = finding.fix?.[place];
      if (snippet === undefined) continue;
      const isServer = place === 'nginx' || place === 'apache' || place === 'lighttpd';
      if (isServer && server !== undefined && place !== server) continue;
      out.push(`        fix (${place}):`);
      out.push(indent(snippet, '            '));
    }
  }
  const errors = findings.filter((f) => f.severity === Severity.Error).length;
  const warnings = findings.filter((f) => f.severity === Severity.Warning).length;
  out.push('', `${errors} error(s), ${warnings} warning(s)`);
  return out.join('\n') + '\n';
}
