// A HeadersInit as flat [name, value, …] pairs, checked the way `new Headers(init)` checks it, without building one.
import { isToken } from '../../shared/headers.js';

/** What a value may not hold once its leading and trailing HTTP whitespace is gone (Fetch "header value"), or a
 * code point a ByteString cannot carry (WebIDL ByteString conversion throws for it). */
const BAD_VALUE = /[\0\r\n]|[^\0-\xff]/;
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/** The pairs of a HeadersInit, names lower-cased, and whether a name (other than set-cookie) repeats. */
export interface HeaderPairs {
  /** `[name, value, name, value, …]`. */
  readonly flat: string[];
  /** A name repeats: `Headers` would join its values with ", ", so the pairs must go through one. */
  readonly repeats: boolean;
}

function push(flat: string[], name: unknown, value: unknown): boolean {
  if (typeof name !== 'string' || typeof value !== 'string' || !isToken(name)) return false;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  // HTTP whitespace is \t \n \r and space (all ≤ 0x20); most values have none at either end.
  const normalized = first <= 0x20 || last <= 0x20 ? value.replace(EDGE_WHITESPACE, '') : value;
  if (BAD_VALUE.test(normalized)) return false;
  flat.push(name.toLowerCase(), normalized);
  return true;
}

function hasRepeats(flat: readonly string[]): boolean {
  for (let i = 2; i < flat.length; i += 2) {
    const name = flat[i]!;
    if (name === 'set-cookie') continue;
    for (let j = 0; j < i; j += 2) if (flat[j] === name) return true;
  }
  return false;
}

/**
 * The pairs of `init` (undefined, a `Headers`, an array of `[name, value]`, or a record of strings), or undefined
 * when `init` is of another shape or holds a name or value `new Headers(init)` would refuse or convert (a
 * number, a non-Latin-1 value): the caller then lets the platform build the object, which throws its own error.
 */
export function headerPairs(init: unknown): HeaderPairs | undefined {
  const flat: string[] = [];
  if (init === undefined || init === null) return init === null ? undefined : { flat, repeats: false };
  if (init instanceof Headers) {
    // Already checked and joined by the Headers object; set-cookie comes back one value per cookie.
    init.forEach((value, name) => {
      if (name !== 'set-cookie') flat.push(name, value);
    });
    for (const cookie of init.getSetCookie()) flat.push('set-cookie', cookie);
    return { flat, repeats: false };
  }
  if (typeof init !== 'object') return undefined;
  if (Array.isArray(init)) {
    for (const pair of init as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || !push(flat, pair[0], pair[1])) return undefined;
    }
    return { flat, repeats: hasRepeats(flat) };
  }
  // A record: its own enumerable string keys (WebIDL record<ByteString, ByteString>); an iterable object
  // of another kind (a Map) is a sequence to WebIDL, which the platform handles.
  if (Symbol.iterator in init) return undefined;
  const record = init as Record<string, unknown>;
  for (const name in record) {
    if (!Object.hasOwn(record, name)) continue;
    if (!push(flat, name, record[name])) return undefined;
  }
  return { flat, repeats: hasRepeats(flat) };
}

/** The pairs as a `Headers` object. */
export function headersOf(flat: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i < flat.length; i += 2) headers.append(flat[i]!, flat[i + 1]!);
  return headers;
}
