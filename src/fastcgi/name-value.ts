// FastCGI name-value pairs (spec §3.4): 1- and 4-byte lengths, and the FCGI_PARAMS stream decoder.
import { ProtocolError } from '../shared/errors.js';

// https://fastcgi-archives.github.io/FastCGI_Specification.html#S3.4 (Name-Value Pairs)

/** A length up to this fits the 1-byte form (high bit clear); longer ones take 4 bytes with the high bit set. */
export const FCGI_SHORT_LENGTH_MAX = 127;

/** A name or a value: a latin1 "byte string" (one char per byte) or raw bytes. */
export type PairPart = string | Uint8Array;

function partLength(part: PairPart): number {
  if (typeof part !== 'string') return part.length;
  // A char above U+00FF has no single byte: refuse it rather than silently mangle it (encode UTF-8 first).
  for (let i = 0; i < part.length; i++) {
    if (part.charCodeAt(i) > 0xff) {
      throw new RangeError(
        `tsgi fastcgi: name-value pair part is not a latin1 byte string: ${JSON.stringify(part)}`,
      );
    }
  }
  return part.length;
}

function writeLength(target: Buffer, at: number, length: number): number {
  if (length <= FCGI_SHORT_LENGTH_MAX) {
    target[at] = length;
    return at + 1;
  }
  target.writeUInt32BE((length | 0x80000000) >>> 0, at);
  return at + 4;
}

function writePart(target: Buffer, at: number, part: PairPart): number {
  if (typeof part === 'string') return at + target.write(part, at, 'latin1');
  target.set(part, at);
  return at + part.length;
}

/** Encodes pairs as one FCGI_PARAMS / FCGI_GET_VALUES content (not split into records). */
export function encodePairs(pairs: Iterable<readonly [PairPart, PairPart]>): Buffer {
  const list: (readonly [PairPart, PairPart])[] = [];
  let size = 0;
  for (const pair of pairs) {
    const nameLength = partLength(pair[0]);
    const valueLength = partLength(pair[1]);
    if (nameLength > 0x7fffffff || valueLength > 0x7fffffff)
      throw new RangeError('tsgi fastcgi: pair over 2^31-1 bytes');
    size += (nameLength > FCGI_SHORT_LENGTH_MAX ? 4 : 1) + (valueLength > FCGI_SHORT_LENGTH_MAX ? 4 : 1);
    size += nameLength + valueLength;
    list.push(pair);
  }
  const target = Buffer.allocUnsafe(size);
  let at = 0;
  for (const [name, value] of list) {
    at = writeLength(target, at, typeof name === 'string' ? name.length : name.length);
    at = writeLength(target, at, typeof value === 'string' ? value.length : value.length);
    at = writePart(target, at, name);
    at = writePart(target, at, value);
  }
  return target;
}

// Buffer's own latin1 decoder without toString()'s argument handling: ~40 strings per request make it count.
// Present on every Node version tsgi supports; toString('latin1') is the documented equivalent.
const latin1Slice: (this: Buffer, start: number, end: number) => string =
  (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string })
    .latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };

// Interning of short strings: the names (and many values: "", "GET", "HTTP/1.1", the server's address) repeat on
// every request, so one string per distinct byte sequence is kept and reused instead of decoded again. Bounded:
// once INTERN_MAX_ENTRIES strings are kept, new ones are decoded as usual.
const INTERN_MAX_LENGTH = 32;
const INTERN_MAX_ENTRIES = 4096;
const interned = new Map<number, string>();

function latin1At(buffer: Buffer, start: number, end: number): string {
  const length = end - start;
  if (length === 0) return '';
  if (length > INTERN_MAX_LENGTH) return latin1Slice.call(buffer, start, end);
  // FNV-1a over the bytes, with the length folded in; a hit is confirmed byte by byte (collisions are decoded).
  let hash = 0x811c9dc5 ^ length;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ buffer[i]!, 0x01000193);
  const known = interned.get(hash);
  if (known !== undefined && sameLatin1(known, buffer, start, length)) return known;
  const text = latin1Slice.call(buffer, start, end);
  if (known === undefined && interned.size < INTERN_MAX_ENTRIES) interned.set(hash, text);
  return text;
}

function malformed(detail: string): ProtocolError {
  return new ProtocolError('ERR_FCGI_PAIRS', `tsgi fastcgi: malformed name-value pairs: ${detail}`);
}

/**
 * Decodes a complete name-value byte stream, calling `visit` with each name and value as latin1 strings (one char
 * per byte, PEP 3333's "bytes as latin1"; Buffer's latin1 decoding is the same mapping as `bytesToLatin1`). A
 * length that runs past the end is a ProtocolError.
 */
export function decodePairs(bytes: Uint8Array, visit: (name: string, value: string) => void): void {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  scanPairs(buffer, visit, undefined);
}

// The strings of the last FCGI_PARAMS stream, by position. A web server sends the same names in the same order
// on every request, and most values again (the server's address, the document root, "GET"), so the string at
// the same position is compared byte by byte first: one pass, where interning hashes and then compares (issue
// 13: decoding was the largest JS cost of a hello request). Bounded: the first RECALL_PAIRS pairs, short values.
const RECALL_PAIRS = 64;
const RECALL_MAX_LENGTH = 256;
interface Recall {
  readonly names: string[];
  readonly values: string[];
}
const recalled: Recall = { names: [], values: [] };

function scanPairs(
  buffer: Buffer,
  visit: (name: string, value: string) => void,
  recall: Recall | undefined,
): void {
  const end = buffer.length;
  let at = 0;
  let index = 0;
  while (at < end) {
    let nameLength = buffer[at]!;
    if (nameLength > FCGI_SHORT_LENGTH_MAX) {
      if (at + 4 > end) throw malformed('name length cut short');
      nameLength = buffer.readUInt32BE(at) & 0x7fffffff;
      at += 4;
    } else at += 1;
    if (at >= end) throw malformed('value length missing');
    let valueLength = buffer[at]!;
    if (valueLength > FCGI_SHORT_LENGTH_MAX) {
      if (at + 4 > end) throw malformed('value length cut short');
      valueLength = buffer.readUInt32BE(at) & 0x7fffffff;
      at += 4;
    } else at += 1;
    if (nameLength > end - at || valueLength > end - at - nameLength) {
      throw malformed(`pair of ${nameLength}+${valueLength} bytes runs past the end of the stream`);
    }
    const recallHere = recall !== undefined && index < RECALL_PAIRS;
    const name = recallHere
      ? recallAt(recall.names, index, buffer, at, nameLength)
      : latin1At(buffer, at, at + nameLength);
    at += nameLength;
    const value =
      recallHere && valueLength <= RECALL_MAX_LENGTH
        ? recallAt(recall.values, index, buffer, at, valueLength)
        : latin1At(buffer, at, at + valueLength);
    at += valueLength;
    index++;
    visit(name, value);
  }
}

// Whether `known` is the latin1 decoding of the `length` bytes at `start` (a string compare without decoding).
function sameLatin1(known: string, buffer: Buffer, start: number, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) if (known.charCodeAt(i) !== buffer[start + i]) return false;
  return true;
}

// The string remembered at `index` when its bytes are the ones at `start`, else the decoded one (remembered next).
function recallAt(list: string[], index: number, buffer: Buffer, start: number, length: number): string {
  const known = list[index];
  if (known !== undefined && sameLatin1(known, buffer, start, length)) return known;
  const text = latin1At(buffer, start, start + length);
  list[index] = text;
  return text;
}

/**
 * The FCGI_PARAMS stream of one request. Records are collected until the empty record, then decoded as one
 * stream, so a pair split across two records decodes (spec §3.3: a stream's value does not depend on how it is
 * split; flup, fastcgi-stream and PHP's fastcgi.c decode each record alone and get this wrong).
 */
export class ParamsDecoder {
  private readonly chunks: Uint8Array[] = [];
  private readonly maxBytes: number;
  private size = 0;

  /** `maxBytes` is the `maxParamsBytes` limit: a longer stream is a ProtocolError (the connection closes). */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes received so far. */
  get bytes(): number {
    return this.size;
  }

  /** Adds one non-empty record's content. */
  push(content: Uint8Array): void {
    this.size += content.length;
    if (this.size > this.maxBytes) {
      throw new ProtocolError(
        'ERR_FCGI_PARAMS_TOO_LARGE',
        `tsgi fastcgi: FCGI_PARAMS stream over the ${this.maxBytes}-byte limit (maxParamsBytes)`,
      );
    }
    this.chunks.push(content);
  }

  /** Decodes the stream (at its empty record) into an object of own properties; a repeated name keeps its last value. */
  finish(): Record<string, string> {
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.chunks.length = 0;
    const names: string[] = [];
    const values: string[] = [];
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    scanPairs(
      buffer,
      (name, value) => {
        names.push(name);
        values.push(value);
      },
      recalled,
    );
    return varsObject(names, values);
  }
}

// The last set of names seen, as an object to clone. A web server sends the same names in the same order on
// every request, so the variables are a copy of this object (one shape, no per-key hidden-class transition)
// with the values stored in place. Names are interned, so comparing them is comparing references.
let shape: { names: string[]; object: Record<string, string> } | undefined;

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// A plain object, not Object.create(null): a null-prototype object with 20+ keys is a slow dictionary. Readers
// use own CGI names only; "__proto__" is the one name an assignment would not store, so it is defined instead.
function varsObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  if (shape !== undefined && sameNames(shape.names, names)) {
    const vars = { ...shape.object };
    for (let i = 0; i < names.length; i++) vars[names[i]!] = values[i]!;
    return vars;
  }
  const vars: Record<string, string> = {};
  let plain = true;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === '__proto__' || Object.hasOwn(vars, name)) plain = false;
    if (name === '__proto__') {
      Object.defineProperty(vars, name, {
        value: values[i],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else vars[name] = values[i]!;
  }
  // Only a list without repeats or "__proto__" becomes the shape: then key order and names map one to one.
  if (plain) shape = { names: names.slice(), object: { ...vars } };
  return vars;
}
