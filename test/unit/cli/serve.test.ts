// `tsgi serve` and the CLI's front door as a user meets them: spawned bin/tsgi.js, its output and exit codes.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/tsgi.js');
const HELLO = join(ROOT, 'examples/hello.ts');
// One line, ending in a hint: what every user error of the CLI looks like.
const ONE_LINE_WITH_HINT = /^tsgi( \w+)?: [^\n]+ \(hint: [^\n]+\)\n$/;

let dir: string;
beforeAll(() => {
  // bin/tsgi.js runs dist/; npm test builds first, a single-file run builds here.
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
    spawnSync(process.execPath, ['scripts/build.mjs', '--js-only'], { cwd: ROOT, stdio: 'inherit' });
  }
  dir = mkdtempSync(join(tmpdir(), 'tsgi-serve-cli-'));
  writeFileSync(join(dir, 'named-only.mjs'), 'export function app() { return []; }\n');
  writeFileSync(join(dir, 'throws-on-load.mjs'), "throw new Error('config file missing');\n");
  writeFileSync(
    join(dir, 'bare-status.mjs'),
    "export default (environ, startResponse) => { startResponse('200', [['Content-Type', 'text/plain']]); return [new TextEncoder().encode('ok')]; };\n",
  );
  writeFileSync(
    join(dir, 'endless.mjs'),
    `export default (environ, startResponse) => {
       startResponse('200 OK', [['Content-Type', 'text/plain']]);
       return (async function* () { for (;;) { yield new TextEncoder().encode('.'); await new Promise((r) => setTimeout(r, 50)); } })();
     };\n`,
  );
  writeFileSync(
    join(dir, 'slow.mjs'),
    `export default async (environ, startResponse) => {
       startResponse('200 OK', [['Content-Type', 'text/plain']]);
       await new Promise((resolve) => setTimeout(resolve, 500));
       return [new TextEncoder().encode('finished after the signal')];
     };\n`,
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tsgi(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env, TSGI_DEBUG: env.TSGI_DEBUG ?? '' },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('tsgi (no command, help, version)', () => {
  it('lists every command with --help and exits 0', () => {
    const { code, stdout } = tsgi(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: tsgi <command>/);
    for (const name of ['cgi', 'serve']) expect(stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
  });

  it('prints the usage to stderr and exits 2 without a command', () => {
    const { code, stdout, stderr } = tsgi([]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^usage: tsgi <command>/);
  });

  it('answers an unknown command with one line, a did-you-mean hint and exit 2', () => {
    const { code, stderr } = tsgi(['serv']);
    expect(code).toBe(2);
    expect(stderr).toMatch(ONE_LINE_WITH_HINT);
    expect(stderr).toContain("did you mean 'tsgi serve'?");
  });

  it('prints the package version with --version', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(tsgi(['--version'])).toMatchObject({ code: 0, stdout: `tsgi ${version}\n` });
  });

  it("treats 'tsgi help serve' as 'tsgi serve --help'", () => {
    expect(tsgi(['help', 'serve']).stdout).toBe(tsgi(['serve', '--help']).stdout);
  });
});

describe('tsgi serve: user errors', () => {
  it('shows its options and an example with --help', () => {
    const { code, stdout } = tsgi(['serve', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: tsgi serve \[APP/);
    expect(stdout).toContain('-p, --port PORT');
    expect(stdout).toContain('--no-validate');
    expect(stdout).toMatch(/examples:\n {2}tsgi serve examples\/hello\.ts\n/);
  });

  it.each([
    ['missing APP', ['serve'], /missing APP/],
    ['an unknown flag', ['serve', HELLO, '--bogus'], /unknown option '--bogus'/],
    ['a flag without its value', ['serve', HELLO, '--port'], /--port <value>' argument missing/],
    ['a port that is not a number', ['serve', HELLO, '--port', 'http'], /bad port 'http'/],
    ['a port above 65535', ['serve', HELLO, '--port', '65536'], /bad port '65536'/],
    ['a second APP', ['serve', HELLO, 'other.ts'], /unexpected argument 'other.ts'/],
    ['an APP that does not exist', ['serve', 'no/such/app.ts'], /cannot find APP 'no\/such\/app.ts'/],
  ])('refuses %s with one line, a hint and exit 2', (_what, args, message) => {
    const { code, stdout, stderr } = tsgi(args);
    expect(stderr).toMatch(ONE_LINE_WITH_HINT);
    expect(stderr).toMatch(message);
    expect(stdout).toBe('');
    expect(code).toBe(2);
  });

  it('refuses an APP without a default export, naming the export it has', () => {
    const { code, stderr } = tsgi(['serve', join(dir, 'named-only.mjs')]);
    expect(code).toBe(2);
    expect(stderr).toMatch(ONE_LINE_WITH_HINT);
    expect(stderr).toContain('pick one with');
    expect(stderr).toContain('#app');
  });

  it('reports an APP that throws while loading in one line, with the stack only under TSGI_DEBUG', () => {
    const quiet = tsgi(['serve', join(dir, 'throws-on-load.mjs')]);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toBe(
      'tsgi serve: Error: config file missing (hint: set TSGI_DEBUG=1 for the stack trace)\n',
    );
    const debug = tsgi(['serve', join(dir, 'throws-on-load.mjs')], { TSGI_DEBUG: '1' });
    expect(debug.stderr).toContain('throws-on-load.mjs:1');
    expect(debug.stderr.trimEnd().split('\n').at(-1)).toBe('tsgi serve: Error: config file missing');
  });

  it('says a port is taken in one line with a hint, exit 1', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as { port: number }).port;
      const result = await runAsync(['serve', HELLO, '--port', String(port)]);
      expect(result.stderr).toMatch(ONE_LINE_WITH_HINT);
      expect(result.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(result.code).toBe(1);
    } finally {
      blocker.close();
    }
  });
});

/** Polls `read()` until it matches `pattern` (a child's output arrives when it arrives), for up to 5 s. */
async function waitFor(read: () => string, pattern: RegExp): Promise<void> {
  for (let waited = 0; waited < 5000 && !pattern.test(read()); waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** spawnSync would block the event loop that the blocking server above needs; this one does not. */
function runAsync(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('tsgi serve: serving', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  /** Starts `tsgi serve` on a free port and resolves with its one stdout line and the URL in it. */
  async function start(args: string[]) {
    child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0'], { cwd: ROOT });
    const proc = child;
    let stdout = '';
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
    const line = await new Promise<string>((resolve, reject) => {
      proc.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(stdout);
      });
      proc.on('close', () => reject(new Error(`tsgi serve exited early: ${stderr}`)));
    });
    const url = /on (http:\/\/\S+\/) /.exec(line)?.[1] as string;
    return { line, url, exited, stderr: () => stderr, stdout: () => stdout };
  }

  it('prints where it listens in one line, serves the app, logs each request, and stops on SIGTERM', async () => {
    const server = await start([HELLO]);
    expect(server.line).toMatch(
      /^tsgi serve: \S+hello\.ts on http:\/\/127\.0\.0\.1:\d+\/ \(validator on; Ctrl-C to stop\)\n$/,
    );
    const response = await fetch(`${server.url}greet`);
    expect(await response.text()).toBe('Hello from tsgi! You asked for /greet\n');
    // The log line is written once the response has ended, which may be just after the client got it.
    await waitFor(server.stderr, /"GET \/greet/);
    expect(server.stderr()).toMatch(
      /^127\.0\.0\.1 - - \[[^\]]+\] "GET \/greet HTTP\/1\.1" 200 38 [\d.]+ms$/m,
    );
    child?.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.stdout().split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('finishes a request in flight on SIGINT before it exits', async () => {
    const server = await start([join(dir, 'slow.mjs')]);
    const pending = fetch(server.url).then((r) => r.text());
    await new Promise((resolve) => setTimeout(resolve, 150));
    child?.kill('SIGINT');
    expect(await pending).toBe('finished after the signal');
    expect(await server.exited).toBe(0);
    expect(server.stderr()).toContain('tsgi serve: SIGINT, finishing requests in flight');
  });

  it('exits at once on a second signal while a request is still in flight', async () => {
    const server = await start([join(dir, 'endless.mjs')]);
    const pending = fetch(server.url)
      .then((r) => r.text())
      .catch(() => 'cut off');
    await new Promise((resolve) => setTimeout(resolve, 200));
    child?.kill('SIGINT');
    await waitFor(server.stderr, /SIGINT, finishing/);
    child?.kill('SIGINT');
    expect(await server.exited).toBe(130);
    expect(await pending).toBe('cut off');
  });

  it('runs the validator by default and not with --no-validate', async () => {
    const checked = await start([join(dir, 'bare-status.mjs')]);
    await (await fetch(checked.url)).text();
    await waitFor(checked.stderr, /"GET \/ HTTP/);
    expect(checked.stderr()).toContain('status.reason');
    child?.kill('SIGKILL');

    const unchecked = await start([join(dir, 'bare-status.mjs'), '--no-validate']);
    expect(unchecked.line).toContain('validator off');
    await (await fetch(unchecked.url)).text();
    await waitFor(unchecked.stderr, /"GET \/ HTTP/);
    expect(unchecked.stderr()).toMatch(/"GET \/ HTTP\/1\.1" 200/);
    expect(unchecked.stderr()).not.toContain('status.reason');
  });
});
