// A diagnostic FastCGI responder: keeps each request's FCGI_PARAMS exactly as the web server sent them.
//
// `tsgi explain` and `tsgi doctor` stand where the application would (same nginx/Apache/lighttpd config,
// same socket) to see the variables *before* tsgi normalises them; the real listener only hands the
// application the normalised environ. It answers every request itself with a text report.
import type { Server, Socket } from 'node:net';
import { ProtocolError } from '../shared/errors.js';
import {
  ParamsDecoder,
  ProtocolStatus,
  RecordParser,
  RecordType,
  Role,
  decodeBeginRequest,
  encodeEndRequest,
  encodeStream,
} from '../fastcgi/protocol.js';
import type { CapturedRequest } from './explain.js';

/** What the diagnostic endpoint sends back for one captured request. */
export interface CaptureReply {
  readonly status: string;
  readonly contentType: string;
  readonly body: string;
}

// FCGI_PARAMS larger than this is not a request worth diagnosing (the real listener's default is the same).
const MAX_PARAMS_BYTES = 256 * 1024;

interface Pending {
  readonly keepConn: boolean;
  readonly role: number;
  readonly params: ParamsDecoder;
  vars?: Record<string, string>;
  bodyBytes: number;
}

function reply(socket: Socket, requestId: number, answer: CaptureReply, keepConn: boolean): void {
  const body = Buffer.from(answer.body, 'utf8');
  const head = `Status: ${answer.status}\r\nContent-Type: ${answer.contentType}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n\r\n`;
  socket.write(
    encodeStream(RecordType.Stdout, requestId, Buffer.concat([Buffer.from(head, 'latin1'), body])),
  );
  socket.write(encodeEndRequest(requestId, 0, ProtocolStatus.RequestComplete));
  if (!keepConn) socket.end();
}

/** Serves one connection: collects params and body size per request, answers with `respond`. */
function serveConnection(
  socket: Socket,
  respond: (request: CapturedRequest) => CaptureReply,
  log: (line: string) => void,
): void {
  const requests = new Map<number, Pending>();
  const peer = socket.remoteAddress;
  const parser = new RecordParser((type, requestId, content) => {
    if (type === RecordType.BeginRequest) {
      const begin = decodeBeginRequest(content);
      requests.set(requestId, {
        keepConn: (begin.flags & 1) !== 0,
        role: begin.role,
        params: new ParamsDecoder(MAX_PARAMS_BYTES),
        bodyBytes: 0,
      });
      return;
    }
    const pending = requests.get(requestId);
    if (pending === undefined) return; // management records and strays: nothing to diagnose
    if (type === RecordType.Params) {
      if (content.length > 0) pending.params.push(content);
      else pending.vars = pending.params.finish();
    } else if (type === RecordType.Stdin) {
      if (content.length > 0) {
        pending.bodyBytes += content.length;
        return;
      }
      requests.delete(requestId);
      const vars = pending.vars ?? {};
      const answer =
        pending.role === Role.Responder
          ? respond({ vars, transport: 'fastcgi', peer, bodyBytes: pending.bodyBytes })
          : {
              status: '500 Internal Server Error',
              contentType: 'text/plain',
              body: 'not a Responder request\n',
            };
      reply(socket, requestId, answer, pending.keepConn);
    } else if (type === RecordType.AbortRequest) {
      requests.delete(requestId);
      socket.write(encodeEndRequest(requestId, 1, ProtocolStatus.RequestComplete));
    }
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      parser.push(chunk);
    } catch (error) {
      log(`tsgi: closing a connection from ${peer ?? 'a unix socket'}: ${(error as Error).message}`);
      if (!(error instanceof ProtocolError)) log(String((error as Error).stack));
      socket.destroy();
    }
  });
  socket.on('error', () => socket.destroy());
}

/**
 * Answers FastCGI requests on `server` (already listening or about to) with `respond`'s reply. `once` closes
 * the server after the first request has been answered (the connection it came on finishes first).
 */
export function serveCapture(
  server: Server,
  respond: (request: CapturedRequest) => CaptureReply,
  options: { once?: boolean; log?: (line: string) => void } = {},
): void {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let answered = false;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    serveConnection(
      socket,
      (request) => {
        if (answered && options.once) {
          return { status: '503 Service Unavailable', contentType: 'text/plain', body: 'already answered\n' };
        }
        answered = true;
        const answer = respond(request);
        // Kept-alive connections (nginx keepalive, mod_proxy_fcgi enablereuse) would hold the server open.
        if (options.once) {
          setImmediate(() => {
            server.close();
            // end() alone leaves a pooled connection half-open until the web server reuses it: close it.
            for (const open of sockets) open.end(() => open.destroy());
          });
        }
        return answer;
      },
      log,
    );
  });
}
