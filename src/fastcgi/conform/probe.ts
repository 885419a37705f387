// One raw connection to the responder under test: write hand-made bytes, collect what comes back, wait for it.
import { connect, type Socket } from 'node:net';
import type { FastCgiAddress } from '../client.js';
import { parseListenAddress } from '../listen.js';
import { parseRecords, type ParsedRecord } from './bytes.js';

/** A case's verdict when it fails: the message says what the responder did instead. */
export class CaseFailure extends Error {}

/** Where to connect, as net.connect takes it. */
export type ProbeTarget = { host: string; port: number } | { path: string };

/** Turns `host:port`, `[v6]:port`, a bare port, `unix:/path` or `/path` into a connect target. */
export function probeTarget(address: FastCgiAddress): ProbeTarget {
  if (typeof address !== 'string') {
    return 'path' in address ? address : { host: address.host ?? '127.0.0.1', port: address.port };
  }
  const parsed = parseListenAddress(address);
  if (parsed.kind === 'fd')
    throw new CaseFailure(`cannot connect to ${address}: give HOST:PORT or a socket path`);
  return parsed.kind === 'tcp' ? { host: parsed.host, port: parsed.port } : { path: parsed.path };
}

/** A connection that keeps every byte received; `until` waits for a condition on them. */
export class Probe {
  readonly socket: Socket;
  /** Resolves when the responder (or we) closed the connection. */
  readonly closed: Promise<void>;
  private readonly chunks: Buffer[] = [];
  private readonly waiters = new Set<() => void>();
  private isClosedFlag = false;
  private readonly timeoutMs: number;

  private constructor(socket: Socket, timeoutMs: number) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosedFlag = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** Connects, or fails the case with the connect error (a responder that stopped answering shows here). */
  static open(target: ProbeTarget, timeoutMs: number): Promise<Probe> {
    return new Promise((resolve, reject) => {
      const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new CaseFailure(`no connection after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          new CaseFailure(`cannot connect: ${error.code ?? error.message} (is the responder still up?)`),
        );
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new Probe(socket, timeoutMs));
      });
    });
  }

  get isClosed(): boolean {
    return this.isClosedFlag;
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Everything received so far as records; a malformed reply fails the case (§3.3). */
  records(): ParsedRecord[] {
    try {
      return parseRecords(this.received());
    } catch (error) {
      throw new CaseFailure(`the reply is not well-formed FastCGI records: ${(error as Error).message}`);
    }
  }

  /** Waits until `test` holds on the records received; fails after the timeout or on close, saying `what`. */
  async until(what: string, test: (records: ParsedRecord[]) => boolean): Promise<ParsedRecord[]> {
    const holds = (): boolean => {
      try {
        return test(parseRecords(this.received()));
      } catch {
        return false;
      }
    };
    await new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (holds()) finish(resolve);
        else if (this.isClosedFlag)
          finish(() => reject(this.failure(`closed the connection before ${what}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(this.failure(`no ${what} within ${this.timeoutMs} ms`))),
        this.timeoutMs,
      );
      const finish = (then: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        then();
      };
      this.waiters.add(check);
      check();
    });
    return this.records();
  }

  /** Waits for FCGI_END_REQUEST of `id` (§5.5). */
  untilEnd(id: number): Promise<ParsedRecord[]> {
    return this.until(`FCGI_END_REQUEST for request ${id}`, (records) =>
      records.some((r) => r.type === 3 && r.id === id),
    );
  }

  /** Waits until the connection closes or `ms` pass without it closing; true when it closed. */
  async settle(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([this.closed, waited]);
    clearTimeout(timer);
    return this.isClosedFlag;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private failure(message: string): CaseFailure {
    const bytes = this.received().length;
    return new CaseFailure(
      bytes === 0 ? `${message} (nothing received)` : `${message} (${bytes} bytes received)`,
    );
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
