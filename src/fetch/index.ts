// Public API of `tsgi/fetch`: a tsgi application as a fetch handler (Deno.serve, Bun.serve, @hono/node-server,
// workers), the fetch-standard front end beside tsgi/http's node:http one.
export { toFetchHandler, type FetchConnInfo, type ToFetchHandlerOptions } from './to-fetch.js';
