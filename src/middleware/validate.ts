// validate(app): the tsgi lint. One check per SPEC.md rule, on both sides of the interface (wsgiref.validate, Rack::Lint).
import type { Application, Body, Environ, StartResponse } from '../shared/types.js';
import { checkReturnValue, wrapBody } from './validate/body.js';
import { checkCall } from './validate/environ.js';
import { fail, show } from './validate/report.js';
import { createResponseState, wrapStartResponse } from './validate/response.js';
import { wrapErrors, wrapInput } from './validate/streams.js';

/**
 * Wraps an application in the validator: every call checks the environ the server passes, wraps `tsgi.input`,
 * `tsgi.errors`, `startResponse`, `write` and the body, and throws a `ValidationError` (code = the SPEC.md rule
 * id, e.g. `environ.script-name`) at the first breach, with a message that says the fix. Broken SHOULDs are
 * warnings on `tsgi.errors`. Chunks pass through as they come: nothing is buffered.
 *
 * Put it between the server and the application, or between two middleware to check the one inside. It
 * mutates the environ it is given (`tsgi.input` and `tsgi.errors` become the checking wrappers), as
 * wsgiref's validator does.
 *
 * @example
 * ```ts
 * import { validate } from 'tsgi/middleware';
 * export default validate((environ, startResponse) => {
 *   startResponse('200 OK', [['Content-Type', 'text/plain']]);
 *   return [new TextEncoder().encode('hello\n')];
 * });
 * ```
 */
export function validate(app: Application): Application {
  /// SPEC: [call.app] An application MUST be a function of `(environ, startResponse)`.
  if (typeof app !== 'function')
    fail('call.app', `validate() needs an application function, got ${show(app)}`);
  return async function validated(
    environ: Environ,
    startResponse: StartResponse,
    ...extra: unknown[]
  ): Promise<Body> {
    const env = checkCall(environ, startResponse, extra.length);
    const errors = env['tsgi.errors'];
    env['tsgi.input'] = wrapInput(env['tsgi.input'], env);
    env['tsgi.errors'] = wrapErrors(errors);
    const state = createResponseState(errors, env.REQUEST_METHOD);
    const body = checkReturnValue(await app(env, wrapStartResponse(startResponse, state)));
    return wrapBody(body, state, `${env.REQUEST_METHOD} ${env.SCRIPT_NAME}${env.PATH_INFO}`);
  };
}
