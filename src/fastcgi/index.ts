// Public API of `tsgi/fastcgi`: the listener, one connection, the limits, and fromFastCgi (a FastCGI back end
// such as PHP-FPM as a tsgi app). The client lives in `tsgi/fastcgi/client`, the wire codec in
// `tsgi/fastcgi/protocol` (issue 9: a subpath a person can hold in mind).
export {
  createFastCgiServer,
  FastCgiServer,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_REQUESTS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type FastCgiServerOptions,
  type StopResult,
} from './server.js';
export {
  serveFastCgi,
  NoListenAddressError,
  type RunningFastCgi,
  type ServeFastCgiOptions,
} from './serve.js';
export {
  parseListenAddress,
  formatListenAddress,
  parseSocketMode,
  checkSocketMode,
  defaultAddresses,
  FCGI_LISTENSOCK_FILENO,
  DEFAULT_SOCKET_MODE,
  type ListenAddress,
  type SocketFileOptions,
} from './listen.js';
export { parseWebServerAddrs, type PeerFilter } from './web-server-addrs.js';
export { FastCgiConnection, serveConnection } from './connection.js';
export type { ConnectionOptions, ManagementValues, RequestGate } from './connection-options.js';
export {
  fromFastCgi,
  type FastCgiApplication,
  type FastCgiParams,
  type FromFastCgiOptions,
} from './from-fastcgi.js';
export type { FastCgiPoolOptions } from './client-pool.js';
export { authorizerVariable, isAuthorizerRequest, AUTHORIZER_VARIABLE_PREFIX } from './authorizer.js';
export { DEFAULT_LIMITS, resolveLimits, type FastCgiLimits } from './limits.js';
