// tsgi/testing: build a test environ and call an application without a server (wsgiref setup_testing_defaults).
import { buildEnviron, type EnvironOptions } from '../shared/environ.js';
import { createInput, decimalLength } from '../shared/input.js';
import { isHttps } from '../shared/quirks.js';
import { runApplication, type RunOptions } from '../shared/respond.js';
import type { Application, Environ, ErrorStream, Header, ResponseOutcome } from '../shared/types.js';

/** Overrides for `createTestEnviron`: CGI variables (strings), `tsgi.*` keys, and a request body. */
export interface TestEnvironOverrides {
  [key: string]: unknown;
  /** The request body; sets `tsgi.input` and CONTENT_LENGTH (a string is sent as UTF-8). */
  body?: string | Uint8Array;
}

/** An ErrorStream that keeps what was written, for assertions (`text`). */
export interface CollectedErrors extends ErrorStream {
  readonly text: string;
}

/** Creates an ErrorStream that collects everything written to it. */
export function collectErrors(): CollectedErrors {
  const parts: string[] = [];
  return {
    write(text) {
      parts.push(typeof text === 'string' ? text : new TextDecoder().decode(text));
    },
    get text() {
      return parts.join('');
    },
  };
}

// What wsgiref.util.setup_testing_defaults fills in, with HTTP/1.1 and "localhost".
const DEFAULT_VARS: Readonly<Record<string, string>> = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/',
  QUERY_STRING: '',
  SERVER_NAME: 'localhost',
  SERVER_PROTOCOL: 'HTTP/1.1',
  HTTP_HOST: 'localhost',
  REMOTE_ADDR: '127.0.0.1',
  GATEWAY_INTERFACE: 'CGI/1.1',
  SERVER_SOFTWARE: 'tsgi-testing',
};

/**
 * An environ for tests: `GET /` on `http://localhost` (SERVER_PORT 80, or 443 with `HTTPS: 'on'`), built by
 * `buildEnviron` so it is exactly what a server would pass. String overrides are CGI variables (an
 * `undefined` one removes a default); `tsgi.*` overrides replace the built keys; `body` sets the input and
 * CONTENT_LENGTH. `tsgi.errors` collects into a `CollectedErrors` unless overridden.
 */
export function createTestEnviron(
  overrides: TestEnvironOverrides = {},
  options: EnvironOptions = {},
): Environ {
  const { body, ...rest } = overrides;
  const vars: Record<string, string | undefined> = { ...DEFAULT_VARS };
  const keys: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(rest)) {
    if (typeof value === 'string' || value === undefined) vars[name] = value;
    else keys[name] = value;
  }
  if (!Object.hasOwn(rest, 'SERVER_PORT')) vars.SERVER_PORT = isHttps(vars) ? '443' : '80';
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  if (bytes !== undefined && !Object.hasOwn(rest, 'CONTENT_LENGTH'))
    vars.CONTENT_LENGTH = String(bytes.byteLength);
  const source = bytes === undefined ? undefined : singleChunk(bytes);
  // A malformed CONTENT_LENGTH override is left for buildEnviron to refuse, as a server would.
  const contentLength = decimalLength(vars.CONTENT_LENGTH ?? '');
  const input = createInput(source, { contentLength, inputTerminated: options.inputTerminated });
  const environ = buildEnviron(vars, input, collectErrors(), options);
  return Object.assign(environ, keys);
}

async function* singleChunk(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** What `callApp` collected from one response. */
export interface TestResponse {
  /** The status line sent, e.g. `"200 OK"`; `""` when no head was sent. */
  status: string;
  /** Its code; 0 when no head was sent. */
  statusCode: number;
  headers: Header[];
  /** The body bytes, joined. */
  body: Uint8Array;
  /** The body as UTF-8 text. */
  text: string;
  /** What `sink.end(ok)` was called with. */
  ended: boolean | undefined;
  /** The driver's report (ok, bytes, error…). */
  outcome: ResponseOutcome;
  /** What went to `tsgi.errors`, when it is the collecting stream `createTestEnviron` made. */
  errors: string;
  /** The first value of a header, by case-insensitive name. */
  header(name: string): string | undefined;
}

/**
 * Runs `app` once through the real response driver (`runApplication`) and collects status, headers and body.
 * With no environ, uses `createTestEnviron()`.
 */
export async function callApp(
  app: Application,
  environ: Environ = createTestEnviron(),
  options: RunOptions = {},
): Promise<TestResponse> {
  let status = '';
  let headers: Header[] = [];
  let ended: boolean | undefined;
  const chunks: Uint8Array[] = [];
  const outcome = await runApplication(
    app,
    environ,
    {
      sendHead(sentStatus, sentHeaders) {
        status = sentStatus;
        headers = [...sentHeaders];
      },
      write(chunk) {
        chunks.push(Uint8Array.from(chunk));
      },
      end(ok) {
        ended = ok;
      },
    },
    options,
  );
  const body = Buffer.concat(chunks);
  const errors = environ['tsgi.errors'] as Partial<CollectedErrors>;
  return {
    status,
    statusCode: status === '' ? 0 : Number(status.slice(0, 3)),
    headers,
    body,
    text: body.toString('utf8'),
    ended,
    outcome,
    errors: typeof errors.text === 'string' ? errors.text : '',
    header: (name) => headers.find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1],
  };
}
