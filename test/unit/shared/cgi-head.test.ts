// The CGI response-head rule (RFC 3875 §6) that the CGI host, fromFastCgi and the FastCGI client share: exact
// bytes in, the parsed head out, the same answer whichever way the bytes are split into chunks.
import { describe, expect, it } from 'vitest';
import { CgiHeadError, CgiHeadParser, gatewayHeaders, type CgiHead } from '../../../src/shared/cgi-head.js';

type Parsed = Omit<CgiHead, 'rest'> & { rest: string };

/** Feeds `chunks` to a fresh parser: the head, or the error it refused with (nothing more needed: undefined). */
function feed(chunks: Buffer[], max?: number): Parsed | CgiHeadError | undefined {
  const parser = new CgiHeadParser(max);
  try {
    for (const chunk of chunks) {
      const head = parser.push(chunk);
      if (head !== undefined) return { ...head, rest: Buffer.from(head.rest).toString('latin1') };
    }
    return undefined;
  } catch (error) {
    if (error instanceof CgiHeadError) return error;
    throw error;
  }
}

/** Every way of cutting `bytes` in two, plus one byte at a time: all must give the one-chunk answer. */
function splits(bytes: Buffer): Buffer[][] {
  const ways: Buffer[][] = [[bytes]];
  for (let at = 0; at <= bytes.length; at++) ways.push([bytes.subarray(0, at), bytes.subarray(at)]);
  ways.push([...bytes].map((byte) => Buffer.from([byte])));
  return ways;
}

// The rest after a head is everything after the blank line of the stream, so a split after it yields
// a shorter rest: compare heads with the rest of the chunk that completed it appended to what followed.
function atEverySplit(text: string, max?: number): Parsed | CgiHeadError | undefined {
  const bytes = Buffer.from(text, 'latin1');
  const whole = feed([bytes], max);
  for (const chunks of splits(bytes)) {
    const parser = new CgiHeadParser(max);
    let got: Parsed | CgiHeadError | undefined;
    for (let i = 0; i < chunks.length && got === undefined; i++) {
      try {
        const head = parser.push(chunks[i]!);
        if (head === undefined) continue;
        const after = Buffer.concat([Buffer.from(head.rest), ...chunks.slice(i + 1)]);
        got = { ...head, rest: after.toString('latin1') };
      } catch (error) {
        got = error as CgiHeadError;
      }
    }
    if (got instanceof CgiHeadError || whole instanceof CgiHeadError)
      expect([got?.constructor.name, (got as Error | undefined)?.message]).toEqual([
        whole?.constructor.name,
        (whole as Error | undefined)?.message,
      ]);
    else expect(got).toEqual(whole);
  }
  return whole;
}

describe('CgiHeadParser: valid heads, at every split point', () => {
  it.each<[string, string, Partial<Parsed>]>([
    [
      'CRLF, Status and Content-Type',
      'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope',
      {
        status: '404 Not Found',
        statusCode: 404,
        headers: [['Content-Type', 'text/plain']],
        redirect: undefined,
        rest: 'nope',
      },
    ],
    [
      'bare LF (§6.2: servers accept both)',
      'Content-Type: text/html\n\n<p>',
      { status: '200 OK', statusCode: 200, headers: [['Content-Type', 'text/html']], rest: '<p>' },
    ],
    [
      'LF and CRLF mixed',
      'Content-Type: text/html\r\nX-A: 1\n\r\nbody',
      {
        headers: [
          ['Content-Type', 'text/html'],
          ['X-A', '1'],
        ],
        rest: 'body',
      },
    ],
    [
      'a local redirect (§6.2.2): answered as 302',
      'Location: /elsewhere\r\n\r\n',
      {
        status: '302 Found',
        statusCode: 302,
        redirect: 'local',
        headers: [['Location', '/elsewhere']],
        rest: '',
      },
    ],
    [
      'a client redirect (§6.2.3)',
      'Location: http://example.com/\n\n',
      { status: '302 Found', redirect: 'client' },
    ],
    [
      'a client redirect with a document (§6.2.4): Status wins',
      'Status: 301 Moved\r\nLocation: http://example.com/\r\nContent-Type: text/html\r\n\r\n<a>',
      { status: '301 Moved', statusCode: 301, redirect: undefined, rest: '<a>' },
    ],
    [
      'a bare Status code gets its standard phrase',
      'Status: 404\r\n\r\n',
      { status: '404 Not Found', statusCode: 404, headers: [] },
    ],
    ['Status alone, with OWS around it', 'Status:\t 204 No Content \r\n\r\n', { status: '204 No Content' }],
    [
      'repeated fields in order, blank lines after the head belong to the body',
      'Status: 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n\r\nbody',
      {
        headers: [
          ['Set-Cookie', 'a=1'],
          ['Set-Cookie', 'b=2'],
        ],
        rest: '\r\nbody',
      },
    ],
    [
      'obs-text (a latin1 byte) in a value, a colon inside a value, an empty value',
      'X-Name: caf\xe9\r\nX-Time: 12:30\r\nX-Empty:\r\n\r\n',
      {
        headers: [
          ['X-Name', 'caf\xe9'],
          ['X-Time', '12:30'],
          ['X-Empty', ''],
        ],
      },
    ],
  ])('%s', (_name, text, expected) => {
    expect(atEverySplit(text)).toMatchObject(expected);
  });

  it('returns undefined until the blank line comes, and counts what it took', () => {
    const parser = new CgiHeadParser();
    expect(parser.push(Buffer.from('Content-Type: text/plain\r\n'))).toBeUndefined();
    expect(parser.push(Buffer.from('\r'))).toBeUndefined();
    expect(parser.received).toBe(27);
    expect(parser.push(Buffer.from('\nhi'))?.rest).toEqual(Buffer.from('hi'));
  });
});

describe('CgiHeadParser: refusals, at every split point', () => {
  it.each<[string, string, CgiHeadError['kind'], RegExp]>([
    ['a header line without a colon', 'Content-Type text/plain\r\n\r\nx', 'line', /bad header line/],
    ['a line that is only text', 'just text\n\n', 'line', /bad header line "just text"/],
    ['an empty field name', ': x\r\n\r\n', 'line', /bad header line/],
    ['a space before the colon', 'X-A : 1\r\n\r\n', 'line', /bad header line/],
    ['a bad Status', 'Status: abc\r\n\r\n', 'status', /bad Status "abc"/],
    ['a Status past 599', 'Status: 700 Odd\r\n\r\n', 'status', /bad Status/],
    ['a Status below 100', 'Status: 099 Odd\r\n\r\n', 'status', /bad Status/],
    ['a Status with no space before its phrase', 'Status: 200OK\r\n\r\n', 'status', /bad Status/],
    ['two Status fields', 'Status: 200 OK\r\nStatus: 404 Not Found\r\n\r\n', 'status', /two Status/],
    ['obs-fold (a line starting with SP)', 'X-A: one\r\n two\r\n\r\n', 'fold', /obs-fold/],
    ['obs-fold (a line starting with HTAB)', 'X-A: one\n\ttwo\n\n', 'fold', /obs-fold/],
    ['a NUL inside a value', 'X-A: a\x00b\r\n\r\n', 'value', /bad value for header X-A/],
    ['a bare CR inside a value', 'X-A: a\rb\r\n\r\n', 'value', /bad value for header X-A/],
    ['a control character inside a value', 'X-A: a\x01b\r\n\r\n', 'value', /bad value for header X-A/],
    ['a CR at the start of a line', 'X-A: 1\r\n\rX-B: 2\r\n\r\n', 'line', /bad header line/],
    ['an empty head (CRLF first)', '\r\nbody', 'empty', /empty header block/],
    ['an empty head (LF first)', '\nbody', 'empty', /empty header block/],
  ])('%s', (_name, text, kind, message) => {
    const result = atEverySplit(text);
    expect(result).toBeInstanceOf(CgiHeadError);
    expect(result).toMatchObject({ kind, message: expect.stringMatching(message) });
  });

  it('names the field whose value was refused', () => {
    expect(feed([Buffer.from('X-A: a\x00b\r\n\r\n')])).toMatchObject({ field: 'X-A' });
  });

  it('needs more while the head is short of the limit, and refuses past it without a blank line', () => {
    const text = `X-A: ${'a'.repeat(90)}\r\n`;
    expect(atEverySplit(text, 100)).toBeUndefined();
    expect(atEverySplit(text.repeat(2), 100)).toMatchObject({ kind: 'too-long' });
  });

  it('refuses a head that ends past the limit even when its blank line came in the same chunk', () => {
    const text = `X-A: ${'a'.repeat(200)}\r\n\r\nbody`;
    expect(feed([Buffer.from(text)], 100)).toMatchObject({ kind: 'too-long' });
    expect(feed([Buffer.from(text)], 300)).toMatchObject({ rest: 'body' });
  });

  it('holds no more than the limit: a huge head of many chunks is refused once it passes 64 KiB', () => {
    const parser = new CgiHeadParser();
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let fed = 0;
    expect(() => {
      for (let i = 0; i < 1000; i++) {
        fed += chunk.length;
        parser.push(chunk);
      }
    }).toThrow(/no end of header block in the first 65536 bytes/);
    expect(fed).toBe(5 * 16 * 1024);
  });
});

describe('gatewayHeaders', () => {
  it('drops hop-by-hop fields and a Content-Length that is not a byte count, keeps the rest in order', () => {
    expect(
      gatewayHeaders([
        ['Content-Type', 'text/plain'],
        ['Connection', 'close'],
        ['Transfer-Encoding', 'chunked'],
        ['Content-Length', '12'],
        ['Keep-Alive', 'timeout=5'],
        ['X-A', '1'],
      ]),
    ).toEqual([
      ['Content-Type', 'text/plain'],
      ['Content-Length', '12'],
      ['X-A', '1'],
    ]);
    expect(gatewayHeaders([['Content-Length', '12, 12']])).toEqual([]);
    expect(gatewayHeaders([['content-length', '-1']])).toEqual([]);
  });
});
