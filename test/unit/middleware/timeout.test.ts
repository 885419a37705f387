// timeout(): a deadline that aborts the app's signal and ends the response.
import { describe, expect, it } from 'vitest';
import { RequestTimeoutError, timeout } from '../../../src/middleware/timeout.js';
import { runApplication } from '../../../src/shared/respond.js';
import type { Application, Environ } from '../../../src/shared/types.js';
import { callApp, createTestEnviron } from '../../../src/testing/index.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('timeout', () => {
  it('answers 504 for an app that never returns, and aborts its signal with the timeout error', async () => {
    let seen: Environ | undefined;
    const never: Application = (environ) => {
      seen = environ;
      return new Promise(() => undefined);
    };
    const response = await callApp(timeout(20)(never));
    expect(response.status).toBe('504 Gateway Timeout');
    expect(response.errors).toMatch(/timeout: GET \/ did not end within 20 ms/);
    expect(seen!['tsgi.signal'].aborted).toBe(true);
    expect(seen!['tsgi.signal'].reason).toBeInstanceOf(RequestTimeoutError);
  });

  it('replaces a started head whose body never yields with the 504', async () => {
    const stuck: Application = (_environ, startResponse) => {
      startResponse('200 OK', [['Content-Type', 'text/html']]);
      return (async function* () {
        await new Promise(() => undefined);
        yield encode('never');
      })();
    };
    const response = await callApp(timeout(20)(stuck));
    expect(response.statusCode).toBe(504);
    expect(response.header('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('cuts a response off once bytes were sent, and drops what the app writes afterwards', async () => {
    let lateWrite: Promise<unknown> | undefined;
    const slow: Application = (environ, startResponse) => {
      const write = startResponse('200 OK', []);
      return (async function* () {
        yield encode('first');
        await new Promise((resolve) => environ['tsgi.signal'].addEventListener('abort', resolve));
        lateWrite = write(encode('late')).catch((error: unknown) => error);
        yield encode('after');
      })();
    };
    const chunks: string[] = [];
    const outcome = await runApplication(timeout(20)(slow), createTestEnviron(), {
      sendHead() {},
      write(chunk) {
        chunks.push(Buffer.from(chunk).toString());
      },
      end() {},
    });
    expect(outcome.ok).toBe(false);
    expect(chunks).toEqual(['first']);
    await tick(10);
    expect(await lateWrite).toBeInstanceOf(RequestTimeoutError);
  });

  it('leaves a response that ends in time alone, and passes the client going away on to the app', async () => {
    const quick: Application = (_environ, startResponse) => {
      startResponse('200 OK', []);
      return [encode('ok')];
    };
    expect((await callApp(timeout(1000)(quick))).text).toBe('ok');
    const controller = new AbortController();
    let innerAborted = false;
    const waiting: Application = async (environ, startResponse) => {
      await new Promise((resolve) => environ['tsgi.signal'].addEventListener('abort', resolve));
      innerAborted = true;
      startResponse('200 OK', []);
      return [];
    };
    setTimeout(() => controller.abort(), 10);
    await callApp(timeout(5000)(waiting), createTestEnviron({}, { signal: controller.signal }));
    expect(innerAborted).toBe(true);
  });

  it('refuses a deadline that is not a positive number', () => {
    expect(() => timeout(0)).toThrow(/positive/);
  });
});
