// The other direction: the conformance table's apps served by plain node:http through toNodeHandler and by a
// fetch server (@hono/node-server) through toFetchHandler, compared with the development server response by
// response over raw TCP.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve as serveFetch } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFetchHandler } from '../../src/fetch/index.js';
import { toNodeHandler } from '../../src/http/index.js';
import { serve, type DevServer } from '../../src/http/index.js';
import { mount } from '../../src/middleware/mount.js';
import type { Application } from '../../src/shared/types.js';
import { collectErrors } from '../../src/testing/index.js';
import * as apps from '../conformance/apps.js';
import { CASES } from '../conformance/cases.js';
import { requestBytes } from '../conformance/expect.js';
import { parseResponse, sendRaw, type RawResponse } from '../unit/http/raw-client.js';

// Every app of the table at /<name>, as the conformance suites mount them.
const table: Application = mount(
  Object.fromEntries(
    Object.entries(apps)
      .filter(([, app]) => typeof app === 'function' && app.length >= 1)
      .map(([name, app]) => [`/${name}`, app as Application]),
  ),
);

// A client that claims more body than it sends can only stop by closing its side: no server answers it.
const SKIPPED = new Set(['a CONTENT_LENGTH longer than the body makes reading fail with ERR_BODY_TRUNCATED']);

// Date differs by the second it was sent; nothing else may differ between two node:http servers.
const maskDate = (raw: Buffer): string => raw.toString('latin1').replace(/\r\nDate: [^\r]*/i, '\r\nDate: *');

// A fetch server re-frames the response (Headers lower-cases names; framing is its own): what must match is the
// status, every other header as a multiset, the body bytes and whether the response ended.
const FRAMING = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);
function semantic(response: RawResponse): unknown {
  return {
    status: response.status,
    headers: response.headers
      .map(([name, value]) => `${name.toLowerCase()}: ${value}`)
      .filter((line) => !FRAMING.has(line.slice(0, line.indexOf(':'))))
      .sort(),
    body: response.body.toString('latin1'),
    complete: response.complete,
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

describe('toNodeHandler and toFetchHandler round trips against the development server', () => {
  let dev: DevServer;
  let plain: Server;
  let fetchServer: Server;
  let plainPort: number;
  let fetchPort: number;

  beforeAll(async () => {
    dev = await serve(table, { port: 0, errors: collectErrors(), log: false });
    plain = createServer(toNodeHandler(table, { errors: collectErrors() }));
    plainPort = await listen(plain);
    fetchServer = serveFetch({
      fetch: toFetchHandler(table, { errors: collectErrors() }),
      port: 0,
    }) as Server;
    await new Promise<void>((resolve) =>
      fetchServer.listening ? resolve() : fetchServer.once('listening', resolve),
    );
    fetchPort = (fetchServer.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await dev.close();
    plain.closeAllConnections();
    fetchServer.closeAllConnections?.();
    await new Promise((resolve) => plain.close(resolve));
    await new Promise((resolve) => fetchServer.close(resolve));
  });

  for (const testCase of CASES) {
    if (SKIPPED.has(testCase.name)) continue;
    it(`${testCase.name}: node:http gives the same bytes, a fetch server the same response`, async () => {
      const bytes = requestBytes(testCase);
      const head = testCase.request.method === 'HEAD';
      const [reference, viaNode, viaFetch] = await Promise.all([
        sendRaw(dev.port, bytes),
        sendRaw(plainPort, bytes),
        sendRaw(fetchPort, bytes),
      ]);
      expect(maskDate(viaNode)).toBe(maskDate(reference));
      expect(semantic(parseResponse(viaFetch, head))).toEqual(semantic(parseResponse(reference, head)));
    });
  }
});
