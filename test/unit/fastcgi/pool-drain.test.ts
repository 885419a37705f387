// A pool stops workers while connections keep arriving (recycling, reload, shrinking: issue 10). A connection
// the stopping worker has already accepted, but whose request it has not read yet, must be served: closing it
// loses a request no one retries (found by --max-worker-memory under load: 'the connection closed before
// FCGI_END_REQUEST' on Node 24).
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../../src/fastcgi/client.js';
import { createFastCgiServer, type FastCgiServer } from '../../../src/fastcgi/server.js';

const PARAMS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/hello',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

describe('a listener stopping gracefully', () => {
  const servers: FastCgiServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close(0)));
  });

  it('serves the first request of a connection it accepted before the stop but had not read yet', async () => {
    const server = createFastCgiServer(
      (_environ, startResponse) => {
        startResponse('200 OK', [['Content-Type', 'text/plain']]);
        return [Buffer.from('served')];
      },
      { log: () => {} },
    );
    servers.push(server);
    await server.listen('127.0.0.1:0');
    const client = await connectFastCgi(server.addresses[0]!, { keepConn: false });
    // The listener has accepted the connection; its request is still on the way when the stop comes.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connectionCount).toBe(1);
    const stopped = server.close(5000);
    const response = await client.request({ params: PARAMS }).response();
    expect(response.body.toString()).toBe('served');
    expect(await stopped).toEqual({ drained: true, aborted: 0 });
    expect(server.connectionCount).toBe(0);
  });
});
