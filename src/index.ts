// Public API of `tsgi`: the interface (types, errors), the environ and input builders, and the response driver,
// for servers and tests written against tsgi itself. Re-exports only; each function has this one home. Front
// ends live under their own subpaths (tsgi/cgi, tsgi/fastcgi, tsgi/http, tsgi/fetch), middleware under
// tsgi/middleware.
export type {
  Application,
  Body,
  Environ,
  ErrorStream,
  Header,
  Input,
  Middleware,
  ResponseOutcome,
  ResponseSink,
  StartResponse,
  Write,
} from './shared/types.js';
export { TsgiError, ProtocolError, RequestError, ValidationError } from './shared/errors.js';
export { buildEnviron, getVar, requestUrl, applicationUri, type EnvironOptions } from './shared/environ.js';
export { createInput, type InputOptions } from './shared/input.js';
export { bytesToLatin1, latin1ToBytes, utf8View } from './shared/encoding.js';
export { runApplication, type RunOptions } from './shared/respond.js';
export { serveRequest, type FrontEndRequest } from './shared/serve-request.js';
// A front end's lazy tsgi.signal (FrontEndRequest.cancellation, RunOptions.cancellation).
export { LazyCancellation, type Cancellation } from './shared/cancellation.js';
