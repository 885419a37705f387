// Codec and role cases: how records, streams and name-value pairs are read, and what each role is answered with.
import { beginRequest, pairs, record, wholeRequest } from './bytes.js';
import { endOf, expectResponse, type CaseContext, type ConformCase } from './case.js';
import { CaseFailure } from './probe.js';

const entries = (vars: Readonly<Record<string, string>>): [string, string][] => Object.entries(vars);

/** Sends the records of request 1 on a new connection and checks that it gets a whole answer. */
async function answerTo(context: CaseContext, parts: Buffer[]): Promise<void> {
  const probe = await context.connect();
  probe.write(Buffer.concat(parts));
  expectResponse(await probe.untilEnd(1), 1);
}

/** Cuts `bytes` into PARAMS records of `size` bytes, so record boundaries fall inside name-value pairs. */
function splitInto(type: number, id: number, bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(record(type, id, bytes.subarray(at, at + size)));
  return out;
}

/** Requests 1 with `role`; passes on a whole answer or on FCGI_UNKNOWN_ROLE, the two answers §5.5 allows. */
async function roleAnswered(
  context: CaseContext,
  role: number,
  extra: Buffer[],
  moreVars: Record<string, string> = {},
): Promise<void> {
  const probe = await context.connect();
  const vars = { ...context.vars, ...moreVars };
  probe.write(
    Buffer.concat([beginRequest(1, role), record(4, 1, pairs(...entries(vars))), record(4, 1), ...extra]),
  );
  const records = await probe.untilEnd(1);
  if (endOf(records, 1).protocolStatus === 3) return;
  expectResponse(records, 1);
}

export const CODEC_CASES: readonly ConformCase[] = [
  {
    id: 'roles.responder',
    group: 'roles',
    section: '§6.2',
    title:
      'a GET is answered with FCGI_STDOUT (a CGI head), its closing empty record, then END_REQUEST(COMPLETE)',
    run: (context) =>
      answerTo(context, [
        beginRequest(1),
        record(4, 1, pairs(...entries(context.vars))),
        record(4, 1),
        record(5, 1),
      ]),
  },
  {
    id: 'codec.stdout-stream-end',
    group: 'codec',
    section: '§3.3',
    title: 'FCGI_STDOUT ends with an empty STDOUT record before FCGI_END_REQUEST (a stream ends with one)',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(wholeRequest(1, context.vars));
      const records = (await probe.untilEnd(1)).filter((r) => r.id === 1);
      const stdout = records
        .slice(
          0,
          records.findIndex((r) => r.type === 3),
        )
        .filter((r) => r.type === 6);
      if (stdout.at(-1)?.content.length !== 0) {
        throw new CaseFailure('FCGI_END_REQUEST came with no empty FCGI_STDOUT record closing the stream');
      }
    },
  },
  {
    id: 'codec.padding',
    group: 'codec',
    section: '§3.3',
    title: 'records with no padding and with 255 padding bytes are read (padding is any length)',
    run: (context) =>
      answerTo(context, [
        beginRequest(1),
        record(4, 1, pairs(...entries(context.vars)), 255),
        record(4, 1, '', 0),
        record(5, 1, '', 13),
      ]),
  },
  {
    id: 'codec.long-lengths',
    group: 'codec',
    section: '§3.4',
    title: 'name-value pairs with 4-byte lengths (a 130-byte name, a 300-byte value) are read',
    run: (context) =>
      answerTo(context, [
        beginRequest(1),
        record(
          4,
          1,
          pairs(
            ...entries(context.vars),
            [`HTTP_X_${'N'.repeat(123)}`, 'v'],
            ['HTTP_X_LONG', 'v'.repeat(300)],
          ),
        ),
        record(4, 1),
        record(5, 1),
      ]),
  },
  {
    id: 'codec.params-split-in-pairs',
    group: 'codec',
    section: '§3.3',
    title: 'a PARAMS stream cut into 7-byte records, boundaries inside pairs, reads as one stream',
    run: (context) =>
      answerTo(context, [
        beginRequest(1),
        ...splitInto(4, 1, pairs(...entries(context.vars)), 7),
        record(4, 1),
        record(5, 1),
      ]),
  },
  {
    id: 'codec.params-over-64k',
    group: 'codec',
    section: '§3.3',
    title: 'a PARAMS stream of 100 KiB (one 100,000-byte value over two records) is read',
    run: (context) => {
      const big = pairs(...entries(context.vars), ['HTTP_X_BIG', 'b'.repeat(100_000)]);
      return answerTo(context, [
        beginRequest(1),
        ...splitInto(4, 1, big, 65_528),
        record(4, 1),
        record(5, 1),
      ]);
    },
  },
  {
    id: 'codec.stdin-records',
    group: 'codec',
    section: '§3.3',
    title: 'a 16-byte POST body sent as sixteen 1-byte FCGI_STDIN records is read',
    run: (context) => {
      const vars = {
        ...context.vars,
        REQUEST_METHOD: 'POST',
        CONTENT_TYPE: 'text/plain',
        CONTENT_LENGTH: '16',
      };
      return answerTo(context, [
        beginRequest(1),
        record(4, 1, pairs(...entries(vars))),
        record(4, 1),
        ...splitInto(5, 1, Buffer.from('0123456789abcdef'), 1),
        record(5, 1),
      ]);
    },
  },
  {
    id: 'roles.authorizer',
    group: 'roles',
    section: '§6.3',
    title: 'an Authorizer request is answered, or refused with FCGI_UNKNOWN_ROLE',
    run: (context) => roleAnswered(context, 2, [record(5, 1)]),
  },
  {
    id: 'roles.filter',
    group: 'roles',
    section: '§6.4',
    title: 'a Filter request with its FCGI_DATA stream is answered, or refused with FCGI_UNKNOWN_ROLE',
    run: (context) => {
      const data = 'filtered file';
      const vars = { FCGI_DATA_LENGTH: String(data.length), FCGI_DATA_LAST_MOD: '1700000000' };
      return roleAnswered(context, 3, [record(5, 1), record(8, 1, data), record(8, 1)], vars);
    },
  },
  {
    id: 'roles.unknown-role',
    group: 'roles',
    section: '§5.5',
    title: 'BEGIN_REQUEST with role 99 is refused with END_REQUEST(FCGI_UNKNOWN_ROLE)',
    run: async (context) => {
      const probe = await context.connect();
      probe.write(Buffer.concat([beginRequest(1, 99), record(4, 1), record(5, 1)]));
      const status = endOf(await probe.untilEnd(1), 1).protocolStatus;
      if (status !== 3)
        throw new CaseFailure(`END_REQUEST has protocolStatus ${status}, not 3 (FCGI_UNKNOWN_ROLE)`);
    },
  },
];
