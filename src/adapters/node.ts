// tsgi/adapters/node: Node `(req, res)` handlers (Express, Koa, Connect, Fastify) as tsgi apps (the other way,
// a tsgi app as a node:http listener, is toNodeHandler in tsgi/http).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decimalLength } from '../shared/input.js';
import { isThenable } from '../shared/thenable.js';
import type { Application, Body, Environ, Header, StartResponse } from '../shared/types.js';
import { BodyChannel } from './_node/body-channel.js';
import { BridgeIncomingMessage } from './_node/incoming.js';
import { BridgeServerResponse } from './_node/response.js';
import { BridgeSocket, type SocketEndpoints } from './_node/socket.js';

/**
 * A `node:http` request listener: an Express app, `koaApp.callback()`, a Connect app, `fastify.routing`.
 * It may return a promise (Koa's does); a rejection is treated like an error thrown by the handler.
 */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

const environs = new WeakMap<IncomingMessage, Environ>();

/**
 * The environ behind a request that {@link fromNodeHandler} made, e.g. to write to `tsgi.errors` or to read a
 * FastCGI-only variable from an Express route: `getEnviron(req)?.['tsgi.errors'].write(…)`.
 */
export function getEnviron(req: IncomingMessage): Environ | undefined {
  return environs.get(req);
}

function endpointsOf(environ: Environ): SocketEndpoints {
  // A port is plain decimal digits (the shared CONTENT_LENGTH rule) up to 65535 (RFC 793 §3.1: 16 bits); a
  // server-set REMOTE_PORT like "99999999999999999999" would otherwise show as 1e20 on req.socket.
  const port = (name: string): number | undefined => {
    const value = environ[name];
    const digits = typeof value === 'string' ? decimalLength(value) : undefined;
    return digits !== undefined && digits <= 0xffff ? digits : undefined;
  };
  const address = (name: string): string | undefined => {
    const value = environ[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  return {
    remoteAddress: address('REMOTE_ADDR'),
    remotePort: port('REMOTE_PORT'),
    localAddress: address('SERVER_ADDR'),
    localPort: port('SERVER_PORT'),
    encrypted: environ['tsgi.url_scheme'] === 'https',
  };
}

/** One request through a Node handler: the fake socket, the request and response, and the body they produce. */
class NodeBridge {
  readonly #environ: Environ;
  readonly #startResponse: StartResponse;
  readonly #channel = new BodyChannel();
  readonly #socket: BridgeSocket;
  readonly req: BridgeIncomingMessage;
  readonly res: BridgeServerResponse;
  #done = false;
  // 'finish' was emitted (writableFinished turns true earlier, as soon as the last write is handed over).
  #finished = false;

  constructor(environ: Environ, startResponse: StartResponse) {
    this.#environ = environ;
    this.#startResponse = startResponse;
    this.#socket = new BridgeSocket(endpointsOf(environ), (chunk, done) => this.#channel.push(chunk, done));
    // Errors of the socket reach the handler as 'close'/'aborted' on req and res, as on node:http (whose server
    // listens for them too); unheard, an 'error' event would end the whole process.
    this.#socket.on('error', () => undefined);
    this.req = new BridgeIncomingMessage(this.#socket, environ);
    this.res = new BridgeServerResponse(this.req, this.#socket, {
      head: (status, headers) => this.#head(status, headers),
      log: (line) => environ['tsgi.errors'].write(line),
      // Once every byte the handler wrote has reached the channel (the socket holds none back), the body is
      // complete: one FastCGI write for the last chunk and END_REQUEST instead of two (issue 13).
      // A destroyed socket (the request failed under the handler) takes no more bytes: then 'finish' decides.
      ended: () => this.#channel.endWhenDrained(() => !this.#socket.destroyed && this.res.writableFinished),
    });
    environs.set(this.req, environ);
    this.res.once('finish', () => {
      this.#finished = true;
      this.#channel.end();
    });
    this.res.once('close', () => {
      // Closed before finishing: the handler destroyed the request or the response (node:http resets the
      // connection then), or the client went away. Either way the response is cut off here.
      if (!this.res.writableFinished) this.#channel.fail(prematureClose());
    });
    // node:http throws a write-after-end or similar at the handler as an 'error' event on `res`; unheard it would
    // end the process and every other request with it. One log line, the response is cut off.
    this.res.on('error', (error: Error) => {
      environ['tsgi.errors'].write(`tsgi adapters/node: response error: ${error.message}\n`);
      // A write after end() changes nothing that was sent; anything else breaks the response.
      if (!this.res.writableEnded) this.#channel.fail(error);
    });
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
    return {
      [Symbol.asyncIterator]: () => this.#channel,
      close: () => this.#close(),
    };
  }

  #head(status: string, headers: Header[]): void {
    try {
      this.#startResponse(status, headers);
    } catch (error) {
      // A head tsgi refuses (the validator's or the response driver's error): the response ends with it.
      this.#channel.fail(error);
    }
  }

  #handlerFailed(error: unknown): void {
    if (this.res.writableFinished || this.#done) {
      this.#environ['tsgi.errors'].write(
        `tsgi adapters/node: the handler failed after its response ended: ${String(error)}\n`,
      );
      return;
    }
    this.#channel.fail(error);
  }

  // The client went away (the driver closed the body) or the server stopped the response early: what node:http does when the
  // connection closes under a request. The socket closes (so `res` emits 'close'), the request is destroyed
  // with ECONNRESET "aborted" (so it emits 'aborted' when incomplete, then 'close'), and later writes go nowhere.
  readonly #abort = (): void => {
    this.#channel.close();
    this.#socket.destroy();
    if (!this.req.destroyed) this.req.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  };

  #close(): void {
    if (this.#done) return;
    this.#done = true;
    if (!this.res.writableFinished && !this.#channel.completed) {
      this.#abort();
      return;
    }
    // After a complete response node:http lets the connection go on; here it is over, and 'close' follows
    // 'finish' on `res` as it does there.
    this.#channel.close();
    // The body was complete before Node's 'finish' (endWhenDrained): 'close' still follows 'finish'. Not from
    // inside 'finish': Node emits it from the socket's write callback, and a socket destroyed there makes the
    // stream create an ERR_STREAM_DESTROYED error (a stack trace) for every request.
    if (this.#finished) this.#socket.destroy();
    else this.res.once('finish', () => process.nextTick(() => this.#socket.destroy()));
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
  const application = fromNodeHandler((req, res) => fastify.routing(req, res));
  return async (environ, startResponse) => {
    ready ??= Promise.resolve(fastify.ready());
    await ready;
    return application(environ, startResponse);
  };
}
