// applyQuirks(): the deployment-dependent server fix-ups (lighttpd, IIS) as opt-in middleware.
import { iisPathInfo, lighttpdPathInfo, type Quirk, type RequestVars } from '../shared/quirks.js';
import type { Environ, Middleware } from '../shared/types.js';

export { iisPathInfo, lighttpdPathInfo, type Quirk };

/**
 * Middleware that applies `quirks` in order to the request variables before the application sees them, for a
 * deployment known to need them (Plack's `LighttpdScriptNameFix`, wsgiref's `IISCGIHandler`):
 * `compose(applyQuirks(lighttpdPathInfo))(app)`. These are not applied by `buildEnviron` because on another
 * server the same rewrite would be wrong. The application gets a fixed copy; the server's environ is untouched.
 */
export function applyQuirks(...quirks: Quirk[]): Middleware {
  return (app) => (environ, startResponse) => app(fixedEnviron(environ, quirks), startResponse);
}

function fixedEnviron(environ: Environ, quirks: readonly Quirk[]): Environ {
  const vars: RequestVars = {};
  for (const name of Object.keys(environ)) {
    const value = environ[name];
    if (typeof value === 'string') vars[name] = value;
  }
  for (const quirk of quirks) quirk(vars);
  const fixed: Record<string, unknown> = { ...environ };
  for (const name of Object.keys(fixed)) {
    if (typeof fixed[name] === 'string' && vars[name] === undefined) delete fixed[name];
  }
  for (const [name, value] of Object.entries(vars)) if (value !== undefined) fixed[name] = value;
  return fixed as Environ;
}
