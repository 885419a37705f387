// A Request whose method, URL, headers and signal cost no platform object: the fetch bridge builds one per
// request (issue 13). On Node 20 `new Headers` + `new Request` cost ~13.5 µs, while a router reads only the
// method and URL. Every other member (body, clone, text, json, formData, arrayBuffer, mode, cache…) builds the
// platform Request once and answers from it. The platform refuses such an object as the input of its own
// `new Request(input)` and `fetch(input)` (its private state is missing): the globals installed with this
// class (./globals.ts) hand those the platform Request instead, so a proxying app keeps working.
import { headersOf } from './header-pairs.js';
import { delegateMembers } from './delegate-members.js';

/** What a lightweight Request is made of; `body()` is called at most once, when a member needs the body. */
export interface RequestParts {
  readonly method: string;
  /** An absolute URL, already in the platform's serialization (`new URL(url).href`). */
  readonly url: string;
  /** `[name, value, …]` pairs; called when the headers are first read (a router reading the URL never does). */
  readonly headers: () => readonly string[];
  readonly signal: () => AbortSignal;
  /** The request body, or null when the request has none (GET, HEAD, an empty body). */
  readonly body: (() => ReadableStream<Uint8Array>) | null;
}

/** The lightweight Request class and the doors the globals need into it. */
export interface LightRequestKit {
  create(parts: RequestParts): Request;
  /** Whether `value` is a lightweight Request. */
  isLight(value: unknown): boolean;
  /** The platform Request behind a lightweight one, built on first use. */
  native(request: Request): Request;
}

// Members the class answers itself; every other member of Request.prototype goes to the platform object.
const OWN_MEMBERS = new Set(['constructor', 'method', 'url', 'headers', 'signal', 'body', 'bodyUsed']);

/** Builds the lightweight Request class; its prototype chain runs through `Base.prototype` (the global). */
export function makeLightRequest(NativeRequest: typeof Request, Base: typeof Request): LightRequestKit {
  class LightRequest {
    #parts: RequestParts;
    #real: Request | undefined;
    #headers: Headers | undefined;

    constructor(parts: RequestParts) {
      this.#parts = parts;
    }

    static isLight(value: unknown): boolean {
      return typeof value === 'object' && value !== null && #parts in value;
    }

    static native(request: LightRequest): Request {
      return request.#native();
    }

    #native(): Request {
      if (this.#real !== undefined) return this.#real;
      const parts = this.#parts;
      const init: RequestInit & { duplex?: 'half' } = {
        method: parts.method,
        headers: this.#headers ?? headersOf(parts.headers()),
      };
      if (parts.body !== null) {
        init.body = parts.body();
        // A streamed request body must say so (Fetch standard; Node's undici throws without it).
        init.duplex = 'half';
      }
      const real = new NativeRequest(parts.url, init);
      // As environToRequest does: the signal is tsgi.signal (see there why not `init.signal`).
      Object.defineProperty(real, 'signal', { get: parts.signal, enumerable: true });
      this.#real = real;
      return real;
    }

    get method(): string {
      return this.#parts.method;
    }
    get url(): string {
      return this.#parts.url;
    }
    get headers(): Headers {
      // Kept once built: edits made before the platform Request exists go into it; after, they stay here.
      this.#headers ??= this.#real?.headers ?? headersOf(this.#parts.headers());
      return this.#headers;
    }
    get signal(): AbortSignal {
      return this.#parts.signal();
    }
    get body(): ReadableStream<Uint8Array> | null {
      if (this.#real === undefined && this.#parts.body === null) return null;
      return this.#native().body;
    }
    get bodyUsed(): boolean {
      return this.#real?.bodyUsed ?? false;
    }

    static {
      delegateMembers(LightRequest.prototype, NativeRequest.prototype, OWN_MEMBERS, (self: LightRequest) =>
        self.#native(),
      );
    }
  }
  // `instanceof Request` holds, for the platform's class and for the installed global.
  Object.setPrototypeOf(LightRequest.prototype, Base.prototype);
  return {
    create: (parts) => new LightRequest(parts) as unknown as Request,
    isLight: (value) => LightRequest.isLight(value),
    native: (request) => LightRequest.native(request as unknown as LightRequest),
  };
}
