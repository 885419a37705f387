// What the listener takes for an inherited listening socket: fd 0 only when it listens, systemd fds only when
// they are sockets; anything else is one line naming the descriptor, never a stack trace.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { E2E_APP, TSGI_BIN } from '../../helpers/fastcgi-process.js';

// The child processes load dist/ (build first: `node scripts/build.mjs --js-only`; `npm test` does).
const FASTCGI_DIST = fileURLToPath(new URL('../../../dist/fastcgi/index.js', import.meta.url));

/** `defaultAddresses({})` as a child process with `stdin` as its fd 0 sees it. */
function defaultAddressesWith(stdin: 'pipe' | 'ignore' | number): unknown {
  const script = `import(${JSON.stringify(FASTCGI_DIST)}).then((m) => process.stdout.write(JSON.stringify(m.defaultAddresses({}))))`;
  const result = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    stdio: [stdin, 'pipe', 'pipe'],
  });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as unknown;
}

/** `tsgi COMMAND APP` started as systemd would (LISTEN_PID=$$, LISTEN_FDS=1) with /dev/null as fd 3. */
function withDevNullAsSystemdSocket(command: 'fastcgi' | 'run'): { status: number | null; stderr: string } {
  const devNull = openSync('/dev/null', 'r');
  try {
    const result = spawnSync(
      '/bin/sh',
      ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', process.execPath, TSGI_BIN, command, E2E_APP],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe', devNull], timeout: 15_000 },
    );
    return { status: result.status, stderr: result.stderr };
  } finally {
    closeSync(devNull);
  }
}

describe('defaultAddresses', () => {
  it("does not take a connected socketpair on fd 0 (node's 'pipe' stdio, mod_cgid) for a listener", () => {
    expect(defaultAddressesWith('pipe')).toEqual([]);
  });

  it('takes fd 0 when it is a listening socket (lighttpd bin-path, spawn-fcgi)', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
      expect(defaultAddressesWith(fd)).toEqual([{ kind: 'fd', fd: 0, origin: 'inherited' }]);
    } finally {
      server.close();
    }
  });

  it('finds nothing when fd 0 is not a socket', () => {
    expect(defaultAddressesWith('ignore')).toEqual([]);
  });
});

describe('a systemd descriptor that is not a socket', () => {
  it.each(['fastcgi', 'run'] as const)(
    'makes tsgi %s exit with one line that names fd 3, not fd 0, and no stack trace',
    (command) => {
      const { status, stderr } = withDevNullAsSystemdSocket(command);
      expect(status).not.toBe(0);
      expect(status).not.toBeNull();
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(new RegExp(`^tsgi ${command}: .*fd:? ?3`));
      expect(stderr).toMatch(/not a socket/);
      expect(stderr).not.toMatch(/fd 0|TSGI_DEBUG|\n\s+at /);
    },
  );
});
