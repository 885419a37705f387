// compose(): right-to-left like function composition, the first middleware listed outermost.
import { describe, expect, it } from 'vitest';
import { compose } from '../../../src/middleware/compose.js';
import type { Application, Middleware } from '../../../src/shared/types.js';
import { callApp } from '../../../src/testing/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A middleware that records when the request enters it and tags the response with a header. */
function tagging(name: string, trace: string[]): Middleware {
  return (app) => (environ, startResponse) => {
    trace.push(name);
    return app(environ, (status, headers, ...excInfo) =>
      startResponse(status, [...headers, ['X-Via', name]], ...excInfo),
    );
  };
}

const hello: Application = (_environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [bytes('hi')];
};

describe('compose', () => {
  it('makes compose(a, b)(app) equal a(b(app)): the first listed sees the request first', async () => {
    const trace: string[] = [];
    const response = await callApp(compose(tagging('a', trace), tagging('b', trace))(hello));
    expect(trace).toEqual(['a', 'b']);
    // The innermost wraps the application's startResponse first, so its header comes first.
    expect(response.headers).toEqual([
      ['Content-Type', 'text/plain'],
      ['X-Via', 'b'],
      ['X-Via', 'a'],
    ]);
    const manual: string[] = [];
    await callApp(tagging('a', manual)(tagging('b', manual)(hello)));
    expect(manual).toEqual(trace);
  });

  it('returns the application itself when given no middleware', () => {
    expect(compose()(hello)).toBe(hello);
  });

  it('refuses an argument that is not a function, naming its position', () => {
    expect(() => compose(tagging('a', []), 'b' as unknown as Middleware)).toThrow(
      'tsgi compose: argument 2 is not a middleware function',
    );
  });

  it('refuses a middleware that does not return an application', () => {
    const broken = (() => undefined) as unknown as Middleware;
    expect(() => compose(broken)(hello)).toThrow(
      'tsgi compose: middleware 1 returned undefined, not an application function',
    );
  });
});
