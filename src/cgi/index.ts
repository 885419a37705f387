// `tsgi/cgi`: run a tsgi application as a CGI program (RFC 3875), one request per process.
export { runCgi, EXIT_CUT_OFF, type CgiOptions } from './runner.js';
export { removeHttpoxy } from './httpoxy.js';
export { readRequestVariables } from './environ-bytes.js';
export { startCgi, type CgiStartOptions } from './start.js';
export { captureStdout, type CapturedStdout } from './capture-stdout.js';
// The other side of CGI: running CGI programs as tsgi applications (src/cgi-host).
export { fromCgi, fromCgiBin, DEFAULT_CGI_TIMEOUT_MS, type CgiHostOptions } from '../cgi-host/index.js';
