// A Response that keeps the body and init it was made with, so the fetch bridge writes a string or bytes body
// without the platform Response and its ReadableStream (issue 13).
//
// Why: Hono builds a Response per request (`c.json`, `c.text`); on Node 20 `new Response(string, init)` costs
// 26–35 µs and reading it back through `response.body` another ~30 µs (a ReadableStream, a reader, two reads),
// more than the rest of a Hono request. Measured in one process (bench/README.md, section bench-frameworks).
// Every member that needs more than status, statusText and headers builds the platform Response once
// (`#real`) and answers from it, so a middleware that reads `body`, `clone()`s or `text()`s sees a real one.
import { headerPairs, headersOf, type HeaderPairs } from './header-pairs.js';
import { delegateMembers } from './delegate-members.js';

/** What the bridge writes without a platform Response: status, header pairs and the body's bytes. */
export interface ResponseParts {
  readonly status: number;
  readonly statusText: string;
  readonly headers: HeaderPairs;
  /** The body's bytes, or null for no body. */
  readonly body: Uint8Array | null;
}

/** The class installed as `globalThis.Response`, and the bridge's door into its instances. */
export interface LightResponseKit {
  readonly Response: typeof Response;
  /** The parts of a lightweight Response nothing has turned into a platform one yet; undefined otherwise. */
  partsOf(response: Response): ResponseParts | undefined;
}

// Statuses whose response may carry no body (Fetch "null body status"); the platform throws for a body with them.
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
// Fetch "reason-phrase" token (RFC 9110 §15.1), as a ByteString.
const REASON_PHRASE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TEXT_CONTENT_TYPE = 'text/plain;charset=UTF-8';

// Members the class answers itself; every other member of Response.prototype goes to the platform object.
const OWN_MEMBERS = new Set(['constructor', 'status', 'statusText', 'ok', 'headers', 'bodyUsed']);

/** The body's bytes when it is one of the kinds kept as they are; `false` for any other kind. */
function bodyBytes(body: unknown): Uint8Array | null | false {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  // Fetch copies a BufferSource body when the Response is made (extract a body, step 6.3): later writes to the
  // caller's buffer must not change the response.
  if (body instanceof ArrayBuffer) return new Uint8Array(body.slice(0));
  if (ArrayBuffer.isView(body)) {
    return new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength));
  }
  return false;
}

interface Init {
  status: number;
  statusText: string;
  pairs: HeaderPairs;
}

/** The init as the platform reads it (a dictionary: three property reads), or undefined for one to leave to it. */
function readInit(init: unknown, body: Uint8Array | null, isString: boolean): Init | undefined {
  let status: unknown = 200;
  let statusText: unknown = '';
  let headers: unknown;
  if (init !== undefined && init !== null) {
    if (typeof init !== 'object') return undefined;
    const dict = init as { status?: unknown; statusText?: unknown; headers?: unknown };
    status = dict.status ?? 200;
    statusText = dict.statusText ?? '';
    headers = dict.headers;
  }
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599)
    return undefined;
  if (typeof statusText !== 'string' || !REASON_PHRASE.test(statusText)) return undefined;
  if (body !== null && NULL_BODY_STATUSES.has(status)) return undefined;
  const pairs = headerPairs(headers);
  if (pairs === undefined) return undefined;
  // A string body brings its Content-Type when the init gave none (Fetch "extract a body").
  if (isString && !hasName(pairs.flat, 'content-type')) pairs.flat.push('content-type', TEXT_CONTENT_TYPE);
  return { status, statusText, pairs };
}

function hasName(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true;
  return false;
}

/** Builds the lightweight Response class over the platform's `NativeResponse`. */
export function makeLightResponse(NativeResponse: typeof Response): LightResponseKit {
  const nativeHasInstance = (target: unknown, value: unknown): boolean =>
    Function.prototype[Symbol.hasInstance].call(target, value);

  class LightResponse {
    // The platform Response, once something needed it; until then the fields below are the whole state.
    #real: Response | undefined;
    #init: Init | undefined;
    #bytes: Uint8Array | null = null;
    #headers: Headers | undefined;

    // A Response made by the platform (Response.json(), fetch()) is an instance too.
    static [Symbol.hasInstance](value: unknown): boolean {
      return nativeHasInstance(this === LightResponse ? NativeResponse : this, value);
    }

    constructor(body?: unknown, init?: unknown) {
      const bytes = bodyBytes(body);
      const parsed = bytes === false ? undefined : readInit(init, bytes, typeof body === 'string');
      if (parsed === undefined || bytes === false) {
        // Another kind of body (a stream, a Blob, FormData…) or an init to convert or refuse: the platform
        // builds it now, and throws now if it must, as `new Response()` does.
        this.#real = new NativeResponse(body as BodyInit | null, init as ResponseInit | undefined);
        return;
      }
      this.#bytes = bytes;
      this.#init = parsed;
    }

    static partsOf(response: Response): ResponseParts | undefined {
      // Not an instance of a subclass either, whose own getters (status, headers…) must be the ones read.
      if (Object.getPrototypeOf(response) !== LightResponse.prototype) return undefined;
      const self = response as unknown as LightResponse;
      if (self.#real !== undefined || self.#init === undefined) return undefined;
      const init = self.#init;
      // Headers read (and maybe edited) through `response.headers` are the ones that count from then on.
      const headers = self.#headers === undefined ? init.pairs : (headerPairs(self.#headers) ?? init.pairs);
      return { status: init.status, statusText: init.statusText, headers, body: self.#bytes };
    }

    /** The platform Response, built once from the kept body and init (and the headers as edited). */
    #native(): Response {
      if (this.#real !== undefined) return this.#real;
      const init = this.#init!;
      this.#real = new NativeResponse(this.#bytes as BodyInit | null, {
        status: init.status,
        statusText: init.statusText,
        headers: this.#headers ?? headersOf(init.pairs.flat),
      });
      // The headers object already handed out stays the one `headers` returns (same identity); edits made to
      // it after this point no longer reach the platform object, whose own copy is what its body methods use.
      return this.#real;
    }

    get status(): number {
      return this.#real?.status ?? this.#init!.status;
    }
    get statusText(): string {
      return this.#real?.statusText ?? this.#init!.statusText;
    }
    get ok(): boolean {
      const status = this.status;
      return status >= 200 && status <= 299;
    }
    get headers(): Headers {
      if (this.#headers !== undefined) return this.#headers;
      this.#headers = this.#real?.headers ?? headersOf(this.#init!.pairs.flat);
      return this.#headers;
    }
    get bodyUsed(): boolean {
      return this.#real?.bodyUsed ?? false;
    }

    static {
      // Every other member (body, clone, text, json, arrayBuffer, blob, formData, bytes, type, url, redirected,
      // and those a later Node adds) answers from the platform object, so none of them meets a missing brand.
      delegateMembers(LightResponse.prototype, NativeResponse.prototype, OWN_MEMBERS, (self: LightResponse) =>
        self.#native(),
      );
    }
  }
  // `instanceof Response` (the platform's) holds for its instances, and the statics (json, redirect, error) are
  // the platform's own, which return platform Responses.
  Object.setPrototypeOf(LightResponse.prototype, NativeResponse.prototype);
  Object.setPrototypeOf(LightResponse, NativeResponse);
  Object.defineProperty(LightResponse, 'name', { value: 'Response' });
  return {
    Response: LightResponse as unknown as typeof Response,
    partsOf: (response) => LightResponse.partsOf(response),
  };
}
