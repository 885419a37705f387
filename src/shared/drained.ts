// "Wait for the stream to take more": one rule for every writer with back-pressure (sinks, FastCGI sockets, a
// CGI program's stdin), so none of them waits forever on a peer that went away.
import type { EventEmitter } from 'node:events';

/**
 * Resolves when `stream` emits `event` ('drain' by default: the write buffer emptied), 'close' or 'error',
 * whichever comes first: a closed or failed stream never drains, and its writer must not wait forever. The
 * listeners are removed when it resolves.
 */
export function drainedOrClosed(stream: EventEmitter, event = 'drain'): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off(event, done);
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on(event, done);
    stream.on('close', done);
    stream.on('error', done);
  });
}
