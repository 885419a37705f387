// BridgeSocket: the head Node writes is dropped wherever its end falls; only body bytes reach the receiver.
import { describe, expect, it } from 'vitest';
import { BridgeSocket } from '../../../src/adapters/_node/socket.js';

function socketCollecting(received: string[]): BridgeSocket {
  return new BridgeSocket(
    { remoteAddress: '::1', remotePort: 1, localAddress: '127.0.0.1', localPort: 80, encrypted: false },
    (chunk, done) => {
      received.push(Buffer.from(chunk).toString('latin1'));
      done();
    },
  );
}

const write = (socket: BridgeSocket, text: string): Promise<void> =>
  new Promise((resolve, reject) =>
    socket.write(Buffer.from(text, 'latin1'), (error) => (error ? reject(error) : resolve())),
  );

describe('BridgeSocket', () => {
  it('drops the head even when its empty line is split across writes, and passes the body on', async () => {
    const received: string[] = [];
    const socket = socketCollecting(received);
    await write(socket, 'HTTP/1.1 200 OK\r\nX-A: 1\r\n\r');
    await write(socket, '\nbody \r\n\r\n');
    await write(socket, 'more');
    expect(received.join('')).toBe('body \r\n\r\nmore');
  });

  it('reports the peer as net.Socket does', () => {
    const socket = socketCollecting([]);
    expect([socket.remoteAddress, socket.remoteFamily, socket.remotePort, socket.encrypted]).toEqual([
      '::1',
      'IPv6',
      1,
      false,
    ]);
    expect(socket.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: 80 });
    expect(socket.setNoDelay().setKeepAlive().ref().unref()).toBe(socket);
  });
});
