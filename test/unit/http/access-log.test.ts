// formatAccessLine: the Common Log Format line, its timestamp, and escaping of what the client controls.
import { describe, expect, it } from 'vitest';
import type { NodeResponseReport } from '../../../src/http/to-node.js';
import { formatAccessLine } from '../../../src/http/access-log.js';

function report(url: string, fields: Partial<NodeResponseReport> = {}): NodeResponseReport {
  return {
    // Only the fields the formatter reads; a real IncomingMessage has many more.
    request: { method: 'GET', url, httpVersion: '1.1' } as NodeResponseReport['request'],
    remoteAddress: '::ffff:10.0.0.7',
    outcome: { ok: true, status: 200, bytes: 42, headersSent: true },
    bytesSent: 42,
    durationMs: 1.25,
    ...fields,
  };
}

const NOW = new Date(Date.UTC(2026, 0, 5, 3, 4, 5));

describe('formatAccessLine', () => {
  it('writes remote, UTC time, request line, status, bytes and duration', () => {
    expect(formatAccessLine(report('/a?b=1'), NOW)).toBe(
      '10.0.0.7 - - [05/Jan/2026:03:04:05 +0000] "GET /a?b=1 HTTP/1.1" 200 42 1.3ms',
    );
  });

  it('escapes quotes, backslashes and bytes outside printable ASCII so no log line can be forged', () => {
    const line = formatAccessLine(report('/x"\\\u00ff\n127.0.0.1 - - [fake]'), NOW);
    expect(line).toContain('"GET /x\\"\\\\\\xff\\x0a127.0.0.1 - - [fake] HTTP/1.1"');
    expect(line.split('\n')).toHaveLength(1);
  });

  it('writes - for the status of a response whose head never went out, and flags it incomplete', () => {
    const outcome = { ok: false, bytes: 0, headersSent: false };
    const line = formatAccessLine(report('/', { outcome, bytesSent: 0 }), NOW);
    expect(line).toMatch(/" - 0 1\.3ms incomplete$/);
  });

  it('writes - for an unknown remote address', () => {
    expect(formatAccessLine(report('/', { remoteAddress: undefined }), NOW)).toMatch(/^- - - \[/);
  });
});
