// What every transport's conformance suite shares: a case's request as CGI variables, and the response check.
import { expect } from 'vitest';
import { serveRequest } from '../../src/shared/serve-request.js';
import type { Application, Header } from '../../src/shared/types.js';
import type { ConformanceCase, ConformanceExpect, ConformanceRequest } from './cases.js';

const encoder = new TextEncoder();

/** The request body as bytes (UTF-8 for a string), or undefined. */
export function requestBody(request: ConformanceRequest): Uint8Array | undefined {
  if (request.body === undefined) return undefined;
  return typeof request.body === 'string' ? encoder.encode(request.body) : request.body;
}

/**
 * The case as the bytes an HTTP/1.1 client sends to an app mounted at `/<app>`: one request, then
 * `Connection: close`.
 */
export function requestBytes(testCase: ConformanceCase): Buffer {
  const { request } = testCase;
  const body = requestBody(request);
  const target = `/${testCase.app}${request.path}${request.query ? `?${request.query}` : ''}`;
  const lines = [`${request.method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close'];
  for (const [name, value] of Object.entries(request.headers ?? {})) lines.push(`${name}: ${value}`);
  const length = request.contentLength ?? body?.length;
  if (length !== undefined) lines.push(`Content-Length: ${length}`);
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), body ?? Buffer.alloc(0)]);
}

async function* chunksOf(body: Uint8Array): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < body.length; offset += 16384) yield body.subarray(offset, offset + 16384);
}

/**
 * Runs `app` on the case in this process, through serveRequest (environ and response driver, no transport), the body
 * fed in 16 KiB chunks; what it sent, with everything it wrote to tsgi.errors.
 */
export async function runCaseInProcess(
  app: Application,
  testCase: ConformanceCase,
  scriptName: string,
): Promise<ObservedResponse & { errors: string }> {
  const body = requestBody(testCase.request);
  let errors = '';
  let status = 0;
  const headers: Record<string, string> = {};
  const chunks: Uint8Array[] = [];
  const outcome = await serveRequest(app, {
    variables: caseVariables(testCase.request, scriptName),
    body: body ? chunksOf(body) : undefined,
    errors: {
      write: (text) => void (errors += typeof text === 'string' ? text : Buffer.from(text).toString()),
    },
    sink: {
      sendHead(line: string, list: readonly Header[]) {
        status = Number(line.slice(0, 3));
        for (const [name, value] of list) headers[name.toLowerCase()] = value;
      },
      write(chunk) {
        chunks.push(chunk);
      },
      end() {},
    },
  });
  return { status, headers, body: Buffer.concat(chunks), complete: outcome.ok, errors };
}

/** Percent-decodes a path into a latin1 string, byte for byte, as web servers build PATH_INFO. */
export function decodePath(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * The RFC 3875 meta-variables a web server would pass for `request` with the app mounted at `scriptName`
 * (ISO-8859-1 strings): what the driver and CGI suites feed in, and what FastCGI sends as params.
 */
export function caseVariables(request: ConformanceRequest, scriptName: string): Record<string, string> {
  const body = requestBody(request);
  const vars: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: scriptName,
    PATH_INFO: decodePath(request.path),
    QUERY_STRING: request.query ?? '',
    REQUEST_URI: `${scriptName}${request.path}${request.query ? `?${request.query}` : ''}`,
    SERVER_NAME: '127.0.0.1',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_SOFTWARE: 'tsgi-conformance',
    REMOTE_ADDR: '127.0.0.1',
    HTTP_HOST: '127.0.0.1',
  };
  const length = request.contentLength ?? body?.length;
  if (length !== undefined) vars.CONTENT_LENGTH = String(length);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const key = name.toUpperCase().replace(/-/g, '_');
    if (key === 'CONTENT_TYPE' || key === 'CONTENT_LENGTH') vars[key] = value;
    else vars[`HTTP_${key}`] = value;
  }
  return vars;
}

/** A response as a transport's client saw it. */
export interface ObservedResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Readonly<Record<string, string>>;
  body: Uint8Array;
  /** False when the response was cut off (CGI exit status, FastCGI appStatus, unterminated HTTP body). */
  complete: boolean;
  /** What the app wrote to tsgi.errors, when the transport can capture it. */
  errors?: string;
}

function asBytes(body: string | Uint8Array, scriptName: string): Uint8Array {
  return typeof body === 'string' ? encoder.encode(body.replaceAll('{{SCRIPT_NAME}}', scriptName)) : body;
}

/** Asserts that `observed` is what `testCase.expect` asks for (mount point `scriptName` substituted). */
export function checkResponse(
  testCase: ConformanceCase,
  observed: ObservedResponse,
  scriptName: string,
): void {
  const want: ConformanceExpect = testCase.expect;
  const text = Buffer.from(observed.body).toString('latin1');
  expect(observed.status, `status (body: ${text.slice(0, 200)})`).toBe(want.status);
  for (const [name, value] of Object.entries(want.headers ?? {})) {
    if (value === null) expect(observed.headers, `header ${name} must be absent`).not.toHaveProperty(name);
    else expect(observed.headers[name], `header ${name}`).toBe(value);
  }
  if (want.body !== undefined) {
    const body = asBytes(want.body, scriptName);
    if (body.length > 4096) {
      expect(observed.body.length, 'body length').toBe(body.length);
      expect(Buffer.compare(Buffer.from(observed.body), Buffer.from(body)), 'body bytes').toBe(0);
    } else {
      expect(text).toBe(Buffer.from(body).toString('latin1'));
    }
  }
  if (want.bodyIncludes !== undefined) expect(text).toContain(want.bodyIncludes);
  if (want.complete !== null) expect(observed.complete, 'response complete').toBe(want.complete ?? true);
  if (want.errors !== undefined && observed.errors !== undefined)
    expect(observed.errors).toContain(want.errors);
}
