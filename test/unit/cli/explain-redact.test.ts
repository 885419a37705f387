// tsgi explain shows the request, never the process environment, and no credential values (issue 11).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { explainRequest, formatExplanation } from '../../../src/deploy/explain.js';
import { isRequestVariable, redactExplanation } from '../../../src/deploy/redact.js';
import { isSecretName } from '../../../src/shared/secrets.js';

// A CGI program's environment: the request, and what the web server and system put there besides.
const CGI_ENV = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/explain',
  PATH_INFO: '/p',
  QUERY_STRING: 'q=1',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
  AUTH_TYPE: 'Basic',
  HTTP_AUTHORIZATION: 'Basic dXNlcjpodW50ZXIy',
  HTTP_PROXY_AUTHORIZATION: 'Basic cHJveHk6cGFzcw==',
  HTTP_COOKIE: 'session=abcdef',
  HTTP_X_API_KEY: 'k-123',
  HTTP_USER_AGENT: 'curl/8',
  PATH: '/usr/bin:/bin',
  HOME: '/var/www',
  DB_PASSWORD: 'hunter2',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG',
};

describe('which variables are secrets', () => {
  it('names credential headers and names that say secret, as whole words', () => {
    for (const name of [
      'HTTP_AUTHORIZATION',
      'HTTP_PROXY_AUTHORIZATION',
      'HTTP_COOKIE',
      'DB_PASSWORD',
      'AWS_SECRET_ACCESS_KEY',
      'GITHUB_TOKEN',
      'HTTP_X_API_KEY',
      'HTTP_X_AUTH_TOKEN',
      'PRIVATE_KEY',
    ]) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ['AUTH_TYPE', 'KEYBOARD', 'HTTP_USER_AGENT', 'PATH_INFO', 'MONKEY', 'HTTP_ACCEPT']) {
      expect(isSecretName(name), name).toBe(false);
    }
  });

  it('takes CGI meta-variables and HTTP_* as the request, and the rest as the environment', () => {
    expect(isRequestVariable('SCRIPT_NAME')).toBe(true);
    expect(isRequestVariable('HTTP_X_ANYTHING')).toBe(true);
    expect(isRequestVariable('PATH')).toBe(false);
    expect(isRequestVariable('DB_PASSWORD')).toBe(false);
  });
});

describe('redactExplanation', () => {
  const text = formatExplanation(redactExplanation(explainRequest({ vars: CGI_ENV, transport: 'cgi' })));

  it('never shows the process environment, only how many variables were left out', () => {
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('wJalrXUtnFEMI');
    expect(text).not.toContain('DB_PASSWORD');
    expect(text).not.toContain('/var/www');
    expect(text).toContain('(4 more not shown: not part of the request');
  });

  it('shows credentials as <redacted, N bytes>, and the rest of the request as it came', () => {
    expect(text).toContain('HTTP_AUTHORIZATION="<redacted, 22 bytes>"');
    expect(text).toContain('HTTP_PROXY_AUTHORIZATION="<redacted, 22 bytes>"');
    expect(text).toContain('HTTP_COOKIE="<redacted, 14 bytes>"');
    expect(text).toContain('HTTP_X_API_KEY="<redacted, 5 bytes>"');
    expect(text).not.toContain('dXNlcjpodW50ZXIy');
    expect(text).not.toContain('abcdef');
    expect(text).toContain('AUTH_TYPE="Basic"');
    expect(text).toContain('HTTP_USER_AGENT="curl/8"');
    expect(text).toContain('SCRIPT_NAME="/cgi-bin/explain"');
  });
});

describe('tsgi explain --reveal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-explain-reveal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => !!out.push(String(chunk)));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => !!err.push(String(chunk)));
    try {
      return { code: await main(args), out: out.join(''), err: err.join('') };
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  }

  it('shows every variable of a saved file on a terminal, and redacts without it', async () => {
    const file = join(dir, 'vars.json');
    writeFileSync(file, JSON.stringify(CGI_ENV));
    const revealed = await run(['explain', '--from', file, '--reveal']);
    expect(revealed.code).toBe(0);
    expect(revealed.out).toContain('DB_PASSWORD="hunter2"');
    expect(revealed.out).toContain('HTTP_COOKIE="session=abcdef"');
    const redacted = await run(['explain', '--from', file]);
    expect(redacted.out).not.toContain('hunter2');
    expect(redacted.out).toContain('HTTP_COOKIE="<redacted, 14 bytes>"');
  });

  it('is refused when serving a web server, in one line, before listening', async () => {
    const result = await run(['explain', '--listen', '127.0.0.1:0', '--reveal']);
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/--reveal is refused when serving a web server/);
  });
});
