// The CGI response side (RFC 3875 §6): ResponseSinks that write the Status/header block and body to stdout.
import type { Writable } from 'node:stream';
import { formatCgiHead } from '../shared/headers.js';
import type { Header, ResponseSink } from '../shared/types.js';
import { nodeBuiltin } from '../shared/node-builtins.js';
import { drainedOrClosed } from '../shared/drained.js';

const EMPTY = new Uint8Array(0);

/** A sink over `out` plus what the runner needs to know afterwards. */
export interface StdoutSink extends ResponseSink {
  /** True once `out` failed (EPIPE: the web server closed the pipe because the client went away). */
  readonly broken: boolean;
}

/**
 * Writes to `out` with back-pressure: a write that the stream cannot take now resolves on 'drain', and `end`
 * resolves only when every byte has left the process, so the caller may exit afterwards without losing output.
 * A write error (EPIPE) calls `onBroken` once and turns every later write into a no-op.
 */
export function createStdoutSink(out: Writable, onBroken: (error: Error) => void): StdoutSink {
  let broken = false;
  out.on('error', (error: Error) => {
    if (broken) return;
    broken = true;
    onBroken(error);
  });

  function send(bytes: Uint8Array): Promise<void> | undefined {
    if (broken || bytes.length === 0) return undefined;
    return out.write(bytes) ? undefined : drainedOrClosed(out);
  }

  return {
    get broken() {
      return broken;
    },
    sendHead(status: string, headers: readonly Header[]) {
      return send(formatCgiHead(status, headers));
    },
    write(chunk: Uint8Array) {
      return send(chunk);
    },
    end() {
      if (broken) return undefined;
      // An empty write's callback runs after every earlier write has been handed to the kernel.
      return new Promise<void>((resolve) => out.write(EMPTY, () => resolve()));
    },
  };
}

/**
 * Writes all of `bytes` to `fd` with blocking writes, resuming after partial writes. Throws the write error
 * (EPIPE, EAGAIN on a non-blocking descriptor) with `written` set to the bytes that did go out.
 */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  const { writeSync } = nodeBuiltin('node:fs');
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (error) {
    Object.assign(error as Error, { written: offset });
    throw error;
  }
}

/**
 * A sink over a file descriptor (fd 1 for CGI) with blocking writes: back-pressure is the write itself, which
 * returns once the web server has taken the bytes, and nothing is ever buffered in the process. This is what
 * wsgiref's CGIHandler does, and it spares a CGI request the set-up of `process.stdout` (a pipe stream costs
 * ~3 ms on Node 24, ~7 ms on Node 20 at start-up). A descriptor left non-blocking by the web server (EAGAIN)
 * switches the rest of the response to the stream sink over `fallback()`.
 */
export function createFdSink(
  fd: number,
  onBroken: (error: Error) => void,
  fallback: () => Writable,
): StdoutSink {
  let broken = false;
  let stream: StdoutSink | undefined;
  const fail = (error: Error): void => {
    if (broken) return;
    broken = true;
    onBroken(error);
  };

  function send(bytes: Uint8Array): Promise<void> | void {
    if (stream !== undefined) return stream.write(bytes);
    if (broken || bytes.length === 0) return undefined;
    try {
      writeAllSync(fd, bytes);
    } catch (error) {
      const { code, written } = error as NodeJS.ErrnoException & { written: number };
      if (code !== 'EAGAIN') return fail(error as Error);
      stream = createStdoutSink(fallback(), fail);
      return stream.write(bytes.subarray(written));
    }
    return undefined;
  }

  return {
    get broken() {
      return broken;
    },
    sendHead(status: string, headers: readonly Header[]) {
      return send(formatCgiHead(status, headers));
    },
    write: send,
    end(ok: boolean) {
      return stream?.end(ok);
    },
  };
}
