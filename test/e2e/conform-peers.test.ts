// `tsgi conform` as a user runs it, against three real responders: tsgi's own listener process (every case
// passes), PHP-FPM from Debian and node-fastcgi from npm (the command runs and prints their scorecards; the
// cases they fail are pinned here and in the README's "tsgi conform" section).
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { startListener, TSGI_BIN } from '../helpers/fastcgi-process.js';
import { hasPhpFpm, startNodeFastcgi, startPhpFpm } from '../helpers/fastcgi-peers.js';

/** Runs `tsgi conform ARGS…` and resolves with its exit code and output. */
function conform(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSGI_BIN, 'conform', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The ids of the FAIL lines, after checking that the first line is the scorecard. */
function failedCases(stdout: string): string[] {
  const [first, ...rest] = stdout.trimEnd().split('\n');
  expect(first).toMatch(/^\d+\/\d+ cases pass \(127\.0\.0\.1:\d+\)$/);
  for (const line of rest) expect(line).toMatch(/^FAIL [a-z0-9.-]+ \(FastCGI 1\.0 §[\d.]+\): \S/);
  return rest.map((line) => line.split(' ')[1]!).sort();
}

const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe('tsgi conform against real responders', () => {
  it('tsgi fastcgi passes every case, exit 0', async () => {
    const listener = await startListener(['--listen', '127.0.0.1:0']);
    stops.push(() => listener.stop());
    const { code, stdout } = await conform([listener.address]);
    expect(stdout).toMatch(/^(\d+)\/\1 cases pass \(127\.0\.0\.1:\d+\)\n$/);
    expect(code).toBe(0);
    // The hostile cases cost tsgi one log line each, and it is still running.
    expect(listener.log()).toMatch(/record version 2, expected 1/);
    expect(listener.child.exitCode).toBeNull();
  }, 60_000);

  it.skipIf(!hasPhpFpm())(
    'PHP-FPM: a scorecard with the cases it fails, exit 1',
    async () => {
      const fpm = await startPhpFpm({ 'hello.php': '<?php echo "hello from php";\n' });
      stops.push(() => fpm.stop());
      const { code, stdout } = await conform([
        fpm.address,
        '--param',
        `SCRIPT_FILENAME=${fpm.script('hello.php')}`,
      ]);
      expect(code).toBe(1);
      expect(stdout).toMatch(/^21\/30 cases pass/);
      expect(failedCases(stdout)).toEqual(
        [
          'codec.stdout-stream-end', // ends STDOUT with END_REQUEST, no empty STDOUT record
          'codec.params-split-in-pairs', // decodes PARAMS record by record: a pair cut by a record drops the request
          'codec.params-over-64k',
          'roles.unknown-role', // closes the connection instead of FCGI_UNKNOWN_ROLE
          'connection.abort-request', // closes the connection on FCGI_ABORT_REQUEST
          'multiplexing.concurrent', // closes instead of FCGI_CANT_MPX_CONN
          'multiplexing.inactive-ids-ignored', // closes on a record for an inactive id
          'management.get-values-mid-request', // closes on a management record inside a request
          'management.unknown-type', // closes instead of FCGI_UNKNOWN_TYPE
        ].sort(),
      );
    },
    120_000,
  );

  it('node-fastcgi: a scorecard with the cases it fails, exit 1', async () => {
    const peer = await startNodeFastcgi();
    stops.push(() => peer.stop());
    const { code, stdout } = await conform([peer.address]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^26\/30 cases pass/);
    expect(failedCases(stdout)).toEqual(
      [
        'connection.keep-conn', // closes the connection after each response, FCGI_KEEP_CONN or not
        'connection.abort-request', // (the same close, after the aborted request's END_REQUEST)
        'management.unknown-type', // fastcgi-stream throws on type 99 and the process exits
        'hostile.unknown-type-on-request', // so the next connection is refused
      ].sort(),
    );
    expect(peer.log()).toMatch(/fcgiRecords\[type\] is not a constructor/);
  }, 120_000);
});
