// nginx -> tsgi fastcgi --cgi-bin DIR (recipe nginx-cgi-bin.conf): fcgiwrap's job, issue 12 part 2.
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipe } from '../helpers/fastcgi-e2e.js';
import { startListener, type ListenerProcess } from '../helpers/fastcgi-process.js';
import { makeScriptTree, type ScriptTree } from '../helpers/script-dirs.js';
import { freePort, renderTemplate, startNginx, type RunningServer } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';

const SHELL = `#!/bin/sh
printf 'Content-Type: text/plain\\r\\nX-Script: shell\\r\\n\\r\\n'
echo "$REQUEST_METHOD $SCRIPT_NAME $PATH_INFO $QUERY_STRING $CONTENT_LENGTH"
cat
`;
const PYTHON = `#!/usr/bin/python3
import os, sys
body = sys.stdin.buffer.read(int(os.environ.get('CONTENT_LENGTH') or 0))
sys.stdout.write('Status: 201 Created\\r\\nContent-Type: text/plain\\r\\n\\r\\n')
sys.stdout.write('python %s %s %d\\n' % (os.environ['SCRIPT_NAME'], os.environ.get('PATH_INFO', ''), len(body)))
`;

describe.skipIf(!hasTool('nginx', 'nginx') /* throws under CI=true */)(
  'nginx → tsgi fastcgi --cgi-bin',
  () => {
    let tree: ScriptTree;
    let listener: ListenerProcess;
    let nginx: RunningServer;
    let base: string;

    beforeAll(async () => {
      tree = makeScriptTree('cgi-bin-nginx');
      tree.write('cgi-bin/shell.sh', SHELL, 0o755);
      tree.write('cgi-bin/py.py', PYTHON, 0o755);
      tree.write('cgi-bin/malformed.sh', "#!/bin/sh\necho 'this is not a header'\necho\n", 0o755);
      tree.write('cgi-bin/hang.sh', '#!/bin/sh\nsleep 30\n', 0o755);
      const marker = join(tree.base, 'finished');
      tree.write(
        'cgi-bin/slow.sh',
        `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\necho first\nsleep 2\necho second\ntouch ${marker}\n`,
        0o755,
      );
      listener = await startListener(
        ['--cgi-bin', join(tree.root, 'cgi-bin'), '--cgi-timeout', '3', '--listen', '127.0.0.1:0'],
        { app: null },
      );
      const port = await freePort();
      nginx = await startNginx({
        http: renderTemplate(recipe('nginx-cgi-bin.conf'), {
          LISTEN: `127.0.0.1:${port}`,
          SERVER_NAME: 'localhost',
          ROOT: tree.root,
          FASTCGI_ADDRESS: listener.address,
        }),
        server: '',
      });
      base = `http://127.0.0.1:${port}`;
    });
    afterAll(async () => {
      await nginx?.stop();
      await listener?.stop('SIGKILL');
      tree?.remove();
    });

    it('runs a shell script with the meta-variables and the request body', async () => {
      const response = await fetch(`${base}/cgi-bin/shell.sh/a/b?x=1`, {
        method: 'POST',
        body: 'hello body',
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('x-script')).toBe('shell');
      expect(await response.text()).toBe('POST /cgi-bin/shell.sh /a/b x=1 10\nhello body');
    });

    it('runs a Python script, with its Status', async () => {
      const response = await fetch(`${base}/cgi-bin/py.py/p`, { method: 'POST', body: 'x'.repeat(100_000) });
      expect(response.status).toBe(201);
      expect(await response.text()).toBe('python /cgi-bin/py.py /p 100000\n');
    });

    it('answers 502 for a malformed header block, with one log line', async () => {
      const response = await fetch(`${base}/cgi-bin/malformed.sh`);
      expect(response.status).toBe(502);
      await listener.waitForLog(/malformed\.sh printed no valid CGI header block: bad header line/);
    });

    it('kills a script that hangs past --cgi-timeout (3 s): 504', async () => {
      const started = Date.now();
      const response = await fetch(`${base}/cgi-bin/hang.sh`);
      expect(response.status).toBe(504);
      expect(Date.now() - started).toBeLessThan(8000);
      await listener.waitForLog(/hang\.sh ran past 3000 ms, killed/);
    });

    it('kills the script when the client goes away', async () => {
      await new Promise<void>((resolve, reject) => {
        const req = request(`${base}/cgi-bin/slow.sh`, (response) => {
          response.once('data', () => {
            // The head and the first line arrived: leave while the script sleeps.
            req.destroy();
            resolve();
          });
        });
        req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
        req.end();
      });
      await new Promise((resolve) => setTimeout(resolve, 3000));
      expect(existsSync(join(tree.base, 'finished'))).toBe(false);
    });

    it('404 for a missing program, 403 for one that is not executable', async () => {
      tree.write('cgi-bin/plain.sh', '#!/bin/sh\n', 0o644);
      expect((await fetch(`${base}/cgi-bin/none.sh`)).status).toBe(404);
      expect((await fetch(`${base}/cgi-bin/plain.sh`)).status).toBe(403);
    });
  },
);
