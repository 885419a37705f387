// The CGI request variables as bytes: RFC 3875 meta-variables read losslessly from the process environment.
import { bytesToLatin1 } from '../shared/encoding.js';
import { nodeBuiltin } from '../shared/node-builtins.js';

const NUL = 0x00;
const EQUALS = 0x3d;

/**
 * Splits the raw bytes of `/proc/self/environ` (`NAME=value\0` entries) into ISO-8859-1 strings, one char per
 * byte. An entry without `=` is skipped; the first `=` ends the name (values may contain `=`).
 */
export function parseEnvironBlock(block: Uint8Array): Record<string, string> {
  const vars: Record<string, string> = {};
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf(NUL, start);
    if (end === -1) end = block.length;
    const equals = block.indexOf(EQUALS, start);
    if (equals > start && equals < end) {
      vars[bytesToLatin1(block.subarray(start, equals))] = bytesToLatin1(block.subarray(equals + 1, end));
    }
    start = end + 1;
  }
  return vars;
}

/**
 * Re-encodes `process.env` (which Node decoded as UTF-8) as ISO-8859-1 strings of its UTF-8 bytes, so that the
 * environ has one representation everywhere; a byte that was not valid UTF-8 is already lost here (U+FFFD).
 */
export function environFromProcessEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    vars[toLatin1(name)] = toLatin1(value);
  }
  return vars;
}

function toLatin1(text: string): string {
  // Pure ASCII (the common case) is already its own ISO-8859-1 form.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text : bytesToLatin1(Buffer.from(text, 'utf8'));
}

/**
 * The request variables of this CGI process. On Linux the environment block is read as raw bytes from
 * `/proc/self/environ`, because `process.env` decodes values as UTF-8 and a request path with a non-UTF-8 byte
 * (`/caf%E9` decoded by the server into PATH_INFO) would reach the application as U+FFFD (PEP 3333 keeps every
 * byte; so does tsgi). Elsewhere, or when /proc is not mounted, `process.env` is the fallback.
 */
export function readRequestVariables(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (process.platform === 'linux') {
    try {
      return parseEnvironBlock(nodeBuiltin('node:fs').readFileSync('/proc/self/environ'));
    } catch {
      // /proc not mounted (chroot, container without procfs): fall back to the decoded environment
    }
  }
  return environFromProcessEnv(env);
}
