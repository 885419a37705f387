// Access log building blocks shared by the development server's log and the accessLog middleware.

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

// Anything a client controls is escaped before it reaches a terminal or a log parser, as Apache's mod_log_config
// does since 2.0.46: no forged log lines, no terminal escape sequences.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE_LOG_CHARS = /[\x00-\x1f"\\\x7f-\uffff]/g;

/** Escapes `"`, `\`, control characters and non-ASCII as `\"`, `\\`, `\xHH`, `\uHHHH` (Apache's rule). */
export function escapeLogText(text: string): string {
  // Most request lines need no escape: one scan without allocating, before the replace that would copy.
  if (text.search(UNSAFE_LOG_CHARS) === -1) return text;
  return text.replace(UNSAFE_LOG_CHARS, (char) => {
    if (char === '"' || char === '\\') return '\\' + char;
    const code = char.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `10/Oct/2000:13:55:36 +0000`: the CLF timestamp, in UTC so that lines from any machine sort the same. */
export function formatLogTime(date: Date): string {
  const month = MONTHS[date.getUTCMonth()] as string;
  const day = `${pad2(date.getUTCDate())}/${month}/${date.getUTCFullYear()}`;
  return `${day}:${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} +0000`;
}
