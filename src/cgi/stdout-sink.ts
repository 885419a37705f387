// The CGI response side (RFC 3875 §6): a ResponseSink that writes the Status/header block and body to stdout.
import type { Writable } from 'node:stream';
import { formatCgiHead } from '../shared/headers.js';
import type { Header, ResponseSink } from '../shared/types.js';

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

  function settle(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        out.off('drain', done);
        out.off('error', done);
        out.off('close', done);
        resolve();
      };
      out.on('drain', done);
      out.on('error', done);
      out.on('close', done);
    });
  }

  function send(bytes: Uint8Array): Promise<void> | undefined {
    if (broken || bytes.length === 0) return undefined;
    return out.write(bytes) ? undefined : settle();
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
