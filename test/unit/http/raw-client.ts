// A byte-exact HTTP/1.1 client for the development server tests: sends raw bytes, parses the raw answer.
import { connect } from 'node:net';

/** A parsed HTTP/1.x response, headers in wire order with their wire case. */
export interface RawResponse {
  statusLine: string;
  status: number;
  headers: [string, string][];
  /** The body, de-chunked when Transfer-Encoding was chunked. */
  body: Buffer;
  /**
   * False when the server cut the body off: a chunked body without its zero-size last chunk, or fewer bytes
   * than Content-Length. A body delimited by the connection's end is always "complete" (a client cannot tell).
   */
  complete: boolean;
  raw: Buffer;
}

/** Sends `request` (a string is encoded as ISO-8859-1) and collects everything until the server closes. */
export function sendRaw(port: number, request: string | Buffer, host = '127.0.0.1'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host, () => socket.write(request));
    const parts: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => parts.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A reset after data arrived is a cut-off response, which is what some tests look for.
      if (error.code === 'ECONNRESET') resolve(Buffer.concat(parts));
      else reject(error);
    });
    socket.on('close', () => resolve(Buffer.concat(parts)));
  });
}

/** Parses one HTTP/1.x response from raw bytes. */
export function parseResponse(raw: Buffer, head = false): RawResponse {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(raw.toString('latin1'))}`);
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers = lines.map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const rest = raw.subarray(end + 4);
  const chunked = headers.some(([n, v]) => n.toLowerCase() === 'transfer-encoding' && v === 'chunked');
  const status = Number(statusLine.split(' ')[1]);
  const length = headers.find(([n]) => n.toLowerCase() === 'content-length')?.[1];
  if (head) return { statusLine, status, headers, body: Buffer.alloc(0), complete: true, raw };
  if (!chunked && length !== undefined) {
    // Bytes after Content-Length belong to whatever the server sent next (e.g. a 400 for a pipelined rest).
    const body = rest.subarray(0, Number(length));
    return { statusLine, status, headers, body, complete: body.length === Number(length), raw };
  }
  if (!chunked) return { statusLine, status, headers, body: rest, complete: true, raw };
  const parts: Buffer[] = [];
  let offset = 0;
  let complete = false;
  while (offset < rest.length) {
    const lineEnd = rest.indexOf('\r\n', offset);
    if (lineEnd === -1) break;
    const size = parseInt(rest.subarray(offset, lineEnd).toString('latin1'), 16);
    if (size === 0) {
      complete = true;
      break;
    }
    if (lineEnd + 2 + size + 2 > rest.length) break;
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return {
    statusLine,
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: Buffer.concat(parts),
    complete,
    raw,
  };
}

/** Sends a raw request and parses the answer. */
export async function rawRequest(port: number, request: string | Buffer, head = false): Promise<RawResponse> {
  return parseResponse(await sendRaw(port, request), head);
}

/** Every value of header `name` (case-insensitive), in wire order. */
export function headerValues(response: RawResponse, name: string): string[] {
  return response.headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
}
