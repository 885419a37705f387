// Under CGI, fd 1 is the response (RFC 3875 §6): nothing but the response driver may write it (issue 11).
import type { Writable } from 'node:stream';
import { nodeBuiltin } from '../shared/node-builtins.js';

/** What the runner keeps after the app's stdout is pointed at stderr. */
export interface CapturedStdout {
  /** The process's real stdout stream (created on first call): only the response sink's EAGAIN fallback. */
  readonly realStdout: () => Writable;
  /** Resolves when everything written through `process.stderr` and the real stdout stream has left the process. */
  readonly flush: () => Promise<void>;
}

// Every console method that writes: the ones that write stdout, and the stderr ones too, so that all the app's
// console output goes through one stream in the order it was written.
const CONSOLE_METHODS = [
  'log',
  'info',
  'debug',
  'dir',
  'dirxml',
  'table',
  'group',
  'groupCollapsed',
  'groupEnd',
  'count',
  'countReset',
  'time',
  'timeEnd',
  'timeLog',
  'trace',
  'warn',
  'error',
  'assert',
] as const;

let captured: CapturedStdout | undefined;

// process.stdout and process.stderr are lazy getters (creating one costs ~3 ms): wrap them so that nothing is
// created before it is used, and the flush knows which streams exist.
function lazyStream(name: 'stdout' | 'stderr'): () => Writable {
  const descriptor = Object.getOwnPropertyDescriptor(process, name);
  let stream: Writable | undefined;
  return () => (stream ??= (descriptor?.get?.call(process) ?? descriptor?.value) as Writable);
}

function drained(stream: Writable): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  // Write callbacks run in order: this one runs once every earlier write has been handed to the kernel.
  return new Promise((resolve) => {
    stream.once('error', () => resolve());
    stream.write('', () => resolve());
  });
}

/**
 * From here on the application's `console.*` and `process.stdout` write to stderr (the web server's error log):
 * text logged at import or before the head would otherwise land ahead of `Status:` and corrupt the response.
 * Idempotent; returns the real stdout for the response sink.
 */
export function captureStdout(): CapturedStdout {
  if (captured !== undefined) return captured;
  const stdout = lazyStream('stdout');
  const stderr = lazyStream('stderr');
  let stdoutUsed = false;
  let stderrUsed = false;
  const realStdout = (): Writable => {
    stdoutUsed = true;
    return stdout();
  };
  const errorOut = (): Writable => {
    stderrUsed = true;
    return stderr();
  };
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: true, get: errorOut });
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: errorOut });

  // The global console may already hold process.stdout (it binds its streams on first use): give it a Console
  // over stderr instead, built when the app first logs.
  let redirected: Console | undefined;
  const target = (): Console => {
    const { Console: ConsoleClass } = nodeBuiltin('node:console');
    return (redirected ??= new ConsoleClass({ stdout: errorOut(), stderr: errorOut() }));
  };
  const methods = console as unknown as Record<string, unknown>;
  for (const name of CONSOLE_METHODS) {
    if (typeof methods[name] !== 'function') continue;
    methods[name] = (...args: unknown[]): unknown =>
      (target()[name] as (...rest: unknown[]) => unknown)(...args);
  }

  captured = {
    realStdout,
    async flush() {
      if (stderrUsed) await drained(stderr());
      if (stdoutUsed) await drained(stdout());
    },
  };
  return captured;
}
