// tsgi explain: the raw variables, each normalisation step, and the changes they made to the environ.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { explainRequest, formatExplanation } from '../../../src/deploy/explain.js';
import { main } from '../../../src/cli/main.js';

// What nginx's stock fastcgi_params sends for a GET to an app mounted at the root without a split.
const NGINX_ROOT_GET = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/',
  REQUEST_URI: '/?a=1',
  QUERY_STRING: 'a=1',
  CONTENT_TYPE: '',
  CONTENT_LENGTH: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

describe('explainRequest', () => {
  it('names each quirk that changed the variables and lists the changes', () => {
    const explanation = explainRequest({ vars: NGINX_ROOT_GET, transport: 'fastcgi' });
    expect(explanation.steps).toEqual([
      expect.stringMatching(/^dropEmptyContentVars: removed empty CONTENT_TYPE, CONTENT_LENGTH/),
      expect.stringMatching(/^defaultPathInfo: PATH_INFO missing/),
      expect.stringMatching(/^normalizeRootScriptName: SCRIPT_NAME "\/" became ""/),
    ]);
    expect(explanation.changes).toEqual([
      { name: 'CONTENT_LENGTH', before: '' },
      { name: 'CONTENT_TYPE', before: '' },
      { name: 'PATH_INFO', after: '/' },
      { name: 'SCRIPT_NAME', before: '/', after: '' },
    ]);
    expect(explanation.environ).toMatchObject({ SCRIPT_NAME: '', PATH_INFO: '/', REQUEST_URI: '/?a=1' });
  });

  it('reports httpoxy for CGI, where the runner strips HTTP_PROXY from process.env', () => {
    const cgi = explainRequest({ vars: { ...NGINX_ROOT_GET, HTTP_PROXY: 'http://evil' }, transport: 'cgi' });
    expect(cgi.steps[0]).toMatch(/^httpoxy: HTTP_PROXY .* removed from process.env/);
    const fastcgi = explainRequest({
      vars: { ...NGINX_ROOT_GET, HTTP_PROXY: 'http://evil' },
      transport: 'fastcgi',
    });
    expect(fastcgi.steps.join('\n')).not.toContain('httpoxy');
  });

  it('says the request is refused when REQUEST_METHOD is missing', () => {
    const { REQUEST_METHOD: _m, ...vars } = NGINX_ROOT_GET;
    const explanation = explainRequest({ vars, transport: 'fastcgi' });
    expect(explanation.error).toMatch(/REQUEST_METHOD is missing/);
    expect(formatExplanation(explanation)).toContain('refused: ');
  });

  it('prints raw variables first with the request line ones on top, then steps, changes and environ', () => {
    const text = formatExplanation(explainRequest({ vars: NGINX_ROOT_GET, transport: 'fastcgi' }));
    const sections = ['as it arrived:', 'normalisation steps:', 'changed:', 'environ (CGI variables'];
    const positions = sections.map((heading) => text.indexOf(heading));
    expect(positions.every((at) => at > 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(text).toContain(
      'as it arrived:\n  REQUEST_METHOD="GET"\n  REQUEST_URI="/?a=1"\n  SCRIPT_NAME="/"',
    );
    expect(text).toContain('  SCRIPT_NAME: "/" -> ""');
  });
});

describe('tsgi explain --from', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgi-explain-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('explains variables saved as JSON, and reads back its own --json output', async () => {
    const file = join(dir, 'vars.json');
    writeFileSync(file, JSON.stringify(NGINX_ROOT_GET));
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['explain', '--from', file, '--json'])).toBe(0);
      const saved = join(dir, 'explained.json');
      writeFileSync(saved, out.join(''));
      out.length = 0;
      expect(await main(['explain', '--from', saved])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(out.join('')).toContain('normalizeRootScriptName: SCRIPT_NAME "/" became ""');
  });

  it('refuses a file that is not a JSON object, in one line', async () => {
    const file = join(dir, 'list.json');
    writeFileSync(file, '[1,2]');
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['explain', '--from', file])).toBe(2);
      expect(String(spy.mock.calls[0]?.[0])).toMatch(/is not a JSON object of variables/);
    } finally {
      spy.mockRestore();
    }
  });
});
