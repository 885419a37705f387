// The CGI request body: exactly CONTENT_LENGTH bytes from file descriptor 0, never one byte more, and the
// spool that takes the unread rest off the pipe before the response starts (Apache deadlock, see spoolRest).
import { join } from 'node:path';
import { nodeBuiltin } from '../shared/node-builtins.js';

/** Largest single read; also the most the reader holds in memory per chunk. */
const READ_SIZE = 64 * 1024;
/** Spooled body bytes kept in memory; beyond this they go to an unlinked temp file (mode 0600). */
const SPOOL_MEMORY_LIMIT = 1024 * 1024;

function readOnce(fd: number, buffer: Uint8Array, position: number | null = null): Promise<number> {
  return new Promise((resolve, reject) => {
    nodeBuiltin('node:fs').read(fd, buffer, 0, buffer.length, position, (error, bytesRead) =>
      error ? reject(error) : resolve(bytesRead),
    );
  });
}

/** The request body of one CGI request. */
export interface CgiBody {
  /** What `createInput` pulls from: the spooled bytes first, then the descriptor. */
  readonly source: AsyncIterable<Uint8Array>;
  /**
   * Reads whatever the application has not read yet (up to CONTENT_LENGTH) into the spool. Apache's mod_cgi(d)
   * writes the whole request body to the script before it reads any output, so a script that answers before
   * reading its body, with more output than a pipe holds (64 KiB), would block on stdout while Apache blocks on
   * stdin: a deadlock. The runner calls this before the first response byte; the application still reads every
   * byte, in order, from `tsgi.input`.
   */
  spoolRest(): Promise<void>;
}

/**
 * The body of `limit` bytes on `fd`. Reads go to the descriptor directly (not through `process.stdin`, whose
 * stream reads ahead), so no byte past CONTENT_LENGTH is taken from the pipe (RFC 3875 §4.2). Ends early when
 * the descriptor reaches EOF; `createInput` turns that into ERR_BODY_TRUNCATED.
 */
export function createCgiBody(fd: number, limit: number, memoryLimit = SPOOL_MEMORY_LIMIT): CgiBody {
  let unread = limit;
  let ended = false;
  // Reads are serialized, so that the spool and the application's reads never interleave bytes.
  let queue: Promise<unknown> = Promise.resolve();
  const spool = new Spool(memoryLimit);

  async function readFromFd(): Promise<Uint8Array | undefined> {
    while (unread > 0 && !ended) {
      const buffer = Buffer.allocUnsafe(Math.min(unread, READ_SIZE));
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
      if (bytesRead === 0) ended = true;
      else {
        unread -= bytesRead;
        return buffer.subarray(0, bytesRead);
      }
    }
    return undefined;
  }

  function serialized<T>(task: () => Promise<T>): Promise<T> {
    const result = queue.then(task);
    queue = result.catch(() => undefined);
    return result;
  }

  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      while (true) {
        const chunk = await serialized(async () => (await spool.take()) ?? (await readFromFd()));
        if (chunk === undefined) return;
        yield chunk;
      }
    } finally {
      spool.close();
    }
  }

  return {
    source: source(),
    spoolRest: () =>
      serialized(async () => {
        for (let chunk = await readFromFd(); chunk !== undefined; chunk = await readFromFd())
          spool.put(chunk);
      }),
  };
}

/** Yields at most `limit` bytes from `fd`, reading only as the consumer pulls (no spool). */
export function readBody(fd: number, limit: number): AsyncIterable<Uint8Array> {
  return createCgiBody(fd, limit).source;
}

// FIFO of body bytes read ahead of the application: memory up to a limit, then an unlinked temp file.
class Spool {
  readonly #memoryLimit: number;
  #chunks: Uint8Array[] = [];
  #memoryBytes = 0;
  #file: { fd: number; written: number; read: number } | undefined;

  constructor(memoryLimit: number) {
    this.#memoryLimit = memoryLimit;
  }

  put(chunk: Uint8Array): void {
    if (this.#file === undefined && this.#memoryBytes + chunk.length <= this.#memoryLimit) {
      this.#chunks.push(chunk);
      this.#memoryBytes += chunk.length;
      return;
    }
    this.#file ??= { fd: openPrivateTempFile(), written: 0, read: 0 };
    const { writeSync } = nodeBuiltin('node:fs');
    let offset = 0;
    while (offset < chunk.length) {
      offset += writeSync(this.#file.fd, chunk, offset, chunk.length - offset, this.#file.written + offset);
    }
    this.#file.written += chunk.length;
  }

  async take(): Promise<Uint8Array | undefined> {
    const chunk = this.#chunks.shift();
    if (chunk !== undefined) {
      this.#memoryBytes -= chunk.length;
      return chunk;
    }
    const file = this.#file;
    if (file === undefined || file.read >= file.written) return undefined;
    const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, file.written - file.read));
    const bytesRead = await readOnce(file.fd, buffer, file.read);
    file.read += bytesRead;
    return buffer.subarray(0, bytesRead);
  }

  close(): void {
    if (this.#file !== undefined) nodeBuiltin('node:fs').closeSync(this.#file.fd);
    this.#file = undefined;
    this.#chunks = [];
  }
}

// A file only this process can reach: created in a fresh 0700 directory, then unlinked while open.
function openPrivateTempFile(): number {
  const fs = nodeBuiltin('node:fs');
  const dir = fs.mkdtempSync(join(nodeBuiltin('node:os').tmpdir(), 'tsgi-body-'));
  const file = join(dir, 'body');
  try {
    return fs.openSync(file, 'w+', 0o600);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
