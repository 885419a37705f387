// One FastCGI connection over real TCP, driven with hand-made records: roles, streams, keep-conn, multiplexing.
import { describe, expect, it } from 'vitest';
import { authorizerVariable } from '../../../src/fastcgi/authorizer.js';
import type { ConnectionOptions } from '../../../src/fastcgi/connection-options.js';
import type { Application, Environ, Input } from '../../../src/shared/types.js';
import {
  GET_VARS,
  beginRequest,
  pairs,
  parseRecords,
  rawPeer,
  record,
  listenerPerTest,
  stdoutOf,
  wholeRequest,
} from '../../helpers/fcgi-records.js';

const hello: Application = (_environ, start) => {
  start('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from('hi')];
};

const listen = listenerPerTest();

const endRequest = (id: number, appStatus: number, protocolStatus: number): Buffer =>
  record(
    3,
    id,
    Buffer.from([
      appStatus >>> 24,
      (appStatus >>> 16) & 255,
      (appStatus >>> 8) & 255,
      appStatus & 255,
      protocolStatus,
      0,
      0,
      0,
    ]),
  );

async function readAll(input: Input): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of input) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('a Responder request', () => {
  it('is answered with exactly STDOUT (head and body), the empty STDOUT and END_REQUEST', async () => {
    const { port } = await listen(hello);
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    const bytes = (await peer.untilEnd(1)).length;
    const head = 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhi';
    const want = Buffer.concat([record(6, 1, head), record(6, 1), endRequest(1, 0, 0)]);
    expect(peer.received().toString('hex')).toBe(want.toString('hex'));
    expect(bytes).toBe(3);
  });

  it('closes the connection after END_REQUEST when FCGI_KEEP_CONN is not set', async () => {
    const { port } = await listen(hello);
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1, GET_VARS, '', 0));
    await peer.closed;
    expect(parseRecords(peer.received()).map((r) => r.type)).toEqual([6, 6, 3]);
  });

  it('keeps the connection for the next request when FCGI_KEEP_CONN is set', async () => {
    const { port } = await listen(hello);
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    await peer.untilEnd(1);
    peer.socket.write(wholeRequest(1));
    const records = await peer.until((bytes) => parseRecords(bytes).filter((r) => r.type === 3).length === 2);
    expect(stdoutOf(parseRecords(records), 1).toString()).toContain('hi');
  });

  it('decodes a name-value pair split across two PARAMS records', async () => {
    const { port } = await listen((environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(String(environ.HTTP_X_LONG))];
    });
    const params = pairs(...Object.entries(GET_VARS), ['HTTP_X_LONG', 'y'.repeat(300)]);
    const cut = params.length - 150;
    const peer = await rawPeer(port);
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        record(4, 1, params.subarray(0, cut)),
        record(4, 1, params.subarray(cut)),
        record(4, 1),
        record(5, 1),
      ]),
    );
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/\r\n\r\ny{300}$/);
  });

  it('reads a body without CONTENT_LENGTH to the empty STDIN record, with input_terminated set', async () => {
    const { port } = await listen(async (environ, start) => {
      const body = await readAll(environ['tsgi.input']);
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(`${String(environ['tsgi.input_terminated'])} ${body.toString()}`)];
    });
    const peer = await rawPeer(port);
    const vars = { ...GET_VARS, REQUEST_METHOD: 'POST' };
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        record(4, 1, pairs(...Object.entries(vars))),
        record(4, 1),
        record(5, 1, 'chunk1-'),
        record(5, 1, 'chunk2'),
        record(5, 1),
      ]),
    );
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/\r\n\r\ntrue chunk1-chunk2$/);
  });

  it('sends a large response in records of at most 65535 bytes, each padded to 8', async () => {
    const big = Buffer.alloc(300_000, 'z');
    const { port } = await listen((_environ, start) => {
      start('200 OK', [['Content-Type', 'application/octet-stream']]);
      return [big.subarray(0, 1), big.subarray(1, 100_000), big.subarray(100_000)];
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    const records = await peer.untilEnd(1);
    for (const r of records) {
      expect(r.content.length).toBeLessThanOrEqual(65535);
      expect((r.content.length + r.padding) % 8).toBe(0);
    }
    expect(stdoutOf(records, 1).toString()).toMatch(/\r\n\r\nz{300000}$/);
  });

  it('coalesces many small body chunks into few records', async () => {
    const { port } = await listen((_environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return Array.from({ length: 1000 }, () => Buffer.from('ab'));
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    const stdout = (await peer.untilEnd(1)).filter((r) => r.type === 6);
    expect(stdout.length).toBeLessThanOrEqual(3);
    expect(Buffer.concat(stdout.map((r) => r.content)).toString()).toMatch(/(ab){1000}$/);
  });

  it('streams: the first bytes arrive before the application finishes', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { port } = await listen((_environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return (async function* () {
        yield Buffer.from('first');
        await released;
        yield Buffer.from('second');
      })();
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    await peer.until((bytes) => bytes.includes('first'));
    expect(parseRecords(peer.received()).some((r) => r.type === 3)).toBe(false);
    release();
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/firstsecond$/);
  });

  it('sends tsgi.errors as STDERR records and ends STDERR before END_REQUEST', async () => {
    const { port } = await listen((environ, start) => {
      environ['tsgi.errors'].write('something odd\n');
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [];
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    const records = await peer.untilEnd(1);
    expect(stdoutOf(records, 1, 7).toString()).toBe('something odd\n');
    expect(records.slice(-2).map((r) => [r.type, r.content.length])).toEqual([
      [7, 0],
      [3, 8],
    ]);
  });

  it('answers 400 with one FCGI_STDERR line when the params have no REQUEST_METHOD (the reason not sent)', async () => {
    const lst = await listen(hello);
    const peer = await rawPeer(lst.port);
    const { REQUEST_METHOD: _omitted, ...vars } = GET_VARS;
    peer.socket.write(wholeRequest(1, vars));
    const records = await peer.untilEnd(1);
    const stdout = stdoutOf(records, 1).toString();
    expect(stdout).toMatch(/^Status: 400 Bad Request\r\n/);
    expect(stdout.endsWith('\r\n\r\nBad Request\n')).toBe(true);
    const stderr = stdoutOf(records, 1, 7).toString();
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/REQUEST_METHOD/);
    expect(lst.logs).toEqual([]);
  });

  it('ends a response cut off by an application error with a non-zero appStatus', async () => {
    const { port } = await listen((_environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return (function* () {
        yield Buffer.from('partial');
        throw new Error('boom');
      })();
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(1));
    const records = await peer.untilEnd(1);
    expect(records.at(-1)!.content.readUInt32BE(0)).not.toBe(0);
    expect(stdoutOf(records, 1, 7).toString()).toContain('boom');
  });

  it('puts the role and the request id in the environ', async () => {
    let seen: Environ | undefined;
    const { port } = await listen((environ, start) => {
      seen = environ;
      start('204 No Content', []);
      return [];
    });
    const peer = await rawPeer(port);
    peer.socket.write(wholeRequest(7));
    await peer.untilEnd(7);
    expect(seen?.['tsgi.fastcgi.role']).toBe('responder');
    expect(seen?.['tsgi.fastcgi.request_id']).toBe(7);
    expect(seen?.['tsgi.multiprocess']).toBe(false);
  });
});

describe('the Authorizer and Filter roles', () => {
  it('passes an Authorizer 200 with Variable- headers through to the web server', async () => {
    const { port } = await listen((environ, start) => {
      const allowed = environ.HTTP_AUTHORIZATION === 'Bearer ok';
      if (!allowed) {
        start('403 Forbidden', [['Content-Type', 'text/plain']]);
        return [Buffer.from(`no for ${String(environ['tsgi.fastcgi.role'])}`)];
      }
      start('200 OK', [authorizerVariable('REMOTE_USER', 'bob')]);
      return [];
    });
    const peer = await rawPeer(port);
    const vars = { ...GET_VARS, HTTP_AUTHORIZATION: 'Bearer ok' };
    const authorize = (id: number, v: Record<string, string>): Buffer =>
      Buffer.concat([
        beginRequest(id, 2),
        record(4, id, pairs(...Object.entries(v))),
        record(4, id),
        record(5, id),
      ]);
    peer.socket.write(Buffer.concat([authorize(1, vars), authorize(2, GET_VARS)]));
    await peer.untilEnd(1);
    const records = await peer.untilEnd(2);
    expect(stdoutOf(records, 1).toString()).toBe('Status: 200 OK\r\nVariable-REMOTE_USER: bob\r\n\r\n');
    expect(stdoutOf(records, 2).toString()).toMatch(/^Status: 403 Forbidden\r\n.*no for authorizer$/s);
  });

  it('refuses an authorizer variable name a web server could not export', () => {
    expect(() => authorizerVariable('BAD-NAME', 'x')).toThrow(/letters, digits/);
    expect(() => authorizerVariable('USER', 'a\r\nb')).toThrow(/control/);
  });

  it('gives a Filter the FCGI_DATA stream as tsgi.fastcgi.data, ended at FCGI_DATA_LENGTH', async () => {
    const { port } = await listen(async (environ, start) => {
      const stdin = await readAll(environ['tsgi.input']);
      const data = await readAll(environ['tsgi.fastcgi.data'] as Input);
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(`${stdin.toString()}|${data.toString()}|${String(environ.FCGI_DATA_LAST_MOD)}`)];
    });
    const peer = await rawPeer(port);
    const vars = {
      ...GET_VARS,
      CONTENT_LENGTH: '2',
      FCGI_DATA_LENGTH: '11',
      FCGI_DATA_LAST_MOD: '1700000000',
    };
    peer.socket.write(
      Buffer.concat([
        beginRequest(1, 3),
        record(4, 1, pairs(...Object.entries(vars))),
        record(4, 1),
        record(5, 1, 'in'),
        record(5, 1),
        record(8, 1, 'file '),
        record(8, 1, 'content+extra'),
        record(8, 1),
      ]),
    );
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/\r\n\r\nin\|file conten\|1700000000$/);
  });

  it.each([
    ['an unknown role', 9, {}],
    ['a role this listener does not serve', 3, { roles: [1] as const }],
  ])('answers %s with FCGI_UNKNOWN_ROLE and keeps the connection', async (_name, role, options) => {
    const { port } = await listen(hello, options as ConnectionOptions);
    const peer = await rawPeer(port);
    peer.socket.write(Buffer.concat([beginRequest(1, role), record(4, 1), record(5, 1)]));
    await peer.untilEnd(1);
    expect(peer.received().toString('hex')).toBe(endRequest(1, 0, 3).toString('hex'));
    peer.socket.write(wholeRequest(2));
    expect(stdoutOf(await peer.untilEnd(2), 2).toString()).toMatch(/hi$/);
  });
});

describe('multiplexing', () => {
  it('serves concurrent request ids on one connection, each answered under its own id', async () => {
    const { port } = await listen(async (environ, start) => {
      const id = environ['tsgi.fastcgi.request_id'] as number;
      await new Promise((resolve) => setTimeout(resolve, id === 1 ? 50 : 0));
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from(`answer ${id}`)];
    });
    const peer = await rawPeer(port);
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        beginRequest(2),
        record(4, 2, pairs(...Object.entries(GET_VARS))),
        record(4, 2),
      ]),
    );
    peer.socket.write(
      Buffer.concat([
        record(4, 1, pairs(...Object.entries(GET_VARS))),
        record(4, 1),
        record(5, 1),
        record(5, 2),
      ]),
    );
    await peer.untilEnd(1);
    const records = parseRecords(peer.received());
    expect(stdoutOf(records, 1).toString()).toMatch(/answer 1$/);
    expect(stdoutOf(records, 2).toString()).toMatch(/answer 2$/);
    // Request 2 finished first: its END_REQUEST precedes request 1's.
    expect(records.filter((r) => r.type === 3).map((r) => r.id)).toEqual([2, 1]);
  });

  it('answers a second concurrent request with FCGI_CANT_MPX_CONN when multiplexing is off', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { port } = await listen(
      async (environ, start) => {
        await released;
        return hello(environ, start);
      },
      { multiplex: false },
    );
    const peer = await rawPeer(port);
    peer.socket.write(Buffer.concat([wholeRequest(1), wholeRequest(2)]));
    await peer.untilEnd(2);
    expect(parseRecords(peer.received()).map((r) => [r.type, r.id])).toEqual([[3, 2]]);
    expect(parseRecords(peer.received())[0]!.content[4]).toBe(1);
    release();
    expect(stdoutOf(await peer.untilEnd(1), 1).toString()).toMatch(/hi$/);
  });

  it('answers FCGI_OVERLOADED past maxRequestsPerConnection', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const { port } = await listen(
      async (environ, start) => {
        await released;
        return hello(environ, start);
      },
      { limits: { maxRequestsPerConnection: 2 } },
    );
    const peer = await rawPeer(port);
    peer.socket.write(Buffer.concat([wholeRequest(1), wholeRequest(2), wholeRequest(3)]));
    const records = await peer.untilEnd(3);
    expect(records.map((r) => r.content.toString('hex'))).toEqual([
      endRequest(3, 0, 2).subarray(8).toString('hex'),
    ]);
    release();
    await peer.untilEnd(1);
    await peer.untilEnd(2);
  });

  it('takes a slot of the listener-wide gate when the params are complete, so half-open requests hold none (issue 10)', async () => {
    let inFlight = 0;
    const gate = {
      tryAcquire: () => (inFlight < 1 ? (inFlight++, true) : false),
      release: () => void inFlight--,
    };
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const waiting: Application = async (_environ, start) => {
      await held;
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [Buffer.from('hi')];
    };
    const { port } = await listen(waiting, { gate });
    const peer = await rawPeer(port);
    const rest = (id: number): Buffer =>
      Buffer.concat([record(4, id, pairs(...Object.entries(GET_VARS))), record(4, id), record(5, id)]);
    // Three requests begun and not one param: before the fix these held every slot until the params deadline.
    peer.socket.write(Buffer.concat([beginRequest(1), beginRequest(2), beginRequest(3)]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(inFlight).toBe(0);
    peer.socket.write(rest(1));
    await expect.poll(() => inFlight).toBe(1);
    peer.socket.write(rest(2));
    const refused = (await peer.untilEnd(2)).find((r) => r.type === 3 && r.id === 2);
    expect(refused?.content[4]).toBe(2); // FCGI_OVERLOADED
    release();
    await peer.untilEnd(1);
    expect(inFlight).toBe(0);
    peer.socket.write(rest(3));
    const third = await peer.untilEnd(3);
    expect(stdoutOf(third, 3).toString()).toContain('hi');
    expect(inFlight).toBe(0);
  });
});

describe('management records', () => {
  it('answers FCGI_GET_VALUES with exactly the known names asked, with the given limits', async () => {
    const { port } = await listen(hello, { values: { maxConns: 50, maxReqs: 200 } });
    const peer = await rawPeer(port);
    peer.socket.write(
      record(
        9,
        0,
        pairs(
          ['FCGI_MPXS_CONNS', ''],
          ['FCGI_NOT_A_THING', ''],
          ['FCGI_MAX_CONNS', ''],
          ['FCGI_MAX_REQS', ''],
        ),
      ),
    );
    const bytes = await peer.until((b) => b.length >= 8 && b.length >= 8 + b.readUInt16BE(4) + b[6]!);
    const want = record(
      10,
      0,
      pairs(['FCGI_MPXS_CONNS', '1'], ['FCGI_MAX_CONNS', '50'], ['FCGI_MAX_REQS', '200']),
    );
    expect(bytes.toString('hex')).toBe(want.toString('hex'));
  });

  it('says FCGI_MPXS_CONNS=0 and FCGI_MAX_REQS=1 when multiplexing is off', async () => {
    const { port } = await listen(hello, { multiplex: false });
    const peer = await rawPeer(port);
    peer.socket.write(record(9, 0, pairs(['FCGI_MAX_REQS', ''], ['FCGI_MPXS_CONNS', ''])));
    const bytes = await peer.until((b) => b.length >= 32);
    expect(bytes.toString('hex')).toBe(
      record(10, 0, pairs(['FCGI_MAX_REQS', '1'], ['FCGI_MPXS_CONNS', '0'])).toString('hex'),
    );
  });

  it.each([12, 99, 255, 3, 6, 10])(
    'answers a management record of type %i with FCGI_UNKNOWN_TYPE',
    async (type) => {
      const { port } = await listen(hello);
      const peer = await rawPeer(port);
      peer.socket.write(record(type, 0, 'whatever'));
      const bytes = await peer.until((b) => b.length >= 16);
      expect(bytes.toString('hex')).toBe(
        record(11, 0, Buffer.from([type, 0, 0, 0, 0, 0, 0, 0])).toString('hex'),
      );
    },
  );
});

describe('a response sent before the body ended', () => {
  it('fails a later read of tsgi.input as truncated, caused by ERR_REQUEST_ENDED', async () => {
    let late: Promise<unknown> | undefined;
    const { port } = await listen((environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      // Read only after the response went out (the driver ends it in this same turn).
      late = new Promise((resolve) => setTimeout(resolve, 20)).then(() =>
        environ['tsgi.input'].read().then(
          () => 'read',
          (error: { code?: string; cause?: { code?: string } }) => `${error.code} ${error.cause?.code}`,
        ),
      );
      return [Buffer.from('early')];
    });
    const peer = await rawPeer(port);
    // Everything up to the end of PARAMS; STDIN stays open, so the body has not ended when the app answers.
    peer.socket.write(
      Buffer.concat([
        beginRequest(1),
        record(4, 1, pairs(...Object.entries({ ...GET_VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '4' }))),
        record(4, 1),
      ]),
    );
    await peer.untilEnd(1);
    expect(stdoutOf(parseRecords(peer.received()), 1).toString()).toContain('early');
    expect(await late).toBe('ERR_BODY_TRUNCATED ERR_REQUEST_ENDED');
    peer.socket.destroy();
  });
});
