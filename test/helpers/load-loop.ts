// A bounded load loop: N clients send GETs one after another until stopped (or a cap), and every outcome is kept.
import { Agent, request } from 'node:http';

/** One request's outcome: the status (0 when it failed without a response) and the body, or the error. */
export interface Outcome {
  status: number;
  body: string;
  error?: string;
  at: number;
}

/** A running loop. */
export interface LoadLoop {
  /** Outcomes so far. */
  readonly outcomes: Outcome[];
  /** Stops sending and resolves when every client's last request has settled. */
  stop(): Promise<Outcome[]>;
  /** Resolves once at least `count` more outcomes have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
}

/** GET `url` from `clients` concurrent keep-alive clients, at most `maxRequests` in all (a bound, not a goal). */
export function startLoad(url: string, { clients = 4, maxRequests = 20_000 } = {}): LoadLoop {
  const outcomes: Outcome[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  let running = true;
  const waiters = new Set<() => void>();
  const one = (): Promise<Outcome> =>
    new Promise((resolve) => {
      const req = request(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at: Date.now() }));
        res.on('error', (error) => resolve({ status: 0, body, error: error.message, at: Date.now() }));
      });
      req.on('error', (error) => resolve({ status: 0, body: '', error: error.message, at: Date.now() }));
      req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
      req.end();
    });
  const client = async (): Promise<void> => {
    while (running && outcomes.length < maxRequests) {
      outcomes.push(await one());
      for (const wake of waiters) wake();
    }
  };
  const done = Promise.all(Array.from({ length: clients }, client));
  return {
    outcomes,
    async stop() {
      running = false;
      await done;
      agent.destroy();
      return outcomes;
    },
    waitFor(count, timeoutMs = 20_000) {
      const target = outcomes.length + count;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (outcomes.length >= target) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`only ${outcomes.length - target + count} of ${count} responses in ${timeoutMs} ms`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

/** The outcomes that are not a 200. */
export function failures(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter((outcome) => outcome.status !== 200);
}
