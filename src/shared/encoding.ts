// The lossless byte/string rules of PEP 3333: request bytes travel as ISO-8859-1 strings, one char per byte.

/**
 * Decodes bytes as ISO-8859-1: every byte 0x00–0xFF becomes the char with the same code, so nothing is lost
 * and `latin1ToBytes` gives the exact bytes back (PEP 3333 "Unicode Issues"; RFC 3875 §7.2).
 */
export function bytesToLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

/**
 * Encodes an ISO-8859-1 string back into its bytes. The string must hold only chars up to U+00FF (what
 * `bytesToLatin1` produces and what header validation enforces); a wider char would keep only its low byte.
 */
export function latin1ToBytes(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}

/** True when every char of `text` is at most U+00FF, so `latin1ToBytes` is exact. */
export function isLatin1(text: string): boolean {
  return !/[\u0100-\uffff]/.test(text);
}

/**
 * The UTF-8 reading of a latin1 environ value: `PATH_INFO` `"/caf\xC3\xA9"` becomes `"/café"`. Bytes that are
 * not valid UTF-8 become U+FFFD; the environ value itself is untouched, so nothing is lost.
 */
export function utf8View(text: string): string {
  return Buffer.from(text, 'latin1').toString('utf8');
}

// RFC 3986 §2.3 unreserved characters plus "/", as Python's urllib.parse.quote(safe='/') that PEP 3333's URL
// reconstruction uses.
const PATH_SAFE = /^[A-Za-z0-9_.~/-]*$/;

/**
 * Percent-encodes a latin1 path (one char per byte) for use in a URL: unreserved bytes and "/" stay, every
 * other byte becomes `%XX` (PEP 3333 "URL Reconstruction" uses `quote(SCRIPT_NAME)` and `quote(PATH_INFO)`).
 * Throws a TypeError for a char above U+00FF: such a string did not come from bytes.
 */
export function quotePath(path: string): string {
  if (PATH_SAFE.test(path)) return path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const code = path.charCodeAt(i);
    if (code > 0xff)
      throw new TypeError(`tsgi: quotePath expects a latin1 string, got U+${code.toString(16)}`);
    const char = path[i] as string;
    out += PATH_SAFE.test(char) ? char : `%${code.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Reverses percent-encoding byte by byte into a latin1 string (no UTF-8 decoding, so no byte is lost). */
export function unquoteToLatin1(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
