// Telling export shapes apart by what they are (issue 13): frameworks by their documented entry points, a bare
// node:http listener or fetch function refused with the wrapper it needs, anything else named in one line.
import { describe, expect, it } from 'vitest';
import { AppShapeError, detectApp, parameterNames, toApplication } from '../../../src/deploy/detect-app.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const refusal = (value: unknown): AppShapeError => {
  try {
    detectApp(value, 'app.mjs');
  } catch (error) {
    return error as AppShapeError;
  }
  throw new Error('expected a refusal');
};

describe('detectApp', () => {
  it('tells a Connect app (a function with handle, use and a stack) from an Express app (with settings)', () => {
    const connect = Object.assign((_req: unknown, _res: unknown, _next: unknown) => undefined, {
      handle: () => undefined,
      use: () => undefined,
      stack: [],
    });
    expect(detectApp(connect, 'app.mjs').kind).toBe('connect');
    const express = Object.assign(connect, { set: () => undefined, settings: {} });
    expect(detectApp(express, 'app.mjs').kind).toBe('express');
  });

  it('serves a function with other parameter names, or none it can read, as a tsgi app', () => {
    expect(detectApp((environ: unknown, startResponse: unknown) => [environ, startResponse], 'a').kind).toBe(
      'tsgi',
    );
    expect(
      detectApp(function app(env: unknown, start: unknown) {
        return [env, start];
      }, 'a').kind,
    ).toBe('tsgi');
    expect(detectApp(Math.max.bind(null), 'a').kind).toBe('tsgi');
  });

  it('refuses a (req, res) listener, naming fromNodeHandler', () => {
    const error = refusal(async function handler(request: unknown, response: unknown) {
      return [request, response];
    });
    expect(error.message).toBe('app.mjs is a node:http listener (request, response), not a tsgi application');
    expect(error.hint).toContain('fromNodeHandler');
  });

  it('refuses a bare fetch function, naming { fetch } and fromFetchHandler', () => {
    const error = refusal((request: Request) => new Response(request.url));
    expect(error.message).toBe('app.mjs is a fetch handler (request), not a tsgi application');
    expect(error.hint).toContain('{ fetch: handler }');
  });

  it('names what it found: a class, null, a number, an empty object', () => {
    class App {}
    expect(refusal(App).message).toBe('app.mjs is a class, not an instance');
    expect(refusal(null).message).toBe('app.mjs is null, which tsgi cannot serve');
    expect(refusal(42).message).toBe('app.mjs is a number, which tsgi cannot serve');
    expect(refusal(new App()).message).toBe('app.mjs is a App object with no keys, which tsgi cannot serve');
  });
});

describe('parameterNames', () => {
  it('reads arrows, async functions, methods, defaults and comments', () => {
    expect(parameterNames((a: number, b = 2) => a + b)).toEqual(['a', 'b']);
    expect(parameterNames(async (x: unknown) => x)).toEqual(['x']);
    expect(
      parameterNames(
        {
          fetch(req: unknown /* the request */, env: unknown) {
            return [req, env];
          },
        }.fetch,
      ),
    ).toEqual(['req', 'env']);
  });
});

describe('toApplication', () => {
  it('serves an object with fetch() with `this` bound to the object, through the environ', async () => {
    const server = {
      greeting: 'hello',
      fetch(request: Request) {
        return new Response(`${this.greeting} ${new URL(request.url).pathname}`);
      },
    };
    const { app, detected } = await toApplication(server, 'app.mjs');
    expect(detected.adapter).toBe('fromFetchHandler');
    const result = await callApp(app, createTestEnviron({ PATH_INFO: '/x' }));
    expect(result.status).toBe('200 OK');
    expect(result.text).toBe('hello /x');
  });
});
