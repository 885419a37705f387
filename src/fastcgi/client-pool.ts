// Keep-conn connections to one FastCGI responder, reused one request at a time (as nginx's `keepalive` upstream
// does: PHP-FPM and libfcgi serve one request per connection, FCGI_MPXS_CONNS=0), capped, idle ones closed.
import type { Socket } from 'node:net';
import { connectFastCgi, type FastCgiAddress, type FastCgiClient } from './client.js';

/** Pool options. */
export interface FastCgiPoolOptions {
  /** Connections open at once, busy or idle (default 64); requests beyond it wait for one in FIFO order. */
  maxConnections?: number;
  /** An idle connection is closed after this long (default 30 s). */
  idleTimeoutMs?: number;
  /** Giving up on connect after this long (default 5 s). */
  connectTimeoutMs?: number;
}

interface Idle {
  client: FastCgiClient;
  timer: NodeJS.Timeout;
}

/** A lease on one connection: give it back with `release(reusable)` exactly once. */
export interface PooledConnection {
  readonly client: FastCgiClient;
  /** True when the connection had served a request before (a stale keep-alive is possible). */
  readonly reused: boolean;
  release(reusable: boolean): void;
}

/** Connections to one address, lent one request at a time. */
export class FastCgiPool {
  private readonly address: FastCgiAddress;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly idle: Idle[] = [];
  private readonly waiting: (() => void)[] = [];
  private open = 0;
  private closed = false;

  constructor(address: FastCgiAddress, options: FastCgiPoolOptions = {}) {
    this.address = address;
    this.maxConnections = options.maxConnections ?? 64;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    if (!(this.maxConnections >= 1))
      throw new RangeError('tsgi fromFastCgi: maxConnections must be at least 1');
  }

  /** Connections open now, and how many of them wait idle for a request. */
  get counts(): { open: number; idle: number } {
    return { open: this.open, idle: this.idle.length };
  }

  /** An idle connection, else a new one once the cap allows; `signal` gives up the wait for a free slot. */
  async acquire(signal?: AbortSignal): Promise<PooledConnection> {
    while (true) {
      if (this.closed) throw new Error('tsgi fromFastCgi: the pool is closed');
      const idle = this.idle.pop();
      if (idle !== undefined) {
        clearTimeout(idle.timer);
        socketOf(idle.client).ref?.();
        return this.lease(idle.client, true);
      }
      if (this.open < this.maxConnections) break;
      await this.slotFreed(signal);
    }
    this.open++;
    try {
      return this.lease(await this.connect(), false);
    } catch (error) {
      this.open--;
      this.waiting.shift()?.();
      throw error;
    }
  }

  /** Closes the idle connections now and each busy one when it is released. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = this.idle.splice(0).map(({ client, timer }) => {
      clearTimeout(timer);
      return client.close();
    });
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(closing);
  }

  // Waits until a connection is given back or closed. An aborted waiter leaves the queue first, so the wake-up
  // it would have taken goes to the next one.
  private slotFreed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('the request was aborted while waiting for a connection'));
      const wake = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(wake);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(new Error('the request was aborted while waiting for a connection'));
      };
      this.waiting.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private lease(client: FastCgiClient, reused: boolean): PooledConnection {
    let released = false;
    return {
      client,
      reused,
      release: (reusable) => {
        if (released) return;
        released = true;
        this.giveBack(client, reusable);
      },
    };
  }

  private giveBack(client: FastCgiClient, reusable: boolean): void {
    if (!reusable || this.closed || client.isClosed) {
      client.destroy();
      this.open--;
      this.waiting.shift()?.();
      return;
    }
    const entry: Idle = {
      client,
      // forget() takes it out of the pool on 'close'.
      timer: setTimeout(() => client.destroy(), this.idleTimeoutMs),
    };
    entry.timer.unref();
    // An idle connection must not keep the process alive, nor be counted once the responder closes it.
    socketOf(client).unref?.();
    this.idle.push(entry);
    this.waiting.shift()?.();
  }

  private async connect(): Promise<FastCgiClient> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no connection after ${this.connectTimeoutMs} ms`)),
        this.connectTimeoutMs,
      );
    });
    const connecting = connectFastCgi(this.address, { keepConn: true });
    try {
      const client = await Promise.race([connecting, timeout]);
      client.once('close', () => this.forget(client));
      return client;
    } catch (error) {
      void connecting.then((late) => late.destroy()).catch(() => undefined);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  // The responder closed a connection: if it was idle, it leaves the pool (a busy one is released by its user).
  private forget(client: FastCgiClient): void {
    const at = this.idle.findIndex((entry) => entry.client === client);
    if (at < 0) return;
    clearTimeout(this.idle[at]!.timer);
    this.idle.splice(at, 1);
    this.open--;
    this.waiting.shift()?.();
  }
}

function socketOf(client: FastCgiClient): Partial<Socket> {
  return client.socket as Partial<Socket>;
}
