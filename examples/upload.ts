// Upload: streams a request body of any size to a file as it arrives, never holding it in memory.
//
//   tsgi fastcgi examples/upload.ts --listen 127.0.0.1:9000        # behind nginx (scripts/recipes/nginx-fastcgi-tcp.conf)
//   curl -T big.iso http://localhost/app/upload                    # answers {"bytes":…,"sha256":…,"file":…}
//
// `tsgi.input` is pulled as the app reads it, and the file stream's back-pressure decides when the next chunk is
// read, so memory stays flat however large the body. UPLOAD_DIR (default: the temp dir) is where files go,
// UPLOAD_MAX_BYTES (default 1 GiB) the largest body accepted; a bigger one is refused with 413 before a byte
// is read. nginx: set client_max_body_size to match (its default, 1m, answers 413 itself).
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import type { Application } from 'tsgi';

const encoder = new TextEncoder();

function answer(startResponse: Parameters<Application>[1], status: string, body: unknown): Uint8Array[] {
  const bytes = encoder.encode(`${JSON.stringify(body)}\n`);
  startResponse(status, [
    ['Content-Type', 'application/json'],
    ['Content-Length', String(bytes.length)],
  ]);
  return [bytes];
}

/** PUT or POST: writes the body to a new file in UPLOAD_DIR and answers its size, SHA-256 and path. */
const app: Application = async (environ, startResponse) => {
  if (environ.REQUEST_METHOD !== 'PUT' && environ.REQUEST_METHOD !== 'POST') {
    return answer(startResponse, '405 Method Not Allowed', { error: 'PUT or POST a body' });
  }
  const max = Number(process.env.UPLOAD_MAX_BYTES ?? 1024 ** 3);
  const declared = environ.CONTENT_LENGTH === undefined ? undefined : Number(environ.CONTENT_LENGTH);
  if (declared !== undefined && declared > max) {
    return answer(startResponse, '413 Content Too Large', { error: `over ${max} bytes` });
  }
  const file = join(process.env.UPLOAD_DIR ?? tmpdir(), `upload-${randomUUID()}`);
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of environ['tsgi.input']) {
      bytes += chunk.length;
      if (bytes > max) throw new RangeError(`over ${max} bytes`);
      hash.update(chunk);
      // Back-pressure: read the next chunk only once the disk has taken this one.
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } catch (error) {
    out.destroy();
    await rm(file, { force: true });
    if (error instanceof RangeError)
      return answer(startResponse, '413 Content Too Large', { error: error.message });
    throw error;
  }
  return answer(startResponse, '201 Created', { bytes, sha256: hash.digest('hex'), file });
};

export default app;
