// What an APP module exports, told apart by what it is (issue 13): a tsgi application, or a framework's own
// object served through its adapter. One place for `tsgi serve|cgi|fastcgi|run|build` and built files.
import type { Application } from '../shared/types.js';

/** The shapes tsgi serves without a wrapper. */
export type AppKind = 'tsgi' | 'express' | 'connect' | 'koa' | 'fastify' | 'hono' | 'fetch';

/** What was detected, for the start line: `${label}, served through ${adapter}`. */
export interface DetectedApp {
  readonly kind: AppKind;
  /** "Express app", "Hono app", "object with fetch(request)"… */
  readonly label: string;
  /** The adapter that serves it (`fromNodeHandler`…); undefined for a tsgi application. */
  readonly adapter?: 'fromNodeHandler' | 'fromFastify' | 'fromFetchHandler';
}

/** An export tsgi cannot serve: `message` names what was found, `hint` the one-line fix for each shape. */
export class AppShapeError extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'AppShapeError';
    this.hint = hint;
  }
}

/** Says what was detected, e.g. "Express app, served through fromNodeHandler". */
export function describeDetected(detected: DetectedApp): string {
  return detected.adapter === undefined
    ? detected.label
    : `${detected.label}, served through ${detected.adapter}`;
}

/** For a start line: "; Express app, served through fromNodeHandler", nothing for a tsgi application. */
export function servedAs(detected: DetectedApp): string {
  return detected.adapter === undefined ? '' : `; ${describeDetected(detected)}`;
}

/** The paragraph of every command's --help (and `tsgi explain --app`) on what APP may export. */
export const APP_SHAPES_HELP = `APP's export (default, or path#name) is served as it is when it is a tsgi application
(environ, startResponse) => body; an Express or Connect app or a Koa app goes through fromNodeHandler, a Fastify
instance through fromFastify, an object with fetch(request) (a Hono app, { fetch }) through fromFetchHandler; a
bare (req, res) listener is refused with the wrapper it needs. The start line says what was detected
('tsgi explain --app APP' too). To serve it another way, wrap it yourself and export the result: a function
export is served as the tsgi application it is.`;

/** The one-line fixes, one per shape, for the error and for `--help`. */
export const SHAPE_FIXES =
  'export default one of: a tsgi app `(environ, startResponse) => body`; an Express/Connect app; a Koa app; ' +
  'a Fastify instance; an object with fetch(request) (a Hono app, `{ fetch }`); ' +
  "anything else wrapped by hand, e.g. `fromNodeHandler(listener)` from 'tsgi/adapters/node'";

type Props = Record<string | symbol, unknown>;

const isFunction = (value: unknown): value is (...args: never[]) => unknown => typeof value === 'function';

// Express and Connect apps are `(req, res, next)` functions carrying their router; told apart by Express's
// settings table. Koa and Fastify are objects with a documented entry point (`callback()`, `routing`).
function frameworkOf(value: Props, callable: boolean): DetectedApp | undefined {
  if (callable && isFunction(value.handle) && isFunction(value.use)) {
    if (isFunction(value.set) && typeof value.settings === 'object' && value.settings !== null)
      return { kind: 'express', label: 'Express app', adapter: 'fromNodeHandler' };
    if (Array.isArray(value.stack))
      return { kind: 'connect', label: 'Connect app', adapter: 'fromNodeHandler' };
  }
  if (!callable) {
    if (isFunction(value.callback) && isFunction(value.use) && Array.isArray(value.middleware))
      return { kind: 'koa', label: 'Koa app', adapter: 'fromNodeHandler' };
    if (isFunction(value.routing) && isFunction(value.ready) && isFunction(value.inject))
      return { kind: 'fastify', label: 'Fastify instance', adapter: 'fromFastify' };
  }
  if (isFunction(value.fetch)) {
    const hono = isFunction(value.route) && Array.isArray(value.routes);
    return hono
      ? { kind: 'hono', label: 'Hono app', adapter: 'fromFetchHandler' }
      : { kind: 'fetch', label: 'object with fetch(request)', adapter: 'fromFetchHandler' };
  }
  return undefined;
}

/** The parameter names in a function's source (empty for native, bound or destructured parameters). */
export function parameterNames(fn: (...args: never[]) => unknown): string[] {
  const source = Function.prototype.toString.call(fn);
  const bare = /^(?:async\s+)?([\w$]+)\s*=>/.exec(source);
  if (bare) return [bare[1]!];
  const list = /^[^(]*\(([^)]*)\)/.exec(source);
  if (!list) return [];
  return list[1]!
    .split(',')
    .map((part) => part.replace(/\/\*.*?\*\/|\/\/.*$/gm, '').trim())
    .map((part) => /^[\w$]+/.exec(part)?.[0] ?? '')
    .filter((name) => name !== '');
}

const NODE_REQUEST = /^(req|request|incoming)$/i;
const NODE_RESPONSE = /^(res|response|reply|outgoing)$/i;

// A tsgi app and a node:http listener both take two arguments; only their names tell them apart before a request
// arrives. Names count only to refuse with the right fix: an app named otherwise is served as a tsgi app.
function refuseFunction(fn: (...args: never[]) => unknown, found: string): AppShapeError | undefined {
  const names = parameterNames(fn);
  const [first, second] = names;
  if (first !== undefined && second !== undefined && NODE_REQUEST.test(first) && NODE_RESPONSE.test(second)) {
    return new AppShapeError(
      `${found} is a node:http listener (${names.join(', ')}), not a tsgi application`,
      "export default fromNodeHandler(listener) from 'tsgi/adapters/node'",
    );
  }
  if (first !== undefined && names.length === 1 && /^(req|request)$/i.test(first)) {
    return new AppShapeError(
      `${found} is a fetch handler (${first}), not a tsgi application`,
      'export default { fetch: handler } (or fromFetchHandler(handler) from ' + "'tsgi/adapters/fetch')",
    );
  }
  return undefined;
}

function kindOfValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
    const keys = Object.keys(value).slice(0, 5);
    const what =
      typeof name === 'string' && name !== 'Object' && name !== '' ? `a ${name} object` : 'an object';
    return keys.length === 0 ? `${what} with no keys` : `${what} (keys: ${keys.join(', ')})`;
  }
  if (value === undefined) return 'undefined';
  return `a ${typeof value}`;
}

/**
 * What `value` is, or an AppShapeError naming what was found (`found` says where, e.g. "app.ts's default
 * export") with the one-line fix for each shape.
 */
export function detectApp(value: unknown, found: string): DetectedApp {
  if (typeof value === 'function' || (typeof value === 'object' && value !== null)) {
    const framework = frameworkOf(value as Props, typeof value === 'function');
    if (framework !== undefined) return framework;
  }
  if (typeof value === 'function') {
    if (/^class[\s{]/.test(Function.prototype.toString.call(value))) {
      throw new AppShapeError(
        `${found} is a class, not an instance`,
        `export default new ${value.name || 'App'}()`,
      );
    }
    const refusal = refuseFunction(value as (...args: never[]) => unknown, found);
    if (refusal !== undefined) throw refusal;
    return { kind: 'tsgi', label: 'tsgi application' };
  }
  throw new AppShapeError(`${found} is ${kindOfValue(value)}, which tsgi cannot serve`, SHAPE_FIXES);
}

/**
 * The tsgi application for `value`: itself for a tsgi app, else the adapter's output (so middleware and the
 * validator wrap a framework as they wrap any app). The adapters load only when a framework needs them, so a
 * built CGI file serving a plain app does not compile them on every start.
 */
export async function toApplication(
  value: unknown,
  found: string,
): Promise<{ app: Application; detected: DetectedApp }> {
  const detected = detectApp(value, found);
  const target = value as Props;
  switch (detected.kind) {
    case 'tsgi':
      return { app: value as Application, detected };
    case 'express':
    case 'connect': {
      const { fromNodeHandler } = await import('../adapters/node.js');
      return { app: fromNodeHandler(value as Parameters<typeof fromNodeHandler>[0]), detected };
    }
    case 'koa': {
      const { fromNodeHandler } = await import('../adapters/node.js');
      const callback = (target.callback as () => Parameters<typeof fromNodeHandler>[0]).call(target);
      return { app: fromNodeHandler(callback), detected };
    }
    case 'fastify': {
      const { fromFastify } = await import('../adapters/node.js');
      return { app: fromFastify(value as Parameters<typeof fromFastify>[0]), detected };
    }
    case 'hono':
    case 'fetch': {
      const { fromFetchHandler } = await import('../adapters/fetch.js');
      const fetch = target.fetch as Parameters<typeof fromFetchHandler>[0];
      return { app: fromFetchHandler((request, environ) => fetch.call(target, request, environ)), detected };
    }
  }
}
