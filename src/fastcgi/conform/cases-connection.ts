// Connection, multiplexing and management-record cases: keep-conn, abort, request ids, GET_VALUES.
import { beginRequest, pairs, parseRecords, record, stdoutOf, wholeRequest } from './bytes.js';
import { endOf, expectResponse, type ConformCase } from './case.js';
import { CaseFailure } from './probe.js';

/** GET_VALUES_RESULT content as name → value (§3.4 pairs, 1- or 4-byte lengths); fails on a malformed body. */
function readPairs(bytes: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  const length = (): number => {
    if (at >= bytes.length)
      throw new CaseFailure('FCGI_GET_VALUES_RESULT has a malformed name-value pair (§3.4)');
    const first = bytes[at]!;
    if (first < 0x80) return ((at += 1), first);
    if (at + 4 > bytes.length) throw new CaseFailure('FCGI_GET_VALUES_RESULT has a cut 4-byte length (§3.4)');
    const value = bytes.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return value;
  };
  while (at < bytes.length) {
    const nameLength = length();
    const valueLength = length();
    if (at + nameLength + valueLength > bytes.length) {
      throw new CaseFailure('FCGI_GET_VALUES_RESULT has a pair running past its end (§3.4)');
    }
    const name = bytes.toString('latin1', at, at + nameLength);
    out.set(name, bytes.toString('latin1', at + nameLength, at + nameLength + valueLength));
    at += nameLength + valueLength;
  }
  return out;
}

const MANAGEMENT_NAMES = ['FCGI_MAX_CONNS', 'FCGI_MAX_REQS', 'FCGI_MPXS_CONNS'] as const;
const getValues = (names: readonly string[]): Buffer =>
  record(9, 0, pairs(...names.map((n) => [n, ''] as const)));
const isResult = (r: { type: number; id: number }): boolean => r.type === 10 && r.id === 0;

export const CONNECTION_CASES: readonly ConformCase[] = [
  {
    id: 'connection.keep-conn',
    group: 'connection',
    section: '§5.1',
    title: 'with FCGI_KEEP_CONN the connection stays open and serves request id 1 again',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(wholeRequest(1, context.vars));
      expectResponse(await probe.untilEnd(1), 1);
      const first = probe.received().length;
      probe.write(wholeRequest(1, context.vars));
      await probe.until('a second FCGI_END_REQUEST for request 1', (records) => {
        const ends = records.filter((r) => r.type === 3 && r.id === 1);
        return ends.length === 2;
      });
      expectResponse(parseRecords(probe.received().subarray(first)), 1);
    },
  },
  {
    id: 'connection.close-without-keep-conn',
    group: 'connection',
    section: '§5.1',
    title: 'without FCGI_KEEP_CONN the responder closes the connection after END_REQUEST',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(wholeRequest(1, context.vars, '', 0));
      expectResponse(await probe.untilEnd(1), 1);
      if (!(await probe.settle(context.timeoutMs))) {
        throw new CaseFailure(`the connection was still open ${context.timeoutMs} ms after END_REQUEST`);
      }
    },
  },
  {
    id: 'connection.abort-request',
    group: 'connection',
    section: '§5.4',
    title:
      'FCGI_ABORT_REQUEST mid-body is answered with END_REQUEST, and the connection serves the next request',
    run: async (context) => {
      const probe = await context.connect();
      const vars = {
        ...context.vars,
        REQUEST_METHOD: 'POST',
        CONTENT_TYPE: 'text/plain',
        CONTENT_LENGTH: '1000',
      };
      probe.write(
        Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(vars))), record(4, 1)]),
      );
      probe.write(record(5, 1, 'x'.repeat(10)));
      probe.write(record(2, 1));
      endOf(await probe.untilEnd(1), 1);
      probe.write(wholeRequest(2, context.vars));
      expectResponse(await probe.untilEnd(2), 2);
    },
  },
  {
    id: 'multiplexing.concurrent',
    group: 'multiplexing',
    section: '§3.3',
    title:
      'two interleaved requests on one connection are both answered (or the second refused FCGI_CANT_MPX_CONN)',
    run: async (context) => {
      const probe = await context.connect();
      const params = pairs(...Object.entries(context.vars));
      probe.write(
        Buffer.concat([beginRequest(1), beginRequest(2), record(4, 2, params), record(4, 1, params)]),
      );
      probe.write(Buffer.concat([record(4, 2), record(4, 1), record(5, 1), record(5, 2)]));
      const records = await probe.until('FCGI_END_REQUEST for requests 1 and 2', (list) =>
        [1, 2].every((id) => list.some((r) => r.type === 3 && r.id === id)),
      );
      expectResponse(records, 1);
      if (endOf(records, 2).protocolStatus === 1) return;
      expectResponse(records, 2);
      if (stdoutOf(records, 2).length === 0) throw new CaseFailure('request 2 has no FCGI_STDOUT of its own');
    },
  },
  {
    id: 'multiplexing.inactive-ids-ignored',
    group: 'multiplexing',
    section: '§3.3',
    title: 'STDIN, PARAMS, ABORT and DATA records for inactive request ids are ignored',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(
        Buffer.concat([
          record(5, 5, 'stray'),
          record(4, 6, pairs(['A', 'b'])),
          record(2, 7),
          record(8, 8, 'x'),
        ]),
      );
      probe.write(wholeRequest(1, context.vars));
      const records = await probe.untilEnd(1);
      expectResponse(records, 1);
      const stray = records.find((r) => r.id !== 1);
      if (stray !== undefined)
        throw new CaseFailure(`answered a record of type ${stray.type} for inactive id ${stray.id}`);
    },
  },
  {
    id: 'management.get-values',
    group: 'management',
    section: '§4.1',
    title:
      'FCGI_GET_VALUES is answered on id 0 with decimal values, FCGI_MPXS_CONNS 0 or 1, no names not asked',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(getValues(MANAGEMENT_NAMES));
      const records = await probe.until('FCGI_GET_VALUES_RESULT', (list) => list.some(isResult));
      const values = readPairs(records.find(isResult)!.content);
      for (const [name, value] of values) {
        if (!(MANAGEMENT_NAMES as readonly string[]).includes(name))
          throw new CaseFailure(`answered ${name}, not asked`);
        if (!/^\d+$/.test(value))
          throw new CaseFailure(`${name}=${JSON.stringify(value)} is not a decimal number`);
      }
      const mpxs = values.get('FCGI_MPXS_CONNS');
      if (mpxs !== undefined && mpxs !== '0' && mpxs !== '1')
        throw new CaseFailure(`FCGI_MPXS_CONNS=${mpxs}`);
    },
  },
  {
    id: 'management.get-values-unknown-name',
    group: 'management',
    section: '§4.1',
    title: 'a name FCGI_GET_VALUES does not know is left out of the result, and the connection serves on',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(getValues(['X_CONFORM_UNKNOWN', 'FCGI_MPXS_CONNS']));
      const records = await probe.until('FCGI_GET_VALUES_RESULT', (list) => list.some(isResult));
      if (readPairs(records.find(isResult)!.content).has('X_CONFORM_UNKNOWN')) {
        throw new CaseFailure('answered X_CONFORM_UNKNOWN, a name it cannot understand');
      }
      probe.write(wholeRequest(1, context.vars));
      expectResponse(await probe.untilEnd(1), 1);
    },
  },
  {
    id: 'management.get-values-mid-request',
    group: 'management',
    section: '§4.1',
    title: "FCGI_GET_VALUES sent between a request's PARAMS records is answered, and so is the request",
    run: async (context) => {
      const probe = await context.connect();
      probe.write(Buffer.concat([beginRequest(1), record(4, 1, pairs(...Object.entries(context.vars)))]));
      probe.write(getValues(['FCGI_MPXS_CONNS']));
      probe.write(Buffer.concat([record(4, 1), record(5, 1)]));
      const records = await probe.until(
        'FCGI_GET_VALUES_RESULT and END_REQUEST',
        (list) => list.some(isResult) && list.some((r) => r.type === 3 && r.id === 1),
      );
      expectResponse(records, 1);
    },
  },
];

/**
 * Unknown record types. They run last: node-fastcgi 2.0 throws on them and its process exits, and every case
 * after one of these would then fail for that one cause.
 */
export const UNKNOWN_TYPE_CASES: readonly ConformCase[] = [
  {
    id: 'management.unknown-type',
    group: 'management',
    section: '§4.2',
    title:
      'a management record of unknown type 99 gets FCGI_UNKNOWN_TYPE naming 99, and the connection serves on',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(record(99, 0));
      const records = await probe.until('FCGI_UNKNOWN_TYPE', (list) => list.some((r) => r.type === 11));
      const reply = records.find((r) => r.type === 11)!;
      if (reply.id !== 0) throw new CaseFailure(`FCGI_UNKNOWN_TYPE came on request id ${reply.id}, not 0`);
      if (reply.content.length !== 8 || reply.content[0] !== 99) {
        throw new CaseFailure(
          `FCGI_UNKNOWN_TYPE body ${reply.content.toString('hex')} does not name type 99 in 8 bytes`,
        );
      }
      probe.write(wholeRequest(1, context.vars));
      expectResponse(await probe.untilEnd(1), 1);
    },
  },
];
