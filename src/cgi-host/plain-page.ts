// The short text pages a script host answers with when it has no script to run (404, 403, 500, 502, 504).
import type { Body, StartResponse } from '../shared/types.js';

const PHRASES: Record<number, string> = {
  403: 'Forbidden',
  404: 'Not Found',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
};

/** `NNN Phrase` as a text/plain body, with nothing about the file system in it. */
export function plainPage(startResponse: StartResponse, code: number): Body {
  const phrase = PHRASES[code] ?? 'Error';
  const body = Buffer.from(`${code} ${phrase}\n`, 'latin1');
  startResponse(`${code} ${phrase}`, [
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Length', String(body.length)],
  ]);
  return [body];
}

/** Where a host's own log lines go: a function given by the caller, else the request's `tsgi.errors`. */
export type HostLog = (line: string) => void;
