// runCgi in this process with its streams replaced: the exit status it returns and what it writes.
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CUT_OFF, runCgi } from '../../../src/cgi/runner.js';
import type { Application } from '../../../src/shared/types.js';

const scratch = mkdtempSync(join(tmpdir(), 'tsgi-runner-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('latin1') };
}

const VARS = {
  REQUEST_METHOD: 'GET',
  SCRIPT_NAME: '',
  PATH_INFO: '/',
  QUERY_STRING: '',
  SERVER_NAME: 'x',
  SERVER_PORT: '80',
  SERVER_PROTOCOL: 'HTTP/1.1',
};
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('runCgi', () => {
  it('returns 0 and writes Status, headers and body for a complete response', async () => {
    const out = collector();
    const app: Application = (environ, start) => {
      start('201 Created', [['Content-Type', 'text/plain']]);
      return [
        bytes(
          `run_once=${environ['tsgi.run_once']} multiprocess=${environ['tsgi.multiprocess']} multithread=${environ['tsgi.multithread']}`,
        ),
      ];
    };
    expect(await runCgi(app, { variables: VARS, stdout: out.stream })).toBe(0);
    expect(out.text()).toBe(
      'Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nrun_once=true multiprocess=true multithread=false',
    );
  });

  it('returns EXIT_CUT_OFF when the app fails after its head', async () => {
    const out = collector();
    const err = collector();
    const app: Application = (_environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      return (function* () {
        yield bytes('partial');
        throw new Error('runner test: failed mid-body');
      })();
    };
    expect(await runCgi(app, { variables: VARS, stdout: out.stream, stderr: err.stream })).toBe(EXIT_CUT_OFF);
    expect(out.text()).toMatch(/^Status: 200 OK\r\n.*\r\n\r\npartial$/s);
    expect(err.text()).toContain('runner test: failed mid-body');
  });

  it('feeds the app CONTENT_LENGTH bytes from the stdin descriptor', async () => {
    const file = join(scratch, 'body');
    writeFileSync(file, 'hello worldEXTRA');
    const fd = openSync(file, 'r');
    const out = collector();
    const app: Application = async (environ, start) => {
      const body = await environ['tsgi.input'].read();
      start('200 OK', [['Content-Type', 'text/plain']]);
      return [body];
    };
    try {
      const vars = { ...VARS, REQUEST_METHOD: 'POST', CONTENT_LENGTH: '11' };
      expect(await runCgi(app, { variables: vars, stdout: out.stream, stdinFd: fd })).toBe(0);
    } finally {
      closeSync(fd);
    }
    expect(out.text().endsWith('\r\n\r\nhello world')).toBe(true);
  });

  it('answers 400 without calling the app when REQUEST_METHOD is missing', async () => {
    const out = collector();
    const err = collector();
    let called = false;
    const app: Application = () => {
      called = true;
      return [];
    };
    const { REQUEST_METHOD: _omitted, ...vars } = VARS;
    expect(await runCgi(app, { variables: vars, stdout: out.stream, stderr: err.stream })).toBe(0);
    expect(called).toBe(false);
    expect(out.text()).toMatch(/^Status: 400 Bad Request\r\n/);
    expect(err.text().trim().split('\n')).toHaveLength(1);
  });

  it('aborts tsgi.signal and stops the body when stdout fails (EPIPE)', async () => {
    let aborted = false;
    let closed = false;
    const stdout = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const app: Application = (environ, start) => {
      start('200 OK', [['Content-Type', 'text/plain']]);
      environ['tsgi.signal'].addEventListener('abort', () => (aborted = true));
      return Object.assign(
        (async function* () {
          for (let i = 0; i < 1000; i++) {
            yield bytes('chunk');
            await new Promise((resolve) => setTimeout(resolve, 1));
          }
        })(),
        { close: () => void (closed = true) },
      );
    };
    const err = collector();
    expect(await runCgi(app, { variables: VARS, stdout, stderr: err.stream })).toBe(EXIT_CUT_OFF);
    expect(aborted).toBe(true);
    expect(closed).toBe(true);
    expect(err.text()).toBe('');
  });
});
