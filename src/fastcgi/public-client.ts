// Public API of `tsgi/fastcgi/client`: a small FastCGI client (the web server's side), for tests, benchmarks
// and `tsgi call`. fromFastCgi, in `tsgi/fastcgi`, is the way to serve a FastCGI back end as a tsgi app.
export {
  FastCgiClient,
  connectFastCgi,
  parseCgiResponse,
  type CgiResponse,
  type FastCgiAddress,
  type FastCgiClientOptions,
  type FastCgiRequestOptions,
  type FastCgiResponse,
  type StreamSource,
} from './client.js';
