// Requests straight to a FastCGI listener (no web server between: nothing retries a failed request and hides
// it), one at a time or as a bounded load loop, and the worker processes of a pool's primary.
import { readdirSync, readFileSync } from 'node:fs';
import { connectFastCgi } from '../../src/fastcgi/client.js';

/** One request's outcome: the status (0 when it failed without a response), the body or the error. */
export interface FastCgiOutcome {
  status: number;
  body: string;
  error?: string;
}

/** GET `path` (`/x?query`) on a connection of its own. */
export async function fastCgiGet(address: string, path: string): Promise<FastCgiOutcome> {
  const [pathInfo = '', query = ''] = path.split('?', 2);
  try {
    const client = await connectFastCgi(address, { keepConn: false });
    try {
      const call = client.request({
        params: {
          REQUEST_METHOD: 'GET',
          SCRIPT_NAME: '/app',
          PATH_INFO: pathInfo,
          QUERY_STRING: query,
          REQUEST_URI: `/app${path}`,
          SERVER_NAME: 'localhost',
          SERVER_PORT: '80',
          SERVER_PROTOCOL: 'HTTP/1.1',
        },
      });
      const response = await call.response();
      return { status: response.statusCode, body: response.body.toString('utf8') };
    } finally {
      client.destroy();
    }
  } catch (error) {
    return { status: 0, body: '', error: (error as Error).message };
  }
}

/** A running loop of `clients` sending GETs one after another until stopped (at most `maxRequests`). */
export function startFastCgiLoad(
  address: string,
  path: string,
  { clients = 4, maxRequests = 20_000 } = {},
): { outcomes: FastCgiOutcome[]; stop(): Promise<FastCgiOutcome[]> } {
  const outcomes: FastCgiOutcome[] = [];
  let running = true;
  const client = async (): Promise<void> => {
    while (running && outcomes.length < maxRequests) outcomes.push(await fastCgiGet(address, path));
  };
  const done = Promise.all(Array.from({ length: clients }, client));
  return {
    outcomes,
    async stop() {
      running = false;
      await done;
      return outcomes;
    },
  };
}

/** Pids of the live child processes of `pid` (a pool's workers). */
export function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // Field 4 (after the parenthesised command name) is the parent pid; zombies (state Z) are gone already.
        const [state, parent] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return state !== 'Z' && Number(parent) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}
