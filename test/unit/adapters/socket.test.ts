// BridgeSocket: the peer as net.Socket shows it, from the environ; writes go to its owner without Writable's queue.
import { describe, expect, it } from 'vitest';
import { BridgeSocket, type SocketOwner } from '../../../src/adapters/_node/socket.js';
import { createTestEnviron } from '../../../src/testing/index.js';

function socketOn(vars: Record<string, string>, owner: Partial<SocketOwner> = {}): BridgeSocket {
  return new BridgeSocket(createTestEnviron(vars), {
    socketWrite: () => true,
    socketDestroyed: () => undefined,
    ...owner,
  });
}

describe('BridgeSocket', () => {
  it('reports the peer as net.Socket does', () => {
    const socket = socketOn({
      REMOTE_ADDR: '::1',
      REMOTE_PORT: '1',
      SERVER_ADDR: '127.0.0.1',
      SERVER_PORT: '80',
    });
    expect([socket.remoteAddress, socket.remoteFamily, socket.remotePort, socket.encrypted]).toEqual([
      '::1',
      'IPv6',
      1,
      false,
    ]);
    expect(socket.address()).toEqual({ address: '127.0.0.1', family: 'IPv4', port: 80 });
    expect(socket.setNoDelay().setKeepAlive().ref().unref()).toBe(socket);
    expect(socketOn({ HTTPS: 'on' }).encrypted).toBe(true);
  });

  it('hands writes to its owner at once, with their callback, and reports its destruction once', () => {
    const writes: string[] = [];
    let destroyed = 0;
    const socket = socketOn(
      {},
      {
        socketWrite(chunk, encoding, callback) {
          writes.push(typeof chunk === 'string' ? `${chunk}/${encoding}` : Buffer.from(chunk).toString());
          callback?.();
          return false;
        },
        socketDestroyed: () => void (destroyed += 1),
      },
    );
    let called = 0;
    expect(socket.write('head', 'latin1', () => (called += 1))).toBe(false);
    expect(socket.write(Buffer.from('bytes'))).toBe(false);
    expect(writes).toEqual(['head/latin1', 'bytes']);
    expect(called).toBe(1);
    socket.destroy();
    socket.destroy();
    expect(destroyed).toBe(1);
    expect(socket.readyState).toBe('closed');
  });
});
