// Where a diagnostic command stands in for the app: answer this CGI request, or listen for FastCGI ones.
import { createServer, type Server } from 'node:net';
import { readRequestVariables } from '../cgi/environ-bytes.js';
import { formatListenAddress, listenOn, parseListenAddress, type ListenAddress } from '../fastcgi/listen.js';
import { serveCapture, type CaptureReply } from './capture.js';
import type { CapturedRequest } from './explain.js';
import { RunMode, decideRunMode, type RunModeDecision } from './run-mode.js';
import { probeStdin } from '../shared/stdin-probe.js';

/** How to reach the diagnostic endpoint. */
export interface EndpointOptions {
  /** Address to bind (`--listen`); without it: this CGI request, or the socket on fd 0 / from systemd. */
  readonly listen?: string;
  readonly socketMode?: number;
  readonly socketGroup?: string;
  /** Stop after the first request. */
  readonly once: boolean;
  readonly respond: (request: CapturedRequest) => CaptureReply;
}

/** A started endpoint: a FastCGI listener, or a CGI request already answered. */
export type Endpoint =
  | { readonly kind: 'cgi'; readonly decision: RunModeDecision }
  | {
      readonly kind: 'fastcgi';
      readonly decision: RunModeDecision;
      readonly server: Server;
      readonly address: string;
    };

/** Thrown when there is no request and nothing to listen on; the message says what to give. */
export class NoEndpointError extends Error {}

function writeCgiReply(answer: CaptureReply): void {
  const body = Buffer.from(answer.body, 'utf8');
  process.stdout.write(
    `Status: ${answer.status}\r\nContent-Type: ${answer.contentType}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\n\r\n`,
  );
  process.stdout.write(body);
}

/** Starts the endpoint the way a built file picks its run mode (see run-mode.ts). */
export async function startEndpoint(options: EndpointOptions): Promise<Endpoint> {
  const decision = decideRunMode({
    env: process.env,
    pid: process.pid,
    stdin: probeStdin(0),
    listen: options.listen,
    fallback: 'usage',
  });
  if (decision.mode === RunMode.Cgi) {
    writeCgiReply(options.respond({ vars: readRequestVariables(), transport: 'cgi' }));
    return { kind: 'cgi', decision };
  }
  let address: ListenAddress;
  if (decision.mode === RunMode.FastCgiListen && decision.listen !== undefined) {
    address = parseListenAddress(decision.listen);
  } else if (decision.mode === RunMode.FastCgiInherited) {
    address = { kind: 'fd', fd: 0, origin: 'inherited' };
  } else if (decision.mode === RunMode.FastCgiSystemd) {
    address = { kind: 'fd', fd: 3, origin: 'systemd' };
  } else {
    throw new NoEndpointError(
      'no request to look at: give --listen ADDRESS (and point the web server at it), run it as a CGI program, or start it from the web server (fd 0)',
    );
  }
  const server = createServer();
  serveCapture(server, options.respond, { once: options.once });
  await listenOn(server, address, {
    ...(options.socketMode !== undefined ? { socketMode: options.socketMode } : {}),
    ...(options.socketGroup !== undefined ? { socketGroup: options.socketGroup } : {}),
  });
  const bound = server.address();
  const shown =
    address.kind === 'tcp' && typeof bound === 'object' && bound !== null
      ? formatListenAddress({ ...address, port: bound.port })
      : formatListenAddress(address);
  return { kind: 'fastcgi', decision, server, address: shown };
}
