// The checks every FastCGI end-to-end suite runs through its web server, against the fastcgi-e2e.mjs app.
import { createHash, randomBytes } from 'node:crypto';
import { get as httpGet } from 'node:http';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

/** A recipe in scripts/recipes (the templates the tests render and the deployment docs show). */
export function recipe(name: string): string {
  return fileURLToPath(new URL(`../../scripts/recipes/${name}`, import.meta.url));
}

/** The environ the app's `env` route returns (string variables plus a few tsgi keys and the pid). */
export type EnvDump = Record<string, string | number | boolean>;

/** GETs `url` and parses the env dump, failing with the body when it is not JSON. */
export async function getEnv(url: string, init?: RequestInit): Promise<EnvDump> {
  const response = await fetch(url, init);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return JSON.parse(text) as EnvDump;
}

/**
 * GETs `url` on a connection of its own, closed after the response. fetch() would reuse kept-alive connections
 * from earlier tests, and a web server that closes an idle one as the request goes out (Apache does when it
 * retires the extra processes a burst made it start) makes the client fail with "other side closed": a race of
 * HTTP keep-alive between client and web server, not a FastCGI failure.
 */
export function getEnvFresh(url: string): Promise<EnvDump> {
  return new Promise((resolve, reject) => {
    const request = httpGet(url, { agent: false, headers: { Connection: 'close' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          expect(response.statusCode, text).toBe(200);
          resolve(JSON.parse(text) as EnvDump);
        } catch (error) {
          reject(error as Error);
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Where the app is mounted: `base()` is resolved when the tests run (after beforeAll started the servers). */
export interface BatteryOptions {
  base: () => string;
  /** SCRIPT_NAME the server is configured to send (the mount). */
  scriptName: string;
}

/**
 * Registers the five behaviours issue 4 asks of every server: a GET with a query, the SCRIPT_NAME/PATH_INFO
 * split, a 5 MiB POST echoed intact, a response streamed before the app finishes, 200 concurrent requests.
 */
export function httpBattery({ base, scriptName }: BatteryOptions): void {
  it('passes a GET with its query string, method and headers', async () => {
    const env = await getEnv(`${base()}/env?a=1&b=two%20words`, { headers: { 'X-Tsgi-Test': 'yes' } });
    expect(env).toMatchObject({
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'a=1&b=two%20words',
      HTTP_X_TSGI_TEST: 'yes',
      SCRIPT_NAME: scriptName,
      PATH_INFO: '/env',
    });
  });

  it('splits SCRIPT_NAME (the mount) from PATH_INFO (the rest, decoded)', async () => {
    const env = await getEnv(`${base()}/deep/a%20b/env`);
    expect(env.SCRIPT_NAME).toBe(scriptName);
    expect(env.PATH_INFO).toBe('/deep/a b/env');
  });

  it('echoes a 5 MiB POST body byte for byte', async () => {
    const body = randomBytes(5 * 1024 * 1024);
    const response = await fetch(`${base()}/echo`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    expect(response.status).toBe(200);
    const echoed = new Uint8Array(await response.arrayBuffer());
    expect(echoed.length).toBe(body.length);
    expect(sha256(echoed)).toBe(sha256(body));
  });

  it('streams: the first chunk arrives while the application is still waiting', async () => {
    const key = `k${Math.random().toString(36).slice(2)}`;
    const response = await fetch(`${base()}/stream?${key}`);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // The app cannot finish before /release arrives, so a first chunk here proves it was passed on early.
    while (!text.includes('\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe('first\n');
    expect(await (await fetch(`${base()}/release?${key}`)).text()).toBe('released');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toBe('first\nreleased\n');
  });

  it('answers 200 concurrent requests, each with its own environ', async () => {
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        getEnvFresh(`${base()}/env?i=${i}`).then((env) => env.QUERY_STRING),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 200 }, (_, i) => `i=${i}`));
  });
}
