// Public API of `tsgi`: re-exports only. Front ends live under their own subpaths (tsgi/cgi, tsgi/fastcgi, …).
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
export { bytesToLatin1, latin1ToBytes, utf8View } from './shared/encoding.js';
export { runApplication, type RunOptions } from './shared/respond.js';
export { compose, validate, catchErrors } from './middleware/index.js';
