// The CGI host: tsgi as the *client* of CGI programs (fcgiwrap's and mod_cgi's side of RFC 3875). Over shared
// only; the CGI front end (src/cgi) re-exports it as `tsgi/cgi`, and no front end imports another through it.
export { fromCgi, fromCgiBin } from './from-cgi.js';
export { runProgram, DEFAULT_CGI_TIMEOUT_MS, type CgiHostOptions } from './run-program.js';
export {
  ScriptRoot,
  type AcceptFile,
  type ScriptLookup,
  type ScriptFound,
  type ScriptRefused,
} from './script-file.js';
export { metaVariables, type ProgramTarget } from './meta-variables.js';
