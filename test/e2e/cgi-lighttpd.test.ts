// tsgi apps as CGI scripts behind a real lighttpd (mod_cgi with an aliased cgi-bin, the recipe in scripts/recipes).
import { join } from 'node:path';
import { describe } from 'vitest';
import { makeServerDir, renderTemplate, startLighttpd } from '../helpers/servers.js';
import { hasTool } from '../helpers/tools.js';
import { cgiEndToEnd, writeCgiScripts } from './cgi-suite.js';

const RECIPE = new URL('../../scripts/recipes/lighttpd-cgi.conf', import.meta.url).pathname;

// CI: under CI=true hasTool throws instead of skipping when lighttpd is missing.
describe.skipIf(!hasTool('lighttpd', 'lighttpd') /* throws under CI=true */)(
  'CGI behind lighttpd (mod_cgi)',
  () => {
    cgiEndToEnd(
      async () => {
        const dir = makeServerDir('lighttpd-cgi', ['run']);
        const cgiBin = join(dir, 'cgi-bin');
        writeCgiScripts(cgiBin);
        // lighttpd 1.4.6x answers 400 to a path that is not UTF-8 once decoded (url-invalid-utf8-reject, on by
        // default); the byte-exact PATH_INFO check needs it off, as an app serving legacy byte paths would.
        const config = `${renderTemplate(RECIPE, { CGI_BIN: cgiBin })}
server.http-parseopts = ( "url-invalid-utf8-reject" => "disable" )
`;
        return startLighttpd({ config, modules: ['mod_alias', 'mod_cgi'], dir });
      },
      { proxyHeaderReachesCgi: false },
    );
  },
);
