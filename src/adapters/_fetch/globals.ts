// The lightweight globals a served fetch app runs with (issue 13): `Response` keeps a string or bytes body for
// the bridge to write as it is, `Request` and `fetch` accept the bridge's lightweight Request as their input.
// Installed once per process, by fromFetchHandler (default `lightweightGlobals: true`), never by loading tsgi.
// The same choice @hono/node-server makes by default (`overrideGlobalObjects`); see light-response.ts for why.
import { makeLightRequest, type LightRequestKit } from './light-request.js';
import { makeLightResponse, type LightResponseKit } from './light-response.js';

/** What the bridge uses once the globals are installed. */
export interface LightGlobals {
  readonly request: LightRequestKit;
  readonly response: LightResponseKit;
}

const NAMES = ['Request', 'Response', 'fetch'] as const;

let installed: { kit: LightGlobals; saved: Map<string, PropertyDescriptor | undefined> } | undefined;

/** Whether this runtime is Node with undici's fetch classes (Bun and Deno have their own, already fast). */
function isNodeFetch(): boolean {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } }).process
    ?.versions;
  return (
    versions?.node !== undefined &&
    versions.bun === undefined &&
    !('Deno' in globalThis) &&
    typeof globalThis.Request === 'function' &&
    typeof globalThis.Response === 'function' &&
    typeof globalThis.fetch === 'function'
  );
}

const hasInstance = (target: unknown, value: unknown): boolean =>
  Function.prototype[Symbol.hasInstance].call(target, value);

/**
 * Installs the lightweight `Request`, `Response` and `fetch` on globalThis (once) and returns the bridge's kit;
 * undefined on a runtime other than Node.
 */
export function installLightGlobals(): LightGlobals | undefined {
  if (installed !== undefined) return installed.kit;
  if (!isNodeFetch()) return undefined;
  const NativeRequest = globalThis.Request;
  const nativeFetch = globalThis.fetch;
  const response = makeLightResponse(globalThis.Response);
  // The global Request: the platform's, except that a lightweight Request as input becomes its platform one
  // (`new Request(c.req.raw, { headers })`, the proxy idiom). A platform Request is an instance of it too.
  class Request extends NativeRequest {
    static override [Symbol.hasInstance](value: unknown): boolean {
      return hasInstance(this === Request ? NativeRequest : this, value);
    }
    constructor(input: RequestInfo | URL, init?: RequestInit) {
      // `request` is set below, before any instance can be made.
      super(request.isLight(input) ? request.native(input as globalThis.Request) : input, init);
    }
  }
  const request: LightRequestKit = makeLightRequest(NativeRequest, Request);
  const kit: LightGlobals = { request, response };
  // fetch(c.req.raw): the platform's fetch, given the platform Request behind a lightweight one.
  function fetch(input: RequestInfo | URL, init?: RequestInit): Promise<globalThis.Response> {
    return nativeFetch(request.isLight(input) ? request.native(input as globalThis.Request) : input, init);
  }
  const saved = new Map<string, PropertyDescriptor | undefined>();
  const values = { Request, Response: response.Response, fetch };
  for (const name of NAMES) {
    saved.set(name, Object.getOwnPropertyDescriptor(globalThis, name));
    Object.defineProperty(globalThis, name, {
      value: values[name],
      writable: true,
      configurable: true,
      enumerable: name === 'fetch',
    });
  }
  installed = { kit, saved };
  return kit;
}

/** The kit when the globals are installed, else undefined. */
export function lightGlobals(): LightGlobals | undefined {
  return installed?.kit;
}

/** Puts the platform globals back (tests). */
export function uninstallLightGlobals(): void {
  if (installed === undefined) return;
  for (const [name, descriptor] of installed.saved) {
    if (descriptor === undefined) Reflect.deleteProperty(globalThis, name);
    else Object.defineProperty(globalThis, name, descriptor);
  }
  installed = undefined;
}
