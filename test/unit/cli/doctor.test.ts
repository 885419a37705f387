// tsgi doctor's checks: socket access for the web server's user, request variables, FCGI_WEB_SERVER_ADDRS.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatFindings, webServerOf } from '../../../src/deploy/doctor/findings.js';
import { DOCTOR_PROBE, checkPeer, checkRequestVars } from '../../../src/deploy/doctor/request-checks.js';
import {
  checkSocketAccess,
  gatherPathFacts,
  lookupUser,
  type PathFacts,
  type UserIds,
} from '../../../src/deploy/doctor/socket-access.js';
import { isRoot } from '../../helpers/tools.js';

const WWW: UserIds = { name: 'www-data', uid: 33, gids: [33] };
const ROOT_DIR: PathFacts = { path: '/', uid: 0, gid: 0, mode: 0o755, kind: 'directory' };
const RUN_DIR: PathFacts = { path: '/run/tsgi', uid: 0, gid: 0, mode: 0o755, kind: 'directory' };
const socket = (uid: number, gid: number, mode: number): PathFacts => ({
  path: '/run/tsgi/app.sock',
  uid,
  gid,
  mode,
  kind: 'socket',
});
const ids = (findings: readonly { id: string }[]): string[] => findings.map((finding) => finding.id);

describe('checkSocketAccess', () => {
  it('finds that www-data cannot connect to a root-owned socket of mode 600, and gives the systemd and tsgi fixes', () => {
    const findings = checkSocketAccess([socket(0, 0, 0o600), RUN_DIR, ROOT_DIR], WWW);
    expect(ids(findings)).toEqual(['socket-permission']);
    expect(findings[0]?.title).toBe('www-data cannot connect to /run/tsgi/app.sock (0:0, mode 600)');
    expect(findings[0]?.fix?.systemd).toBe('SocketGroup=www-data\nSocketMode=0660');
    expect(findings[0]?.fix?.tsgi).toContain('--socket-group www-data');
  });

  it('lets the socket group in through the group write bit, and warns about a world-writable socket', () => {
    expect(ids(checkSocketAccess([socket(0, 33, 0o660), RUN_DIR, ROOT_DIR], WWW))).toEqual(['socket-ok']);
    expect(ids(checkSocketAccess([socket(0, 0, 0o666), RUN_DIR, ROOT_DIR], WWW))).toEqual([
      'socket-world-writable',
    ]);
  });

  it('finds a directory above the socket that the user cannot search', () => {
    const privateDir = { ...RUN_DIR, mode: 0o700 };
    const findings = checkSocketAccess([socket(0, 33, 0o660), privateDir, ROOT_DIR], WWW);
    expect(ids(findings)).toEqual(['socket-directory']);
    expect(findings[0]?.title).toContain('cannot enter /run/tsgi');
  });

  it('reports a missing socket as the listener not running', () => {
    const missing: PathFacts = { path: '/run/tsgi/app.sock', uid: -1, gid: -1, mode: 0, kind: 'missing' };
    expect(ids(checkSocketAccess([missing, RUN_DIR, ROOT_DIR], WWW))).toEqual(['socket-missing']);
  });
});

// Real socket files, real owners: only root can give a socket to another owner.
describe.skipIf(!isRoot('giving a socket to another owner needs') /* throws under CI=true */)(
  'checkSocketAccess on a real socket',
  () => {
    let dir: string;
    let server: Server;
    const path = (): string => join(dir, 'run', 'app.sock');
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tsgi-doctor-'));
      chmodSync(dir, 0o755);
      mkdirSync(join(dir, 'run'), { mode: 0o755 });
      server = createServer();
      await new Promise<void>((resolve) => server.listen(path(), resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    });

    it('sees what www-data sees: refused at mode 600, allowed once the group is www-data and the mode 660', () => {
      const www = lookupUser('www-data');
      expect(www).toBeDefined();
      chmodSync(path(), 0o600);
      expect(ids(checkSocketAccess(gatherPathFacts(path()), www!))).toEqual(['socket-permission']);
      chownSync(path(), 0, www!.gids[0]!);
      chmodSync(path(), 0o660);
      expect(ids(checkSocketAccess(gatherPathFacts(path()), www!))).toEqual(['socket-ok']);
    });
  },
);

const NGINX_GET = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/users/7',
  REQUEST_URI: '/app/users/7?x=1',
  QUERY_STRING: 'x=1',
  SERVER_SOFTWARE: 'nginx/1.22.1',
};

describe('checkRequestVars', () => {
  it('passes a request that carries a proper split', () => {
    expect(checkRequestVars({ vars: NGINX_GET, transport: 'fastcgi' })).toEqual([]);
  });

  it('finds a missing SCRIPT_NAME and a missing REQUEST_URI', () => {
    const { SCRIPT_NAME: _s, REQUEST_URI: _r, ...vars } = NGINX_GET;
    expect(ids(checkRequestVars({ vars, transport: 'fastcgi' }))).toEqual([
      'missing-script-name',
      'missing-request-uri',
    ]);
  });

  it('finds PATH_INFO emptied although the path continues after SCRIPT_NAME (nginx try_files)', () => {
    const findings = checkRequestVars({ vars: { ...NGINX_GET, PATH_INFO: '' }, transport: 'fastcgi' });
    expect(ids(findings)).toEqual(['empty-path-info']);
    expect(findings[0]?.fix?.nginx).toContain('set $path_info $fastcgi_path_info;');
  });

  it('with the probe, finds a path suffix that did not arrive in PATH_INFO and a dropped Authorization', () => {
    const vars = { ...NGINX_GET, SCRIPT_NAME: '/app/tsgi-doctor/path-info', PATH_INFO: '' };
    vars.REQUEST_URI = '/app/tsgi-doctor/path-info?tsgi-doctor=1';
    expect(ids(checkRequestVars({ vars, transport: 'fastcgi' }, DOCTOR_PROBE))).toEqual([
      'empty-path-info',
      'missing-authorization',
    ]);
  });

  it('finds a Proxy header passed through as HTTP_PROXY, but not the empty one nginx recipes send', () => {
    const findings = checkRequestVars({
      vars: { ...NGINX_GET, HTTP_PROXY: 'http://evil:3128' },
      transport: 'fastcgi',
    });
    expect(ids(findings)).toEqual(['httpoxy']);
    expect(findings[0]?.fix?.apache).toContain('RequestHeader unset Proxy early');
    expect(checkRequestVars({ vars: { ...NGINX_GET, HTTP_PROXY: '' }, transport: 'fastcgi' })).toEqual([]);
  });
});

describe('checkPeer', () => {
  it('finds a web server address missing from FCGI_WEB_SERVER_ADDRS, v4-mapped or not', () => {
    expect(ids(checkPeer('10.0.0.5', '::ffff:10.0.0.9'))).toEqual(['web-server-addrs']);
    expect(checkPeer('10.0.0.5', '10.0.0.9')[0]?.fix?.tsgi).toContain(
      'FCGI_WEB_SERVER_ADDRS=10.0.0.5,10.0.0.9',
    );
    expect(ids(checkPeer('10.0.0.0/24', '::ffff:10.0.0.9'))).toEqual(['web-server-addrs-ok']);
  });

  it('warns about an open TCP listener reached from another machine, and says nothing for loopback or unix', () => {
    expect(ids(checkPeer(undefined, '192.0.2.10'))).toEqual(['web-server-addrs-unset']);
    expect(checkPeer(undefined, '127.0.0.1')).toEqual([]);
    expect(checkPeer('10.0.0.5', undefined)).toEqual([]);
  });
});

describe('formatFindings', () => {
  it('shows the fix for the server the request came from, errors first, and counts', () => {
    const findings = checkRequestVars({
      vars: { ...NGINX_GET, PATH_INFO: '', HTTP_PROXY: 'x' },
      transport: 'fastcgi',
    });
    const text = formatFindings(findings, webServerOf('nginx/1.22.1'));
    expect(text).toMatch(/^ERROR empty-path-info/);
    expect(text).toContain('fix (nginx):');
    expect(text).not.toContain('fix (apache):');
    expect(text).toContain('1 error(s), 1 warning(s)');
    expect(webServerOf('Apache/2.4.62 (Debian)')).toBe('apache');
    expect(webServerOf('lighttpd/1.4.69')).toBe('lighttpd');
  });
});
