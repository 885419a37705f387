// The FastCGI codec against exact bytes: constants, headers, padding, name-value pairs, streams, the parser.
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/shared/errors.js';
import {
  FCGI_HEADER_LEN,
  Flags,
  ManagementVariable,
  ParamsDecoder,
  ProtocolStatus,
  RecordParser,
  RecordType,
  Role,
  decodeBeginRequest,
  decodeEndRequest,
  decodeHeader,
  decodePairs,
  encodeBeginRequest,
  encodeEndRequest,
  encodeHeader,
  encodePairs,
  encodeRecord,
  encodeStream,
  encodeUnknownType,
  paddingFor,
  streamSize,
  writeStream,
} from '../../../src/fastcgi/protocol.js';
import { pairs, record } from '../../helpers/fcgi-records.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

describe('spec constants', () => {
  it('numbers the eleven record types as FastCGI 1.0 §8 does', () => {
    expect(RecordType).toEqual({
      BeginRequest: 1,
      AbortRequest: 2,
      EndRequest: 3,
      Params: 4,
      Stdin: 5,
      Stdout: 6,
      Stderr: 7,
      Data: 8,
      GetValues: 9,
      GetValuesResult: 10,
      UnknownType: 11,
    });
  });

  it('numbers the roles, protocol statuses and the keep-conn flag as §8 does', () => {
    expect(Role).toEqual({ Responder: 1, Authorizer: 2, Filter: 3 });
    expect(ProtocolStatus).toEqual({ RequestComplete: 0, CantMpxConn: 1, Overloaded: 2, UnknownRole: 3 });
    expect(Flags.KeepConn).toBe(1);
    expect(Object.values(ManagementVariable)).toEqual(['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS']);
  });
});

describe('padding', () => {
  it.each([
    [0, 0],
    [1, 7],
    [7, 1],
    [8, 0],
    [9, 7],
    [65528, 0],
    [65535, 1],
  ])('pads %i content bytes with %i zero bytes to an 8-byte boundary', (length, padding) => {
    expect(paddingFor(length)).toBe(padding);
    expect(encodeRecord(RecordType.Stdout, 1, new Uint8Array(length)).length).toBe(8 + length + padding);
  });
});

describe('record header', () => {
  it.each([
    ['a small record', RecordType.Stdout, 1, 5, 3, '0106000100050300'],
    ['a big request id and length', RecordType.Params, 0xabcd, 65535, 1, '0104abcdffff0100'],
    ['a management record', RecordType.GetValues, 0, 0, 0, '0109000000000000'],
  ])('encodes and decodes %s', (_name, type, id, length, padding, bytes) => {
    const target = new Uint8Array(8);
    expect(encodeHeader(target, 0, type, id, length, padding)).toBe(FCGI_HEADER_LEN);
    expect(hex(target)).toBe(bytes);
    expect(decodeHeader(target)).toEqual({
      version: 1,
      type,
      requestId: id,
      contentLength: length,
      paddingLength: padding,
    });
  });

  it('refuses a content length over 65535 instead of wrapping it', () => {
    expect(() => encodeHeader(new Uint8Array(8), 0, 6, 1, 65536, 0)).toThrow(RangeError);
  });
});

describe('records of each type in one buffer', () => {
  it.each([
    [
      'FCGI_BEGIN_REQUEST (Responder, keep-conn)',
      encodeBeginRequest(1, Role.Responder, Flags.KeepConn),
      '0101000100080000' + '0001010000000000',
    ],
    [
      'FCGI_BEGIN_REQUEST (Filter, no flags)',
      encodeBeginRequest(258, Role.Filter, 0),
      '0101010200080000' + '0003000000000000',
    ],
    ['FCGI_ABORT_REQUEST', encodeRecord(RecordType.AbortRequest, 1), '0102000100000000'],
    [
      'FCGI_END_REQUEST (appStatus 1, complete)',
      encodeEndRequest(1, 1, ProtocolStatus.RequestComplete),
      '0103000100080000' + '0000000100000000',
    ],
    [
      'FCGI_END_REQUEST (big appStatus, overloaded)',
      encodeEndRequest(7, 0x01020304, ProtocolStatus.Overloaded),
      '0103000700080000' + '0102030402000000',
    ],
    [
      'FCGI_PARAMS',
      encodeRecord(RecordType.Params, 1, pairs(['A', 'b'])),
      '0104000100040400' + '0101416200000000',
    ],
    ['the empty FCGI_PARAMS', encodeRecord(RecordType.Params, 1), '0104000100000000'],
    [
      'FCGI_STDIN',
      encodeRecord(RecordType.Stdin, 1, Buffer.from('hi')),
      '0105000100020600' + '6869000000000000',
    ],
    [
      'FCGI_STDOUT',
      encodeRecord(RecordType.Stdout, 2, Buffer.from('12345678')),
      '0106000200080000' + '3132333435363738',
    ],
    [
      'FCGI_STDERR',
      encodeRecord(RecordType.Stderr, 1, Buffer.from('e')),
      '0107000100010700' + '6500000000000000',
    ],
    [
      'FCGI_DATA',
      encodeRecord(RecordType.Data, 1, Buffer.from('d')),
      '0108000100010700' + '6400000000000000',
    ],
    [
      'FCGI_GET_VALUES',
      encodeRecord(RecordType.GetValues, 0, pairs(['FCGI_MPXS_CONNS', ''])),
      '0109000000110700' + '0f00' + Buffer.from('FCGI_MPXS_CONNS').toString('hex') + '00000000000000',
    ],
    [
      'FCGI_GET_VALUES_RESULT',
      encodeRecord(RecordType.GetValuesResult, 0, pairs(['FCGI_MPXS_CONNS', '1'])),
      '010a000000120600' + '0f01' + Buffer.from('FCGI_MPXS_CONNS1').toString('hex') + '000000000000',
    ],
    ['FCGI_UNKNOWN_TYPE', encodeUnknownType(99), '010b000000080000' + '6300000000000000'],
  ])('%s', (_name, encoded, bytes) => {
    expect(hex(encoded)).toBe(bytes);
  });

  it('matches the hand-built record helper for every type', () => {
    for (let type = 1; type <= 11; type++) {
      expect(hex(encodeRecord(type, 3, Buffer.from('abc')))).toBe(hex(record(type, 3, 'abc')));
    }
  });

  it('decodes BEGIN_REQUEST and END_REQUEST bodies and refuses short ones', () => {
    expect(decodeBeginRequest(Buffer.from('0002010000000000', 'hex'))).toEqual({ role: 2, flags: 1 });
    expect(decodeEndRequest(Buffer.from('ffffffff03000000', 'hex'))).toEqual({
      appStatus: 0xffffffff,
      protocolStatus: 3,
    });
    expect(() => decodeBeginRequest(new Uint8Array(7))).toThrow(ProtocolError);
    expect(() => decodeEndRequest(new Uint8Array(3))).toThrow(ProtocolError);
  });
});

describe('name-value pairs (§3.4)', () => {
  // The length table of Go's fcgi_test.go sizeTests, plus the 1/4-byte boundary from both sides.
  it.each([
    [0, '00'],
    [127, '7f'],
    [128, '80000080'],
    [1000, '800003e8'],
    [33554431, '81ffffff'],
  ])('writes a length of %i as %s', (length, bytes) => {
    const encoded = encodePairs([['', Buffer.alloc(length)]]);
    expect(hex(encoded.subarray(1, 1 + bytes.length / 2))).toBe(bytes);
    let decoded = -1;
    decodePairs(encoded, (_name, value) => (decoded = value.length));
    expect(decoded).toBe(length);
  });

  it.each([
    ['1-byte name, 1-byte value', 'a'.repeat(3), 'b'.repeat(127)],
    ['1-byte name, 4-byte value', 'a'.repeat(127), 'b'.repeat(128)],
    ['4-byte name, 1-byte value', 'a'.repeat(128), 'b'],
    ['4-byte name, 4-byte value', 'a'.repeat(300), 'b'.repeat(70000)],
  ])('round-trips a pair with a %s', (_layout, name, value) => {
    const encoded = encodePairs([[name, value]]);
    expect(hex(encoded)).toBe(hex(pairs([name, value])));
    const seen: [string, string][] = [];
    decodePairs(encoded, (n, v) => seen.push([n, v]));
    expect(seen).toEqual([[name, value]]);
  });

  it('decodes repeated short names and values to equal strings, and tells apart equal-length ones', () => {
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      decodePairs(pairs(['AB', 'x1'], ['BA', 'x2'], ['AB', ''], ['é', 'ÿ']), (n, v) =>
        seen.push(`${n}=${v}`),
      );
    }
    expect(seen).toEqual(Array.from({ length: 3 }, () => ['AB=x1', 'BA=x2', 'AB=', 'é=ÿ']).flat());
  });

  it('decodes every byte 0x00-0xff to the latin1 char of the same code', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const seen: string[] = [];
    decodePairs(Buffer.concat([Buffer.from([1, 0x80, 0, 1, 0]), Buffer.from('X'), all]), (_n, v) =>
      seen.push(v),
    );
    expect(seen[0]).toBe(all.toString('latin1'));
    expect([...seen[0]!].map((c) => c.charCodeAt(0))).toEqual([...all]);
  });

  it('refuses to encode a char above U+00FF rather than mangle it', () => {
    expect(() => encodePairs([['PATH_INFO', '/café€']])).toThrow(/latin1/);
  });

  it.each([
    ['a value length missing', '01'],
    ['a 4-byte name length cut short', '8000'],
    ['a 4-byte value length cut short', '0180'],
    ['a name running past the end', '0500' + '6162'],
    ['a value running past the end', '0105' + '41' + '6263'],
    ['a huge 4-byte length', 'ffffffff00'],
  ])('throws ProtocolError for %s', (_name, bytes) => {
    expect(() => decodePairs(Buffer.from(bytes, 'hex'), () => undefined)).toThrow(ProtocolError);
  });
});

describe('ParamsDecoder', () => {
  const stream = pairs(['REQUEST_METHOD', 'GET'], ['LONG', 'v'.repeat(200)], ['QUERY_STRING', 'a=1']);

  it('decodes a pair split across two records at every byte (flup and PHP decode per record)', () => {
    for (let split = 1; split < stream.length; split++) {
      const decoder = new ParamsDecoder(1024);
      decoder.push(stream.subarray(0, split));
      decoder.push(stream.subarray(split));
      expect(decoder.finish(), `split at ${split}`).toEqual({
        REQUEST_METHOD: 'GET',
        LONG: 'v'.repeat(200),
        QUERY_STRING: 'a=1',
      });
    }
  });

  it('keeps the last value of a repeated name and treats __proto__ as a plain name', () => {
    const decoder = new ParamsDecoder(1024);
    decoder.push(pairs(['A', '1'], ['__proto__', 'x'], ['A', '2']));
    const vars = decoder.finish();
    expect(vars.A).toBe('2');
    expect(Object.getPrototypeOf(vars)).toBe(Object.prototype);
    expect(Object.keys(vars)).toEqual(['A', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(vars, '__proto__')?.value).toBe('x');
  });

  it('gives each request its own values when the names repeat, and handles a repeat after a shape', () => {
    const decode = (...list: [string, string][]): Record<string, string> => {
      const decoder = new ParamsDecoder(1024);
      decoder.push(pairs(...list));
      return decoder.finish();
    };
    const first = decode(['A', '1'], ['B', '2']);
    const second = decode(['A', '3'], ['B', '4']);
    expect([first, second]).toEqual([
      { A: '1', B: '2' },
      { A: '3', B: '4' },
    ]);
    expect(decode(['A', '5'], ['A', '6'])).toEqual({ A: '6' });
    expect(decode(['B', '7'], ['A', '8'])).toEqual({ B: '7', A: '8' });
    expect(decode(['A', '9'])).toEqual({ A: '9' });
    expect(first).toEqual({ A: '1', B: '2' });
  });

  it('decodes the bytes of each stream when a value differs from the last stream at the same place', () => {
    // The decoder compares against the last stream's strings by position first (issue 13).
    const decode = (...list: [string, string][]): Record<string, string> => {
      const decoder = new ParamsDecoder(4096);
      decoder.push(pairs(...list));
      return decoder.finish();
    };
    const long = 'x'.repeat(300);
    expect(decode(['REMOTE_PORT', '41946'], ['LONG', long], ['EMPTY', ''])).toEqual({
      REMOTE_PORT: '41946',
      LONG: long,
      EMPTY: '',
    });
    expect(decode(['REMOTE_PORT', '41947'], ['LONG', `${long.slice(1)}y`], ['EMPTY', 'now'])).toEqual({
      REMOTE_PORT: '41947',
      LONG: `${long.slice(1)}y`,
      EMPTY: 'now',
    });
    expect(decode(['REMOTE_PORS', '41947'], ['\xff', '\xe9t\xe9'])).toEqual({
      REMOTE_PORS: '41947',
      '\xff': '\xe9t\xe9',
    });
    const many = Array.from({ length: 80 }, (_, i): [string, string] => [`N${i}`, `v${i}`]);
    decode(...many);
    const changed = many.map(([name, value]): [string, string] => [name, `${value}!`]);
    expect(decode(...changed)).toEqual(Object.fromEntries(changed));
  });

  it('throws ProtocolError once the stream passes maxParamsBytes', () => {
    const decoder = new ParamsDecoder(100);
    decoder.push(new Uint8Array(100));
    expect(() => decoder.push(new Uint8Array(1))).toThrow(/maxParamsBytes/);
  });
});

describe('streams', () => {
  it.each([
    [0, 65528, 0],
    [1, 65528, 16],
    [65528, 65528, 65536],
    [65529, 65528, 65536 + 16],
    [200000, 65528, 3 * 65536 + 8 + 3416],
    [20, 8, 3 * 16],
  ])('sizes %i bytes in records of at most %i as %i bytes', (length, max, size) => {
    expect(streamSize(length, max)).toBe(size);
    expect(encodeStream(RecordType.Stdout, 1, new Uint8Array(length), max, false).length).toBe(size);
  });

  it('splits data over record boundaries that differ from chunk boundaries', () => {
    const chunks = [Buffer.from('abc'), Buffer.from('defghij'), Buffer.from('k')];
    const target = Buffer.alloc(streamSize(11, 4));
    writeStream(target, 0, RecordType.Stdout, 9, chunks, 11, 4);
    expect(hex(target)).toBe(
      hex(Buffer.concat([record(6, 9, 'abcd'), record(6, 9, 'efgh'), record(6, 9, 'ijk')])),
    );
  });

  it('ends a stream with the empty record when asked', () => {
    expect(hex(encodeStream(RecordType.Stdin, 1, Buffer.from('x')))).toBe(
      hex(Buffer.concat([record(5, 1, 'x'), record(5, 1)])),
    );
  });
});

describe('RecordParser', () => {
  const wire = Buffer.concat([
    record(1, 1, Buffer.from([0, 1, 1, 0, 0, 0, 0, 0])),
    record(4, 1, pairs(['REQUEST_METHOD', 'GET'])),
    record(4, 1),
    record(5, 1, 'x'.repeat(1000)),
    record(5, 1, 'odd', 255),
    record(5, 1),
    record(99, 0, 'no padding at all', 0),
  ]);
  const want = [
    [1, 1, '0001010000000000'],
    [4, 1, hex(pairs(['REQUEST_METHOD', 'GET']))],
    [4, 1, ''],
    [5, 1, hex(Buffer.from('x'.repeat(1000)))],
    [5, 1, hex(Buffer.from('odd'))],
    [5, 1, ''],
    [99, 0, hex(Buffer.from('no padding at all'))],
  ];

  function parseIn(pieces: Uint8Array[]): (string | number)[][] {
    const seen: (string | number)[][] = [];
    const parser = new RecordParser((type, id, content) => seen.push([type, id, hex(content)]));
    for (const piece of pieces) parser.push(piece);
    expect(parser.midRecord).toBe(false);
    return seen;
  }

  it('parses records given in one chunk, padding of any length skipped', () => {
    expect(parseIn([wire])).toEqual(want);
  });

  it('parses records fed one byte at a time', () => {
    expect(parseIn([...wire].map((byte) => Uint8Array.of(byte)))).toEqual(want);
  });

  it('parses records split in two at every point', () => {
    for (let split = 0; split <= wire.length; split++) {
      expect(parseIn([wire.subarray(0, split), wire.subarray(split)]), `split at ${split}`).toEqual(want);
    }
  });

  it('parses records split in three at many points', () => {
    for (let a = 0; a <= wire.length; a += 7) {
      for (let b = a; b <= wire.length; b += 13) {
        expect(parseIn([wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)])).toEqual(want);
      }
    }
  });

  it('reports a record in progress as midRecord', () => {
    const parser = new RecordParser(() => undefined);
    parser.push(record(5, 1, 'abc').subarray(0, 10));
    expect(parser.midRecord).toBe(true);
  });

  it.each([0, 2, 0x46])('throws ProtocolError for version byte %i and parses nothing after it', (version) => {
    const seen: number[] = [];
    const parser = new RecordParser((type) => seen.push(type));
    const bad = record(5, 1, 'x');
    bad[0] = version;
    expect(() => parser.push(Buffer.concat([record(4, 1), bad, record(6, 1)]))).toThrow(/version/);
    expect(seen).toEqual([4]);
    parser.push(record(6, 1));
    expect(seen).toEqual([4]);
  });

  it('stops at once when told to, even mid-chunk', () => {
    const seen: number[] = [];
    const parser = new RecordParser((type) => {
      seen.push(type);
      parser.stop();
    });
    parser.push(Buffer.concat([record(4, 1), record(5, 1)]));
    expect(seen).toEqual([4]);
  });
});
