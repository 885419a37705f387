// Reading CGI variables losslessly: the raw environment block, and the process.env fallback.
import { describe, expect, it } from 'vitest';
import {
  environFromProcessEnv,
  parseEnvironBlock,
  readRequestVariables,
} from '../../../src/cgi/environ-bytes.js';

const block = (...entries: (string | number[])[]): Uint8Array =>
  Buffer.concat(entries.map((entry) => Buffer.concat([Buffer.from(entry as never), Buffer.from([0])])));

describe('parseEnvironBlock', () => {
  it('keeps a non-UTF-8 byte as the one ISO-8859-1 char with that code', () => {
    const vars = parseEnvironBlock(block([...Buffer.from('PATH_INFO=/caf'), 0xe9, 0xff]));
    expect(vars.PATH_INFO).toBe('/caf\xe9\xff');
  });

  it('splits at the first = only, so values may contain =', () => {
    expect(parseEnvironBlock(block('QUERY_STRING=a=1&b==2')).QUERY_STRING).toBe('a=1&b==2');
  });

  it('keeps empty values and skips entries without a name', () => {
    const vars = parseEnvironBlock(block('CONTENT_LENGTH=', '=nameless', 'garbage', 'A=1'));
    expect(vars).toEqual({ CONTENT_LENGTH: '', A: '1' });
  });

  it('reads a block without a trailing NUL to its end', () => {
    expect(parseEnvironBlock(Buffer.from('A=1\0B=2'))).toEqual({ A: '1', B: '2' });
  });
});

describe('environFromProcessEnv', () => {
  it('turns the UTF-8 that Node decoded back into one char per byte', () => {
    expect(environFromProcessEnv({ PATH_INFO: '/café' }).PATH_INFO).toBe('/caf\xc3\xa9');
  });

  it('drops unset values and keeps ASCII as it is', () => {
    expect(environFromProcessEnv({ A: 'plain', B: undefined })).toEqual({ A: 'plain' });
  });
});

describe('readRequestVariables', () => {
  it('reads the environment this process was started with', () => {
    expect(readRequestVariables().PATH).toBe(process.env.PATH);
  });
});
