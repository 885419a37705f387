// `tsgi conform`: its flags, its one-line refusals, and the scorecard and exit code it gives for tsgi itself.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CliError } from '../../../src/cli/cli-error.js';
import { parseConformArgs } from '../../../src/cli/conform.js';
import { main } from '../../../src/cli/main.js';
import type { Application } from '../../../src/shared/types.js';
import { freePort } from '../../helpers/servers.js';
import { listenerPerTest } from '../../helpers/fcgi-records.js';

const hello: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('hello')];
};
const listen = listenerPerTest(hello);

/** Runs the CLI in process and returns its exit code and what it printed. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi
    .spyOn(process.stdout, 'write')
    .mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('tsgi conform arguments', () => {
  it('reads ADDRESS, repeated --param and --only, --timeout, --json', () => {
    expect(
      parseConformArgs([
        '127.0.0.1:9000',
        '--param',
        'SCRIPT_FILENAME=/srv/a=b.php',
        '--param',
        'HTTPS=on',
        '--only',
        'codec',
        '--timeout',
        '500',
        '--json',
      ]),
    ).toEqual({
      help: false,
      address: '127.0.0.1:9000',
      params: { SCRIPT_FILENAME: '/srv/a=b.php', HTTPS: 'on' },
      only: ['codec'],
      timeoutMs: 500,
      verbose: false,
      json: true,
    });
  });

  it.each([
    [['a:1', '--param', 'NOEQUALS'], /^bad --param 'NOEQUALS'$/],
    [['a:1', '--timeout', '0'], /^bad --timeout '0'$/],
    [['a:1', 'b:2'], /^unexpected argument 'b:2'$/],
  ])('refuses %j in one line', (args, message) => {
    expect(() => parseConformArgs(args)).toThrow(CliError);
    expect(() => parseConformArgs(args)).toThrow(message);
  });

  it('exits 2 without ADDRESS, or with an --only that selects no case', async () => {
    expect((await run(['conform'])).stderr).toMatch(/missing ADDRESS/);
    const none = await run(['conform', '127.0.0.1:9', '--only', 'nosuch']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no case id starts with nosuch/);
  });
});

describe('tsgi conform ADDRESS', () => {
  it('prints N/N cases pass and exits 0 for a tsgi listener', async () => {
    const { port } = await listen();
    const { code, stdout } = await run(['conform', `127.0.0.1:${port}`]);
    expect(stdout).toMatch(/^(\d+)\/\1 cases pass \(127\.0\.0\.1:\d+\)\n$/);
    expect(code).toBe(0);
  });

  it('prints one FAIL line per case with its FastCGI section and exits 1 when nothing listens', async () => {
    const port = await freePort();
    const { code, stdout } = await run(['conform', `127.0.0.1:${port}`, '--only', 'management.get-values']);
    expect(code).toBe(1);
    expect(stdout.split('\n')).toEqual([
      `0/3 cases pass (127.0.0.1:${port})`,
      expect.stringMatching(
        /^FAIL management\.get-values \(FastCGI 1\.0 §4\.1\): cannot connect: ECONNREFUSED/,
      ),
      expect.stringMatching(/^FAIL management\.get-values-unknown-name \(FastCGI 1\.0 §4\.1\): /),
      expect.stringMatching(/^FAIL management\.get-values-mid-request \(FastCGI 1\.0 §4\.1\): /),
      '',
    ]);
  });

  it('--json prints the scorecard as data', async () => {
    const { port } = await listen();
    const { stdout } = await run(['conform', `127.0.0.1:${port}`, '--only', 'roles', '--json']);
    const card = JSON.parse(stdout) as {
      passed: number;
      total: number;
      results: { id: string; ok: boolean }[];
    };
    expect(card.passed).toBe(card.total);
    expect(card.results.map((r) => r.id)).toEqual([
      'roles.responder',
      'roles.authorizer',
      'roles.filter',
      'roles.unknown-role',
    ]);
  });
});
