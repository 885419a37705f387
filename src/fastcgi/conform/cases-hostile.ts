// Hostile input: bytes a broken or malicious peer sends. The responder may close that connection (tsgi does, with
// one log line) but must write nothing malformed and must keep serving every other connection. The byte table is
// exported so that tsgi's own tests check their log lines against the very same inputs.
import { GET_VARS, beginRequest, pairs, record } from './bytes.js';
import { expectStillServing, type ConformCase } from './case.js';

/** One hostile input. */
export interface HostileInput {
  /** Case id, `hostile.NAME`. */
  readonly id: string;
  readonly section: string;
  /** What is sent, as a noun phrase ("a bad version byte"). */
  readonly title: string;
  readonly bytes: () => Buffer;
  /** Close our side right after sending (a peer that vanishes mid-record). */
  readonly hangUp?: boolean;
}

const varsRecord = (id: number, vars: Record<string, string>): Buffer =>
  record(4, id, pairs(...Object.entries(vars)));

export const HOSTILE_INPUTS: readonly HostileInput[] = [
  {
    id: 'hostile.bad-version',
    section: '§3.3',
    title: 'a record with version byte 2',
    bytes: () => record(5, 1, 'x').fill(2, 0, 1),
  },
  {
    id: 'hostile.http-request',
    section: '§3.3',
    title: 'an HTTP request sent to the FastCGI port',
    bytes: () => Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
  },
  {
    id: 'hostile.garbage',
    section: '§3.3',
    title: 'random bytes',
    bytes: () => Buffer.from('9c1f07e2a4b3d5c6e8f90112233445566778899aabbccdd', 'hex'),
  },
  {
    id: 'hostile.duplicate-begin',
    section: '§3.3',
    title: 'a second BEGIN_REQUEST for an active request id',
    bytes: () => Buffer.concat([beginRequest(1), beginRequest(1)]),
  },
  {
    id: 'hostile.begin-on-null-id',
    section: '§3.3',
    title: 'a BEGIN_REQUEST on the null request id',
    bytes: () => beginRequest(0),
  },
  {
    id: 'hostile.short-begin-body',
    section: '§5.1',
    title: 'a BEGIN_REQUEST body of 4 bytes instead of 8',
    bytes: () => record(1, 1, Buffer.from([0, 1, 1, 0])),
  },
  {
    id: 'hostile.malformed-get-values',
    section: '§4.1',
    title: 'a GET_VALUES whose name length runs past its record',
    bytes: () => record(9, 0, Buffer.from([0x05, 0x00, 0x41])),
  },
  {
    id: 'hostile.pair-past-end',
    section: '§3.4',
    title: 'a PARAMS pair whose value length runs past the end of the stream',
    bytes: () =>
      Buffer.concat([beginRequest(1), record(4, 1, Buffer.from([0x7f, 0x01, 0x41])), record(4, 1)]),
  },
  {
    id: 'hostile.huge-params',
    section: '§3.3',
    title: 'a 1 MiB PARAMS stream that never ends',
    bytes: () => {
      const chunk = record(4, 1, pairs(['HTTP_X_FILL', 'f'.repeat(65_000)]));
      return Buffer.concat([beginRequest(1), ...Array.from({ length: 16 }, () => chunk)]);
    },
  },
  {
    id: 'hostile.cut-mid-record',
    section: '§3.3',
    title: 'a connection closed in the middle of a STDIN record',
    hangUp: true,
    bytes: () => {
      const vars = { ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '100' };
      const partial = record(5, 1, 'x'.repeat(100)).subarray(0, 50);
      return Buffer.concat([beginRequest(1), varsRecord(1, vars), record(4, 1), partial]);
    },
  },
  {
    id: 'hostile.unknown-type-on-request',
    section: '§4.2',
    title: 'a record of unknown type 99 on request id 1',
    bytes: () => record(99, 1),
  },
];

/** How long a hostile connection is watched before it is dropped: a responder may close it or stay silent. */
const WATCH_MS = 300;

function hostileCase(input: HostileInput): ConformCase {
  return {
    id: input.id,
    group: 'hostile',
    section: input.section,
    title: `${input.title}: no malformed reply, and other connections are still served`,
    run: async (context) => {
      const probe = await context.connect();
      probe.write(input.bytes());
      if (input.hangUp === true) probe.socket.end();
      await probe.settle(WATCH_MS);
      probe.records();
      probe.destroy();
      await expectStillServing(context, input.title);
    },
  };
}

// Unknown types run with the unknown-type cases at the end of the run (see cases-connection.ts).
export const HOSTILE_CASES: readonly ConformCase[] = HOSTILE_INPUTS.filter(
  (i) => !i.id.includes('unknown-type'),
).map(hostileCase);
export const HOSTILE_UNKNOWN_TYPE_CASES: readonly ConformCase[] = HOSTILE_INPUTS.filter((i) =>
  i.id.includes('unknown-type'),
).map(hostileCase);
