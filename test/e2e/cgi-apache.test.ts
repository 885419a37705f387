// tsgi apps as CGI scripts behind a real Apache httpd (mod_cgid + ScriptAlias, the recipe in scripts/recipes).
import { join } from 'node:path';
import { describe } from 'vitest';
import { makeServerDir, renderTemplate, startApache } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';
import { cgiEndToEnd, writeCgiScripts } from './cgi-suite.js';

const RECIPE = new URL('../../scripts/recipes/apache-cgid.conf', import.meta.url).pathname;

// CI: under CI=true hasTool throws instead of skipping when apache2 is missing.
describe.skipIf(!hasTool('apache2', 'apache2') /* throws under CI=true */)(
  'CGI behind Apache httpd (mod_cgid, ScriptAlias)',
  () => {
    cgiEndToEnd(
      async () => {
        const dir = makeServerDir('apache-cgi');
        const cgiBin = join(dir, 'cgi-bin');
        writeCgiScripts(cgiBin);
        const config = renderTemplate(RECIPE, { CGI_BIN: cgiBin, RUNTIME_DIR: dir });
        return startApache({ config, modules: ['cgid', 'alias'], dir });
      },
      { proxyHeaderReachesCgi: false },
    );
  },
);
