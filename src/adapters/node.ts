// tsgi/adapters/node: Node `(req, res)` handlers (Express, Koa, Connect, Fastify) as tsgi apps (the other way,
// a tsgi app as a node:http listener, is toNodeHandler in tsgi/http).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isThenable } from '../shared/thenable.js';
import type { Application, Body, Environ, Header, StartResponse } from '../shared/types.js';
import { BodyChannel, type ChannelOwner, type WriteCallback } from './_node/body-channel.js';
import { BridgeIncomingMessage } from './_node/incoming.js';
import { BridgeServerResponse, type ResponseOwner } from './_node/response.js';
import { BridgeSocket, type SocketOwner } from './_node/socket.js';

/**
 * A `node:http` request listener: an Express app, `koaApp.callback()`, a Connect app, `fastify.routing`.
 * It may return a promise (Koa's does); a rejection is treated like an error thrown by the handler.
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

// Where getEnviron finds the environ: a symbol-keyed own property of `req` (it survives Express's prototype
// swap). A WeakMap entry per request cost ~1-2 us of garbage collection work (ephemerons) per request (issue 13).
const ENVIRON = Symbol('tsgi.environ');

/**
 * The environ behind a request that {@link fromNodeHandler} made, e.g. to write to `tsgi.errors` or to read a
 * FastCGI-only variable from an Express route: `getEnviron(req)?.['tsgi.errors'].write(…)`.
 */
export function getEnviron(req: IncomingMessage): Environ | undefined {
  return (req as IncomingMessage & { [ENVIRON]?: Environ })[ENVIRON];
}

// Errors of the socket reach the handler as 'close'/'aborted' on req and res, as on node:http (whose server
// listens for them too); unheard, an 'error' event would end the whole process.
function ignore(): void {}

function emitDrain(res: BridgeServerResponse): void {
  res.drain();
}

// 'finish' (Node's own callback of its last socket write), then 'close' as node:http emits it after a response.
function finishAndClose(bridge: NodeBridge): void {
  bridge.finishAndClose();
}

/**
 * One request through a Node handler: the fake socket, the request and response, and the body they produce.
 * It is the owner the socket, the response and the body channel report to (methods, not closures: issue 13).
 */
class NodeBridge implements ChannelOwner, SocketOwner, ResponseOwner {
  readonly #environ: Environ;
  readonly #startResponse: StartResponse;
  readonly #channel: BodyChannel;
  readonly #socket: BridgeSocket;
  readonly req: BridgeIncomingMessage;
  readonly res: BridgeServerResponse;
  framing = false;
  // The callbacks of Node's own last socket write (what emits 'finish'): run once the body is delivered.
  #finishCallbacks: WriteCallback[] | undefined;
  #done = false;
  // The response is over (delivered or aborted): the bridge destroys the socket itself from here on.
  #over = false;

  constructor(environ: Environ, startResponse: StartResponse) {
    this.#environ = environ;
    this.#startResponse = startResponse;
    this.#channel = new BodyChannel(this);
    this.#socket = new BridgeSocket(environ, this);
    this.#socket.on('error', ignore);
    this.req = new BridgeIncomingMessage(this.#socket, environ);
    this.res = new BridgeServerResponse(this.req, this.#socket, this);
    (this.req as BridgeIncomingMessage & { [ENVIRON]?: Environ })[ENVIRON] = environ;
    // No listener on tsgi.signal: reading it would create an AbortSignal per request (front ends make it only
    // when read), and the response driver already closes the body as soon as the client goes away.
  }

  /** Calls the handler and returns the body; everything that goes wrong ends up as an error of that body. */
  run(handler: NodeHandler): Body {
    try {
      const result = handler(this.req, this.res);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.#handlerFailed(error));
    } catch (error) {
      this.#handlerFailed(error);
    }
    return new NodeBody(this, this.#channel);
  }

  /** The body's close(): the driver is done with the response, complete or not. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#channel.completed) return;
    // The client went away (the driver closed the body) or the server stopped the response early: what
    // node:http does when the connection closes under a request. The socket closes (so `res` emits 'close'),
    // the request is destroyed with ECONNRESET "aborted" (so it emits 'aborted' when incomplete, then 'close'),
    // and later writes go nowhere.
    this.#over = true;
    this.#channel.close();
    this.#socket.destroy();
    if (!this.req.destroyed) this.req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  }

  head(status: string, headers: Header[]): void {
    try {
      this.#startResponse(status, headers);
    } catch (error) {
      // A head tsgi refuses (the validator's or the response driver's error): the response ends with it.
      this.#channel.fail(error);
    }
  }

  body(chunk: Uint8Array, callback: WriteCallback | undefined): boolean {
    this.#socket.bytesWritten += chunk.byteLength;
    return this.#channel.push(chunk, callback);
  }

  ended(): void {
    this.#channel.end();
  }

  failed(error: Error): void {
    this.log(`tsgi adapters/node: response error: ${error.message}\n`);
    // A write after end() changes nothing that was sent; anything else breaks the response.
    if (!this.res.writableEnded) this.#channel.fail(error);
  }

  log(line: string): void {
    this.#environ['tsgi.errors'].write(line);
  }

  socketWrite(
    chunk: Uint8Array | string,
    encoding: BufferEncoding | undefined,
    callback?: WriteCallback,
  ): boolean {
    if (this.framing) {
      // The head text of Node's end() or flushHeaders(): the head went to startResponse already.
      if (callback) {
        if (this.#channel.completed) process.nextTick(callback);
        else (this.#finishCallbacks ??= []).push(callback);
      }
      return true;
    }
    // The handler writing to res.socket itself: body bytes.
    return this.body(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : chunk, callback);
  }

  socketDestroyed(): void {
    if (this.#over) return;
    this.#over = true;
    // Destroyed under the handler (req.destroy(), res.destroy()) before it ended the response: node:http resets
    // the connection then; the response is cut off here.
    if (!this.res.writableEnded) this.#channel.fail(prematureClose());
  }

  drained(): void {
    process.nextTick(emitDrain, this.res);
  }

  delivered(): void {
    this.#over = true;
    process.nextTick(finishAndClose, this);
  }

  /** See the module function of that name. */
  finishAndClose(): void {
    const callbacks = this.#finishCallbacks;
    this.#finishCallbacks = undefined;
    if (callbacks) for (const callback of callbacks) callback();
    // After a complete response node:http lets the connection go on; here it is over, and 'close' follows
    // 'finish' on `res` as it does there.
    this.#socket.destroy();
  }

  #handlerFailed(error: unknown): void {
    if (this.res.writableFinished || this.#done) {
      this.log(`tsgi adapters/node: the handler failed after its response ended: ${String(error)}\n`);
      return;
    }
    this.#channel.fail(error);
  }
}

/** The body the driver iterates: the channel's chunks; close() goes to the bridge. */
class NodeBody implements AsyncIterable<Uint8Array> {
  readonly #bridge: NodeBridge;
  readonly #channel: BodyChannel;

  constructor(bridge: NodeBridge, channel: BodyChannel) {
    this.#bridge = bridge;
    this.#channel = channel;
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    // Its next() may return a step without a promise (see BodyChannel): what `await` makes of either is the same.
    return this.#channel as unknown as AsyncIterator<Uint8Array>;
  }

  close(): void {
    this.#bridge.close();
  }
}

function prematureClose(): Error {
  return Object.assign(new Error('tsgi adapters/node: the response was closed before it ended'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}

/**
 * Turns a Node request listener into a tsgi application: an Express app, `koaApp.callback()`, a Connect app,
 * a plain `node:http` listener. The handler gets an `IncomingMessage` built from the environ, whose body is read
 * from `tsgi.input` as the handler reads it, and a `ServerResponse` whose status and headers become
 * `startResponse` and whose body bytes become the body's chunks, at the pace the front end writes them.
 *
 * `req.url` is the target below SCRIPT_NAME (the app's mount point: REQUEST_URI as sent when SCRIPT_NAME is
 * empty); `req.originalUrl` and `req.baseUrl` carry the full target and SCRIPT_NAME when it is not.
 * `req.socket` has `remoteAddress`, `remotePort` and `encrypted` from the environ. When `tsgi.signal` aborts,
 * `req` and `res` emit 'close' (and 'aborted') as on node:http, and later writes are dropped. Trailers and 1xx
 * interim responses cannot pass through CGI or FastCGI: they are ignored (trailers with one log line).
 *
 * The handler is called with `(req, res)` only, as `http.createServer(handler)` calls it: Express and Connect
 * then answer unmatched requests with their own 404. Wrap a bare `(req, res, next)` middleware in an app first.
 *
 * @example
 * export default fromNodeHandler(expressApp);
 * export default fromNodeHandler(koaApp.callback());
 */
export function fromNodeHandler(handler: NodeHandler): Application {
  if (typeof handler !== 'function') {
    throw new TypeError(
      'tsgi fromNodeHandler: expected a (req, res) function, e.g. an Express app or koaApp.callback()',
    );
  }
  return (environ, startResponse) => new NodeBridge(environ, startResponse).run(handler);
}

/** The part of a Fastify instance {@link fromFastify} uses (public API: `ready()` and `routing`). */
export interface FastifyLike {
  ready(): PromiseLike<unknown>;
  routing(req: IncomingMessage, res: ServerResponse): void;
}

/**
 * A Fastify instance as a tsgi application. Fastify owns its server, so this goes through its documented
 * `fastify.routing(req, res)` entry point (the same function its own server calls, rewriteUrl included) after
 * `fastify.ready()`, which runs once, on the first request. Plugins must be registered before that request.
 *
 * @example
 * const app = fastify();
 * app.get('/hello/:name', async (request) => ({ hello: request.params.name }));
 * export default fromFastify(app);
 */
export function fromFastify(fastify: FastifyLike): Application {
  let ready: Promise<unknown> | undefined;
  let isReady = false;
  const application = fromNodeHandler((req, res) => fastify.routing(req, res));
  const whenReady = async (environ: Environ, startResponse: StartResponse): Promise<Body> => {
    ready ??= Promise.resolve(fastify.ready()).then(() => (isReady = true));
    await ready;
    return application(environ, startResponse);
  };
  // Once ready, each request goes straight to the bridge: no promise for the driver to await (issue 13).
  return (environ, startResponse) =>
    isReady ? application(environ, startResponse) : whenReady(environ, startResponse);
}
