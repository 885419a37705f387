// The conformance table: each case is an app, a request and the response every tsgi transport must produce.
//
// Transport-neutral format (run by the response driver, the CGI runner, the development server, FastCGI):
//   app      the name of an export of test/conformance/apps.ts (a spawned server loads `apps.ts#<app>`).
//   request  what a client sends, before any web server touches it:
//            method   HTTP method
//            path     the path below the app's mount point, percent-encoded as on the wire ('/caf%E9'); the
//                     transport percent-decodes it into PATH_INFO as a web server does (bytes, not UTF-8)
//            query    QUERY_STRING, without '?', passed on as is
//            headers  request headers (name → value); each becomes HTTP_<NAME> (Content-Type → CONTENT_TYPE)
//            body     request body; CONTENT_LENGTH is its length unless `contentLength` says otherwise
//            contentLength  the CONTENT_LENGTH to claim (a lying client: shorter or longer than `body`)
//   expect   what the client must get:
//            status   the status code
//            headers  lower-case name → exact value, or null for "must not be present"
//            body     the exact body (string: UTF-8); '{{SCRIPT_NAME}}' stands for the transport's mount point
//            bodyIncludes  a substring of the body (for responses that are cut off)
//            complete false when the response must be cut off (error after the head, Content-Length not met):
//                     CGI exits non-zero, FastCGI ends with a non-zero appStatus, HTTP never ends the body;
//                     default true; null when a client cannot tell (a body longer than its Content-Length)
//            errors   a substring that must appear on tsgi.errors (transports that can capture it check it)
//   test/conformance/expect.ts turns a request into CGI variables (caseVariables) and checks a response
//   (checkResponse) so that every transport applies the table the same way.
//   Each transport mounts the app at a SCRIPT_NAME of its choosing and substitutes it in `expect.body`.
import { patternBytes } from './apps.js';
import type * as apps from './apps.js';

/** The name of an application in apps.ts (functions only; patternBytes is a helper). */
export type AppName = Exclude<keyof typeof apps, 'patternBytes'>;

export interface ConformanceRequest {
  method: string;
  path: string;
  query?: string;
  headers?: Readonly<Record<string, string>>;
  body?: string | Uint8Array;
  contentLength?: number;
}

export interface ConformanceExpect {
  status: number;
  headers?: Readonly<Record<string, string | null>>;
  body?: string | Uint8Array;
  bodyIncludes?: string;
  complete?: boolean | null;
  errors?: string;
}

export interface ConformanceCase {
  name: string;
  app: AppName;
  request: ConformanceRequest;
  expect: ConformanceExpect;
}

const MIB = 1024 * 1024;

/** The table. Names are sentences: they become test names in every transport's suite. */
export const CASES: readonly ConformanceCase[] = [
  {
    name: 'a GET answers 200 with the body and its headers',
    app: 'hello',
    request: { method: 'GET', path: '/' },
    expect: {
      status: 200,
      headers: { 'content-type': 'text/plain', 'content-length': '14' },
      body: 'Hello, world!\n',
    },
  },
  {
    name: 'the query string reaches the app as QUERY_STRING, undecoded',
    app: 'requestLine',
    request: { method: 'GET', path: '/search', query: 'q=a%20b&x=1' },
    expect: { status: 200, body: 'GET {{SCRIPT_NAME}}|/search?q=a%20b&x=1' },
  },
  {
    name: 'the path below the mount point is PATH_INFO under SCRIPT_NAME',
    app: 'requestLine',
    request: { method: 'GET', path: '/some/deep/path' },
    expect: { status: 200, body: 'GET {{SCRIPT_NAME}}|/some/deep/path?' },
  },
  {
    name: 'a non-UTF-8 byte in the path reaches PATH_INFO as that exact byte',
    app: 'pathBytes',
    request: { method: 'GET', path: '/caf%E9' },
    expect: { status: 200, body: 'PATH_INFO bytes: 2f636166e9' },
  },
  {
    name: 'request headers arrive as HTTP_* variables, a Proxy header as HTTP_PROXY (its own name)',
    app: 'headerEcho',
    request: { method: 'GET', path: '/', headers: { 'X-Test': 'yes', Proxy: 'http://proxy.invalid:3128' } },
    expect: { status: 200, body: 'HTTP_X_TEST=yes\nHTTP_PROXY=http://proxy.invalid:3128\n' },
  },
  {
    name: 'a POST body is echoed byte for byte with its Content-Type',
    app: 'echoBody',
    request: {
      method: 'POST',
      path: '/echo',
      headers: { 'Content-Type': 'application/x-test' },
      body: Uint8Array.from([0, 1, 2, 255, 13, 10, 0x80]),
    },
    expect: {
      status: 200,
      headers: { 'content-type': 'application/x-test' },
      body: Uint8Array.from([0, 1, 2, 255, 13, 10, 0x80]),
    },
  },
  {
    name: 'a 1 MiB POST body is echoed whole',
    app: 'echoBody',
    request: { method: 'POST', path: '/echo', body: patternBytes(MIB) },
    expect: { status: 200, body: patternBytes(MIB) },
  },
  {
    name: 'a POST without a body gives the app an empty input',
    app: 'bodyReport',
    request: { method: 'POST', path: '/' },
    expect: { status: 200, body: 'read 0 bytes' },
  },
  {
    name: 'a CONTENT_LENGTH shorter than the body limits what the app reads to CONTENT_LENGTH',
    app: 'bodyReport',
    request: { method: 'POST', path: '/', body: 'abcdefghij', contentLength: 4 },
    expect: { status: 200, body: 'read 4 bytes' },
  },
  {
    name: 'a CONTENT_LENGTH longer than the body makes reading fail with ERR_BODY_TRUNCATED',
    app: 'bodyReport',
    request: { method: 'POST', path: '/', body: 'abcd', contentLength: 10 },
    expect: { status: 200, body: 'error ERR_BODY_TRUNCATED' },
  },
  {
    name: 'a HEAD request runs the app with REQUEST_METHOD HEAD and keeps the headers',
    app: 'methodEcho',
    request: { method: 'HEAD', path: '/' },
    expect: { status: 200, headers: { 'content-length': '12', 'content-type': 'text/plain' } },
  },
  {
    name: 'a streamed body arrives whole, in order',
    app: 'stream',
    request: { method: 'GET', path: '/stream' },
    expect: { status: 200, body: 'one\ntwo\nthree\n' },
  },
  {
    name: 'an async app returning an async generator is served',
    app: 'asyncGenerator',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, body: 'async body' },
  },
  {
    name: 'a redirect keeps its status and Location',
    app: 'redirect',
    request: { method: 'GET', path: '/old' },
    expect: { status: 302, headers: { location: '/elsewhere' }, body: '' },
  },
  {
    name: 'a 404 from the app is passed on with its body',
    app: 'notFound',
    request: { method: 'GET', path: '/missing' },
    expect: { status: 404, body: 'Not Found: /missing\n' },
  },
  {
    name: 'an empty body is a complete 200 with no bytes',
    app: 'emptyBody',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, body: '' },
  },
  {
    name: 'chunks passed to write() are sent in order before the iterable',
    app: 'writeCalls',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, body: 'written twice' },
  },
  {
    name: "the body's close() is called once the response is done",
    app: 'closeReported',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, body: 'body with close', errors: 'conformance: close called' },
  },
  {
    name: 'a 1 MiB response body is sent whole',
    app: 'largeBody',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, headers: { 'content-length': String(MIB) }, body: patternBytes(MIB) },
  },
  {
    name: 'startResponse called again with excInfo before the head replaces the status',
    app: 'excInfoReplaces',
    request: { method: 'GET', path: '/' },
    expect: { status: 503, body: 'replaced' },
  },
  {
    name: 'an app that throws before its head gets a 500 and its stack goes to tsgi.errors',
    app: 'throwsBeforeHead',
    request: { method: 'GET', path: '/' },
    expect: { status: 500, errors: 'conformance: thrown before the head' },
  },
  {
    name: 'an app that throws after its head is cut off, never given a second status',
    app: 'throwsAfterHead',
    request: { method: 'GET', path: '/' },
    expect: {
      status: 200,
      bodyIncludes: 'partial',
      complete: false,
      errors: 'conformance: thrown after the head',
    },
  },
  {
    name: 'a header value with CR LF is refused with a 500 and no injected header line',
    app: 'headerInjection',
    request: { method: 'GET', path: '/' },
    expect: { status: 500, headers: { 'set-cookie': null, 'x-injected': null } },
  },
  {
    // src/shared/headers.ts parseStatus: the phrase carries no meaning on the wire (RFC 9110 §15), so a bare
    // code is served with the standard phrase, and validate() flags it in development.
    name: 'a status without a reason phrase is served with the standard phrase',
    app: 'statusWithoutReason',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, body: 'served' },
  },
  {
    name: 'a status with control characters is refused with a 500 and nothing injected',
    app: 'statusWithControl',
    request: { method: 'GET', path: '/' },
    expect: { status: 500, headers: { 'set-cookie': null } },
  },
  {
    name: 'a string chunk is refused with a 500 (bytes only)',
    app: 'stringChunk',
    request: { method: 'GET', path: '/' },
    expect: { status: 500 },
  },
  {
    name: 'a body that is not iterable is refused with a 500',
    app: 'nonIterable',
    request: { method: 'GET', path: '/' },
    expect: { status: 500 },
  },
  {
    name: 'a body shorter than its Content-Length is cut off',
    app: 'shortContentLength',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, bodyIncludes: 'hello', complete: false },
  },
  {
    name: 'a body longer than its Content-Length is cut off at Content-Length',
    app: 'longContentLength',
    request: { method: 'GET', path: '/' },
    expect: { status: 200, body: 'hello', complete: null },
  },
  {
    // Issue 9: one refusal on every front end (serveRequest): the driver's page, the reason only in the log.
    name: 'a request that cannot become an environ (CONTENT_LENGTH past 2^53 - 1) is refused with a 400',
    app: 'hello',
    request: { method: 'POST', path: '/', contentLength: 2 ** 53 },
    expect: {
      status: 400,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': '12' },
      body: 'Bad Request\n',
      errors: 'CONTENT_LENGTH',
    },
  },
];
