// A node:http client for the interop suite: streams the request body, hands the response over at its head.
import { request as httpRequest } from 'node:http';
import type { InteropRequest, InteropResponse } from './suite.js';

/** Sends `request` to `origin` (http://host:port) and resolves once the response head arrived. */
export function httpCall(origin: string, request: InteropRequest): Promise<InteropResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...request.headers };
    if (request.body instanceof Uint8Array) headers['content-length'] = String(request.body.byteLength);
    else if (request.length !== undefined) headers['content-length'] = String(request.length);
    const req = httpRequest(new URL(request.path, origin), { method: request.method, headers, agent: false });
    req.once('error', reject);
    req.once('response', (res) => {
      const pairs: [string, string][] = [];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        pairs.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!]);
      }
      resolve({
        status: res.statusCode ?? 0,
        headers: pairs,
        chunks: res,
        disconnect: () => req.destroy(),
      });
    });
    void (async () => {
      const body = request.body;
      if (body === undefined || body instanceof Uint8Array) {
        req.end(body);
        return;
      }
      for await (const chunk of body) {
        if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve));
      }
      req.end();
    })().catch((error: Error) => req.destroy(error));
  });
}
