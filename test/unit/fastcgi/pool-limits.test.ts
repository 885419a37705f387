// No slot a client can hold (issue 10), against `tsgi fastcgi` processes with their default flags: a flood of
// connections, half-open requests, a client dribbling bytes, and refusals logged as a summary.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connectFastCgi } from '../../../src/fastcgi/client.js';
import { startListener, type ListenerProcess } from '../../helpers/fastcgi-process.js';
import { beginRequest } from '../../helpers/fcgi-records.js';

const PARAMS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '/app',
  PATH_INFO: '/hello',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};

async function hello(address: string): Promise<string> {
  const client = await connectFastCgi(address, { keepConn: false });
  try {
    return (await client.request({ params: PARAMS }).response()).body.toString();
  } finally {
    client.destroy();
  }
}

function open(address: string, count: number, first?: Uint8Array): Promise<Socket[]> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, host, () => {
            if (first !== undefined) socket.write(first);
            resolve(socket);
          });
          socket.on('error', () => undefined);
          socket.once('error', reject);
        }),
    ),
  );
}

describe('no slot a client can hold (default flags)', () => {
  const listeners: ListenerProcess[] = [];
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(listeners.splice(0).map((l) => l.stop('SIGKILL')));
  });

  it('serves other clients at once while one peer holds 2,000 connections with half-open requests', async () => {
    const listener = await startListener(['--listen', '127.0.0.1:0']);
    listeners.push(listener);
    // Before: 1,024 idle connections refused everyone else for 60 s, and 1,024 half-open requests held every
    // request slot for 30 s. Now the connection cap is above the flood and a slot is taken at complete params.
    sockets.push(...(await open(listener.address, 1000)));
    sockets.push(...(await open(listener.address, 1000, beginRequest(1))));
    const started = Date.now();
    expect(await hello(listener.address)).toBe('Hello, world!');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(listener.log()).not.toMatch(/refused/);
  });

  it('closes a connection dribbling one byte every 2 s before BEGIN_REQUEST at the 10 s params deadline', async () => {
    const listener = await startListener(['--listen', '127.0.0.1:0']);
    listeners.push(listener);
    const [socket] = await open(listener.address, 1);
    sockets.push(socket!);
    const started = Date.now();
    const header = beginRequest(1);
    let sent = 0;
    const timer = setInterval(() => socket!.destroyed || socket!.write(header.subarray(sent, ++sent)), 2000);
    await new Promise((resolve) => socket!.once('close', resolve));
    clearInterval(timer);
    const lasted = Date.now() - started;
    expect(lasted).toBeGreaterThanOrEqual(9500);
    expect(lasted).toBeLessThan(13_000);
    expect(listener.log()).toMatch(/no complete request: .* not complete after 10000 ms/);
  }, 20_000);

  it('logs refused connections as one line, then a summary with the count, not one line each', async () => {
    const listener = await startListener([
      '--listen',
      '127.0.0.1:0',
      '--workers',
      '0',
      '--max-connections',
      '10',
    ]);
    listeners.push(listener);
    sockets.push(...(await open(listener.address, 10)));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const refused = await open(listener.address, 200);
    sockets.push(...refused);
    await listener.waitForLog(
      /refused in the last 10 s: 199 × a connection: 10 already open \(--max-connections\)/,
      15_000,
    );
    const lines = listener
      .log()
      .split('\n')
      .filter((line) => line.includes('refused'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/refused a connection: 10 already open/);
  }, 20_000);
});
