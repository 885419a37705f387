// The one CGI start sequence (src/cgi/start.ts) as `tsgi cgi`, `tsgi run` and a built file run it, in real child
// processes: httpoxy before the app loads, a 500 when it cannot load, NODE_ENV, stderr flushed through a slow
// pipe, and a 500 when a framework waits for body bytes that never come (issues 9 and 11).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/deploy/build-app.js';
import { parseCgiOutput, TSGI_BIN, type CgiResult } from '../../helpers/spawn-cgi.js';
import { FLOOD_BYTES } from '../../fixtures/apps/stderr-flood.js';

const fixture = (name: string): string => new URL(`../../fixtures/apps/${name}`, import.meta.url).pathname;

const REQUEST = {
  GATEWAY_INTERFACE: 'CGI/1.1',
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/cgi-bin/app',
  PATH_INFO: '/x',
  QUERY_STRING: '',
  REQUEST_URI: '/cgi-bin/app/x',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

type Front = 'cgi' | 'run' | 'built';
const builtFiles: Record<string, string> = {};

function command(front: Front, app: string): string[] {
  if (front === 'built') return [builtFiles[app] ?? `(not built: ${app})`];
  return [TSGI_BIN, front, fixture(app)];
}

/** Runs one CGI request; `stderrDelayMs` leaves the stderr pipe unread that long (a web server reading late). */
function run(
  front: Front,
  app: string,
  options: { env?: Record<string, string>; body?: string; stderrDelayMs?: number } = {},
): Promise<CgiResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...REQUEST, ...options.env };
  const child = spawn(process.execPath, command(front, app), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.pause();
  setTimeout(
    () => child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk)).resume(),
    options.stderrDelayMs ?? 0,
  );
  child.stdin.on('error', () => undefined);
  child.stdin.end(options.body ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      const raw = Buffer.concat(stdout);
      resolve({
        ...parseCgiOutput(raw),
        raw,
        exitCode,
        signal,
        stderr: Buffer.concat(stderr).toString('latin1'),
      });
    });
  });
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-start-test-'));
  for (const app of [
    'httpoxy.ts',
    'throws-on-import.ts',
    'node-env.ts',
    'stderr-flood.ts',
    'express-body.ts',
  ]) {
    builtFiles[app] = (await buildApp({ app: fixture(app), outFile: join(dir, `${app}.cgi`) })).outFile;
  }
}, 120_000);

describe.each<Front>(['cgi', 'run', 'built'])('CGI start sequence: %s', (front) => {
  it('removes HTTP_PROXY before the app module runs; the environ keeps the header', async () => {
    const result = await run(front, 'httpoxy.ts', { env: { HTTP_PROXY: 'http://attacker.invalid:8080' } });
    expect(result.status, result.stderr).toBe(200);
    const lines = Buffer.from(result.body).toString().split('\n');
    expect(lines).toContain('module=<unset>');
    expect(lines).toContain('child=<unset>');
    expect(lines).toContain('environ=http://attacker.invalid:8080');
  });

  it('answers 500 with one log line when the app cannot be loaded', async () => {
    const result = await run(front, 'throws-on-import.ts');
    expect(result.status).toBe(500);
    expect(Buffer.from(result.body).toString()).toBe('Internal Server Error\n');
    expect(result.stderr).toMatch(/cannot load APP: .*/);
    expect(result.exitCode).toBe(1);
  });

  it('sets NODE_ENV=production before the app loads, unless it is set', async () => {
    const unset = await run(front, 'node-env.ts');
    expect(Buffer.from(unset.body).toString()).toBe('NODE_ENV=production\n');
    const set = await run(front, 'node-env.ts', { env: { NODE_ENV: 'staging' } });
    expect(Buffer.from(set.body).toString()).toBe('NODE_ENV=staging\n');
  });

  it('delivers all of 1 MiB written to stderr before the exit, through a pipe read late', async () => {
    const result = await run(front, 'stderr-flood.ts', { stderrDelayMs: 500 });
    expect(result.status).toBe(200);
    expect(Buffer.from(result.body).toString()).toBe('flooded\n');
    expect(result.stderr.length).toBe(FLOOD_BYTES);
    expect(result.stderr.endsWith('e\n')).toBe(true);
  });

  it('answers 500 and names the request when Express waits for body bytes that never come', async () => {
    const result = await run(front, 'express-body.ts', {
      env: { REQUEST_METHOD: 'POST', CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '100' },
      body: 'only 19 bytes here.',
    });
    expect(result.status, result.stderr).toBe(500);
    // Node 20's IncomingMessage does not emit 'aborted' when the bridge destroys it for the short body, so
    // Express waits until the event loop empties; Node 24's does, so Express's error ends the response first.
    // Either way the client gets a 500 and the log names the request.
    expect(result.stderr).toMatch(
      /POST \/cgi-bin\/app\/x: (the application never finished its response and nothing is left to wait for|Error: tsgi adapters\/node: the response was closed before it ended)/,
    );
    // An unfinished request is a failure of the process (1); an app error answered with a 500 is not (0).
    expect(result.exitCode).toBe(/never finished/.test(result.stderr) ? 1 : 0);
  });
});
