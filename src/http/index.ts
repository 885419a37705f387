// Public API of `tsgi/http`: the development server and the pieces it is made of.
export { serve, type DevServer, type ServeOptions } from './server.js';
export { formatAccessLine } from './access-log.js';
export { requestVars, percentDecodeLatin1, type NodeRequest, type RequestVars } from './request-vars.js';
export {
  toNodeHandler,
  type NodeRequestListener,
  type NodeResponseReport,
  type ToNodeHandlerOptions,
} from './to-node.js';
