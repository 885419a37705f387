// compose(...middleware): stacks middleware into one, the first listed outermost (as function composition).
import { TsgiError } from '../shared/errors.js';
import type { Application, Middleware } from '../shared/types.js';

/**
 * Composes middleware right to left, like function composition: `compose(a, b, c)(app)` is `a(b(c(app)))`.
 * The FIRST middleware listed is the OUTERMOST: it sees the request first and the response last. So list them
 * in the order a request passes through them, e.g. `compose(accessLog, catchErrors, validate)(app)` logs every
 * request, turns errors into 500s, and validates what is inside. `compose()` returns the application unchanged.
 */
export function compose(...middleware: Middleware[]): Middleware {
  for (const [index, wrap] of middleware.entries()) {
    if (typeof wrap !== 'function') {
      throw new TsgiError(
        'ERR_NOT_MIDDLEWARE',
        `tsgi compose: argument ${index + 1} is not a middleware function`,
      );
    }
  }
  return (app: Application): Application =>
    middleware.reduceRight<Application>((inner, wrap, index) => {
      const outer: unknown = wrap(inner);
      if (typeof outer !== 'function') {
        throw new TsgiError(
          'ERR_NOT_MIDDLEWARE',
          `tsgi compose: middleware ${index + 1} returned ${typeof outer}, not an application function`,
        );
      }
      return outer as Application;
    }, app);
}
