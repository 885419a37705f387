// The conformance kit: every case passes against tsgi's own connection, and the kit does catch a responder that
// breaks the rules (a case that could never fail would prove nothing).
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CONFORM_CASES, formatScorecard, runConformance } from '../../../src/fastcgi/conform/index.js';
import { parseRecords, record } from '../../../src/fastcgi/conform/bytes.js';
import type { Application } from '../../../src/shared/types.js';
import { listenerPerTest } from '../../helpers/fcgi-records.js';

const hello: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('hello')];
};
const listen = listenerPerTest(hello);

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/**
 * A sloppy responder, the kind the kit exists to catch: it answers each request when STDIN ends, whatever the
 * role, with no empty STDOUT record, and drops every other record (no GET_VALUES, no UNKNOWN_TYPE).
 */
async function startSloppyResponder(): Promise<number> {
  const server = createServer((socket) => {
    let pending = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      let records;
      try {
        records = parseRecords(pending);
      } catch {
        return; // wait for the rest of a record; garbage just sits here
      }
      pending = Buffer.alloc(0);
      for (const r of records) {
        if (r.type !== 5 || r.content.length !== 0) continue;
        socket.write(
          Buffer.concat([record(6, r.id, 'Status: 200 OK\r\n\r\nsloppy'), record(3, r.id, Buffer.alloc(8))]),
        );
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

describe('the conformance kit', () => {
  it('passes every case against tsgi, case ids unique, each citing a FastCGI section', async () => {
    const { port } = await listen();
    const card = await runConformance(`127.0.0.1:${port}`);
    expect(card.results.filter((r) => !r.ok)).toEqual([]);
    expect(card.total).toBe(CONFORM_CASES.length);
    expect(card.total).toBeGreaterThanOrEqual(30);
    expect(new Set(CONFORM_CASES.map((c) => c.id)).size).toBe(CONFORM_CASES.length);
    for (const c of CONFORM_CASES) expect(c.section).toMatch(/^§\d(\.\d)*$/);
    expect(formatScorecard(card)).toBe(`${card.total}/${card.total} cases pass (127.0.0.1:${port})\n`);
  });

  it('fails a sloppy responder on exactly the rules it breaks, each with the reason', async () => {
    const port = await startSloppyResponder();
    const card = await runConformance(`127.0.0.1:${port}`, { timeoutMs: 500 });
    const failed = Object.fromEntries(card.results.filter((r) => !r.ok).map((r) => [r.id, r.reason]));
    expect(Object.keys(failed).sort()).toEqual(
      [
        'codec.stdout-stream-end',
        'connection.abort-request',
        'connection.close-without-keep-conn',
        'management.get-values',
        'management.get-values-mid-request',
        'management.get-values-unknown-name',
        'management.unknown-type',
        'roles.unknown-role',
      ].sort(),
    );
    expect(failed['codec.stdout-stream-end']).toMatch(/no empty FCGI_STDOUT record/);
    expect(failed['roles.unknown-role']).toMatch(/protocolStatus 0, not 3/);
    expect(failed['management.get-values']).toMatch(/no FCGI_GET_VALUES_RESULT within 500 ms/);
    expect(formatScorecard(card)).toMatch(
      /^22\/30 cases pass .*\nFAIL codec\.stdout-stream-end \(FastCGI 1\.0 §3\.3\): /,
    );
  });

  it('reports a responder that is not there as failures, not as a crash', async () => {
    const port = await startSloppyResponder();
    await new Promise((resolve) => servers.pop()!.close(resolve));
    const card = await runConformance(`127.0.0.1:${port}`, { only: ['roles.responder', 'management'] });
    expect(card.passed).toBe(0);
    expect(card.total).toBe(5);
    expect(card.results[0]!.reason).toMatch(/cannot connect: ECONNREFUSED/);
  });
});
