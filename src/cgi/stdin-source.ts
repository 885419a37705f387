// The CGI request body: exactly CONTENT_LENGTH bytes pulled from file descriptor 0, never one byte more.
import { nodeBuiltin } from './node-builtins.js';

/** Largest single read; also the most the runner holds in memory for the body at once. */
const READ_SIZE = 64 * 1024;

function readOnce(fd: number, buffer: Uint8Array): Promise<number> {
  return new Promise((resolve, reject) => {
    nodeBuiltin('node:fs').read(fd, buffer, 0, buffer.length, null, (error, bytesRead) =>
      error ? reject(error) : resolve(bytesRead),
    );
  });
}

/**
 * Yields at most `limit` bytes from `fd`, reading only as the consumer pulls. Reads go to the descriptor
 * directly (not through `process.stdin`, whose stream reads ahead in 64 KiB chunks), so that no byte past
 * CONTENT_LENGTH is taken from the pipe (RFC 3875 §4.2: the script must not read more than CONTENT_LENGTH).
 * Ends early when the descriptor reaches EOF; `createInput` turns that into ERR_BODY_TRUNCATED.
 */
export async function* readBody(fd: number, limit: number): AsyncGenerator<Uint8Array> {
  let left = limit;
  while (left > 0) {
    const buffer = Buffer.allocUnsafe(Math.min(left, READ_SIZE));
    let bytesRead: number;
    try {
      bytesRead = await readOnce(fd, buffer);
    } catch (error) {
      // A non-blocking descriptor (the parent set O_NONBLOCK on a shared pipe) has nothing yet: wait, retry.
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      throw error;
    }
    if (bytesRead === 0) return;
    left -= bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}
