// Run-mode detection: which facts pick CGI, FastCGI (fd 0, systemd, --listen) or neither, and the reasons given.
import { describe, expect, it } from 'vitest';
import {
  RunMode,
  decideRunMode,
  formatRunMode,
  modeOverride,
  type RunModeFacts,
} from '../../../src/deploy/run-mode.js';
import { StdinKind, socketStateFromProc, type StdinProbe } from '../../../src/shared/stdin-probe.js';

const PIPE: StdinProbe = { kind: StdinKind.Pipe, detail: 'fd 0 is a pipe' };
const LISTENING: StdinProbe = { kind: StdinKind.ListeningSocket, detail: 'fd 0 is a listening unix socket' };
const CONNECTED: StdinProbe = { kind: StdinKind.ConnectedSocket, detail: 'fd 0 is a connected unix socket' };
const UNKNOWN_SOCKET: StdinProbe = { kind: StdinKind.Socket, detail: 'fd 0 is a socket (state unknown)' };
const DEVICE: StdinProbe = { kind: StdinKind.Device, detail: 'fd 0 is a character device' };
const CGI_ENV = { GATEWAY_INTERFACE: 'CGI/1.1', REQUEST_METHOD: 'GET' };

function facts(overrides: Partial<RunModeFacts>): RunModeFacts {
  return { env: {}, pid: 4242, stdin: DEVICE, fallback: 'usage', ...overrides };
}

describe('decideRunMode', () => {
  it('picks CGI when the request variables are in the environment, naming them', () => {
    const decision = decideRunMode(facts({ env: CGI_ENV, stdin: PIPE }));
    expect(decision.mode).toBe(RunMode.Cgi);
    expect(decision.reasons.join('\n')).toContain('GATEWAY_INTERFACE=CGI/1.1 and REQUEST_METHOD=GET');
  });

  it('picks CGI when mod_cgid hands the request body over a connected socket', () => {
    expect(decideRunMode(facts({ env: CGI_ENV, stdin: CONNECTED })).mode).toBe(RunMode.Cgi);
  });

  it('picks FastCGI on fd 0 when fd 0 is a listening socket, even with stray CGI variables', () => {
    const decision = decideRunMode(facts({ env: CGI_ENV, stdin: LISTENING }));
    expect(decision.mode).toBe(RunMode.FastCgiInherited);
    expect(decision.reasons[0]).toContain('FCGI_LISTENSOCK_FILENO');
  });

  it('picks systemd sockets only when LISTEN_PID is this process', () => {
    const mine = decideRunMode(facts({ env: { LISTEN_FDS: '1', LISTEN_PID: '4242' } }));
    expect(mine.mode).toBe(RunMode.FastCgiSystemd);
    expect(mine.reasons[0]).toContain('LISTEN_FDS=1');
    const inherited = decideRunMode(facts({ env: { LISTEN_FDS: '1', LISTEN_PID: '1' } }));
    expect(inherited.mode).toBe(RunMode.Usage);
  });

  it('binds its own socket with --listen, which wins over everything but --cgi', () => {
    const decision = decideRunMode(facts({ env: CGI_ENV, stdin: LISTENING, listen: '127.0.0.1:9000' }));
    expect(decision).toMatchObject({ mode: RunMode.FastCgiListen, listen: '127.0.0.1:9000' });
    const cgi = decideRunMode(
      facts({ listen: '127.0.0.1:9000', override: { mode: 'cgi', source: '--cgi' }, stdin: LISTENING }),
    );
    expect(cgi.mode).toBe(RunMode.Cgi);
    expect(cgi.reasons[0]).toBe('--cgi asks for CGI');
  });

  it('treats a socket of unknown state as FastCGI only when there are no CGI variables', () => {
    expect(decideRunMode(facts({ stdin: UNKNOWN_SOCKET })).mode).toBe(RunMode.FastCgiInherited);
    expect(decideRunMode(facts({ env: CGI_ENV, stdin: UNKNOWN_SOCKET })).mode).toBe(RunMode.Cgi);
  });

  it('reports a problem when FastCGI is forced but there is no socket to serve on', () => {
    const decision = decideRunMode(
      facts({ stdin: PIPE, override: { mode: 'fastcgi', source: '--fastcgi' } }),
    );
    expect(decision.mode).toBe(RunMode.Usage);
    expect(decision.problem).toMatch(/FastCGI needs a socket/);
  });

  it('falls back to usage for a built file and to the development server for tsgi run', () => {
    const usage = decideRunMode(facts({}));
    expect(usage.mode).toBe(RunMode.Usage);
    expect(usage.reasons[0]).toMatch(/no CGI request variables.*no --listen/);
    expect(decideRunMode(facts({ fallback: 'development' })).mode).toBe(RunMode.Development);
  });

  it('prints the mode and one "because" line per reason', () => {
    const text = formatRunMode(decideRunMode(facts({ env: CGI_ENV, stdin: PIPE })));
    expect(text.split('\n')).toEqual([
      'mode: cgi',
      expect.stringMatching(/^ {2}because GATEWAY_INTERFACE/),
      '  because fd 0 is a pipe (the request body, if any)',
    ]);
  });
});

describe('modeOverride', () => {
  it('lets a flag win over TSGI_MODE, and TSGI_MODE over the mode a file was built for', () => {
    expect(modeOverride({ fastcgi: true }, { TSGI_MODE: 'cgi' })).toEqual({
      mode: 'fastcgi',
      source: '--fastcgi',
    });
    expect(modeOverride({}, { TSGI_MODE: 'cgi' }, 'fastcgi')).toEqual({
      mode: 'cgi',
      source: 'TSGI_MODE=cgi',
    });
    expect(modeOverride({}, {}, 'cgi')).toEqual({ mode: 'cgi', source: 'tsgi build --cgi' });
    expect(modeOverride({}, { TSGI_MODE: 'auto' })).toBeUndefined();
  });

  it('refuses contradictory flags and an unknown TSGI_MODE', () => {
    expect(() => modeOverride({ cgi: true, fastcgi: true }, {})).toThrow(/exclude each other/);
    expect(() => modeOverride({}, { TSGI_MODE: 'scgi' })).toThrow(/TSGI_MODE=scgi is not one of/);
  });
});

describe('socketStateFromProc', () => {
  // Lines as Linux prints them (net/unix/af_unix.c unix_seq_show, net/ipv4/tcp_ipv4.c get_tcp4_sock).
  const unix = [
    'Num       RefCount Protocol Flags    Type St Inode Path',
    '0000000000000000: 00000002 00000000 00010000 0001 01 31337 /run/tsgi.sock',
    '0000000000000000: 00000003 00000000 00000000 0001 03 31338 /run/tsgi.sock',
  ].join('\n');
  const tcp = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0 100 0 0 10 0',
    '   1: 0100007F:2328 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4712 1 0 20 4 30 10 -1',
  ].join('\n');

  it('tells a listening unix socket (SO_ACCEPTCON) from a connected one', () => {
    expect(socketStateFromProc(31337, { unix })).toEqual({ listening: true, family: 'unix' });
    expect(socketStateFromProc(31338, { unix })).toEqual({ listening: false, family: 'unix' });
  });

  it('tells a TCP socket in LISTEN state from an established one', () => {
    expect(socketStateFromProc(4711, { unix, tcp })).toEqual({ listening: true, family: 'tcp' });
    expect(socketStateFromProc(4712, { unix, tcp })).toEqual({ listening: false, family: 'tcp' });
  });

  it('returns undefined for an inode in no table', () => {
    expect(socketStateFromProc(99, { unix, tcp, tcp6: undefined })).toBeUndefined();
  });
});

describe('tsgi run', () => {
  const bin = new URL('../../../bin/tsgi.js', import.meta.url).pathname;
  const hello = new URL('../../fixtures/apps/hello.ts', import.meta.url).pathname;

  it('answers a CGI request when started with the request in its environment', async () => {
    const { spawnSync } = await import('node:child_process');
    const run = spawnSync(process.execPath, [bin, 'run', hello], {
      env: {
        PATH: process.env.PATH,
        ...CGI_ENV,
        SCRIPT_NAME: '',
        SERVER_NAME: 'x',
        SERVER_PORT: '80',
        SERVER_PROTOCOL: 'HTTP/1.1',
      },
      input: '',
      encoding: 'latin1',
    });
    expect(run.stdout).toMatch(/^Status: 200 OK\r\n[\s\S]*\r\n\r\nHello, world!\n$/);
    expect(run.status).toBe(0);
  });

  it('explains its choice: FastCGI for --listen, development with nothing else to go on', async () => {
    const { spawnSync } = await import('node:child_process');
    const explain = (...args: string[]) =>
      spawnSync(process.execPath, [bin, 'run', hello, '--explain-mode', ...args], {
        env: { PATH: process.env.PATH },
        stdio: ['pipe', 'pipe', 'pipe'],
        encoding: 'utf8',
      }).stdout;
    expect(explain('--listen', '127.0.0.1:9000')).toMatch(
      /^mode: fastcgi-listen\n {2}because --listen 127.0.0.1:9000/,
    );
    // Node gives a child "pipe" stdio as a socketpair: a connected unix socket, which is not a listener.
    expect(explain()).toMatch(
      /^mode: development\n {2}because no CGI request variables .* fd 0 is a connected unix socket/,
    );
  });
});
