// The JavaScript stack of a worker whose event loop is blocked (issue 10, item 7), and the requests it really
// holds (the watchdog's line named the last *reported* ones, which can be an earlier request).
//
// Why an inspector session from a thread, not a diagnostic report: `--report-on-signal` runs its handler as an
// ordinary JS signal listener, so on Node 20 and 24 the report of a worker in `while (Date.now() < t)` is written
// only after the loop ends, with an empty JavaScript stack. A worker thread's `Session.connectToMainThread()`
// is served through a V8 interrupt instead: `Debugger.pause` stops the busy main thread at its next stack check,
// the paused frames are the stack, and `Runtime.evaluate` while paused reads the requests it holds. The primary
// asks over a pipe of its own (the IPC channel is read by the blocked main thread). Nothing opens a debug port.
import { Worker } from 'node:worker_threads';
import type { Socket } from 'node:net';
import type { RunningRequest } from '../server.js';

/** Where the worker's main thread exposes its requests to the probe (read while paused). */
const RUNNING_KEY = 'tsgi.pool.blockedRequests';

/** How long the probe waits for the main thread to pause (it cannot while in native code). */
export const PROBE_PAUSE_TIMEOUT_MS = 1000;

/** Frames the probe takes from the top of the stack, and those a log line shows of the app's. */
const MAX_FRAMES = 24;
const MAX_SHOWN = 6;

/** One stack frame, as the inspector gives it (line and column from 1). */
export interface ProbeFrame {
  readonly name: string;
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

/** The probe's answer: the stack and the requests, or why there is none. */
export interface ProbeAnswer {
  readonly stack: readonly ProbeFrame[] | null;
  /** Every request the worker holds, oldest first. */
  readonly running: readonly RunningRequest[] | null;
  /** Those the worker has now counted as slow (past the asked threshold, not logged before). */
  readonly slow: readonly RunningRequest[];
  readonly note?: string;
}

/** In a worker: what the probe reads while the main thread is paused. */
export interface BlockedView {
  running(): RunningRequest[];
  /** Marks the requests running for at least `slowMs` as slow-logged and returns those newly marked. */
  claimSlow(slowMs: number): RunningRequest[];
}

// CommonJS source of the probe thread (a string, so that it runs the same from src/ under vitest and from the
// bundle in dist/). It holds the pipe open itself, so the thread lives as long as the worker.
const THREAD_SOURCE = `
const { Session } = require('node:inspector');
const { Socket } = require('node:net');
const { workerData } = require('node:worker_threads');
const channel = new Socket({ fd: workerData.fd, readable: true, writable: true });
channel.on('error', () => {});
// Whatever goes wrong in one probe, the thread must live on to answer the next.
process.on('unhandledRejection', () => {});
let buffered = '';
let queue = Promise.resolve();
channel.on('data', (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\\n'); nl >= 0; nl = buffered.indexOf('\\n')) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    queue = queue
      .then(() => probe(JSON.parse(line)))
      .catch((error) => ({ stack: null, running: null, slow: [], note: String(error && error.message) }))
      .then((answer) => channel.write(JSON.stringify(answer) + '\\n'));
  }
});
async function probe(ask) {
  const session = new Session();
  const urls = new Map();
  let timer;
  try {
    session.connectToMainThread();
    // One deadline for every step: a main thread in native code answers none of them (not even
    // Debugger.enable) until it returns, and a rejection nobody awaits would end this thread.
    const deadline = new Promise((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error('the event loop did not pause within ' + workerData.timeoutMs + ' ms (native code?)')),
        workerData.timeoutMs,
      );
    });
    deadline.catch(() => {});
    const within = (promise) => Promise.race([promise, deadline]);
    const post = (method, params) =>
      within(
        new Promise((resolve, reject) =>
          session.post(method, params || {}, (error, result) => (error ? reject(error) : resolve(result))),
        ),
      );
    session.on('Debugger.scriptParsed', (m) => urls.set(m.params.scriptId, m.params.url));
    const paused = within(new Promise((resolve) => session.once('Debugger.paused', (m) => resolve(m.params))));
    paused.catch(() => {});
    await post('Debugger.enable');
    await post('Debugger.pause');
    const { callFrames } = await paused;
    const stack = callFrames.slice(0, workerData.maxFrames).map((f) => ({
      name: f.functionName,
      url: urls.get(f.location.scriptId) || f.url || '',
      line: f.location.lineNumber + 1,
      column: (f.location.columnNumber || 0) + 1,
    }));
    const view = 'globalThis[Symbol.for(' + JSON.stringify(workerData.key) + ')]';
    const evaluated = await post('Runtime.evaluate', {
      expression: '(' + view + ' ? { running: ' + view + '.running(), slow: ' + view + '.claimSlow(' + Number(ask.slowMs) + ') } : null)',
      returnByValue: true,
    });
    await post('Debugger.resume');
    const value = evaluated.result && evaluated.result.value;
    return { stack, running: value ? value.running : null, slow: value ? value.slow : [] };
  } catch (error) {
    return { stack: null, running: null, slow: [], note: String(error && error.message) };
  } finally {
    clearTimeout(timer);
    // Disconnecting disables the debugger for this session: a pause still pending is dropped with it.
    session.disconnect();
  }
}
`;

/**
 * In a worker: starts the probe thread on the pipe `fd` the primary handed it and exposes `view` to it.
 * The thread is unref'd: it never keeps a worker alive. Without an inspector (a build without it) the primary's
 * questions simply go unanswered and it logs what it knows.
 */
export function startStackProbe(fd: number, view: BlockedView): void {
  if (!process.features.inspector) return;
  (globalThis as Record<symbol, unknown>)[Symbol.for(RUNNING_KEY)] = view;
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { fd, key: RUNNING_KEY, timeoutMs: PROBE_PAUSE_TIMEOUT_MS, maxFrames: MAX_FRAMES },
    // A small heap: the thread holds a few frames at a time.
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    stdout: false,
    stderr: false,
  });
  thread.on('error', () => {});
  thread.unref();
}

/** In the primary: asks one worker's probe thread over its pipe, one question at a time. */
export class StackProbeClient {
  private buffered = '';
  private readonly waiting: ((answer: ProbeAnswer) => void)[] = [];
  private readonly pipe: Socket | undefined;

  constructor(pipe: Socket | undefined) {
    this.pipe = pipe;
    pipe?.setEncoding('utf8');
    pipe?.on('data', (chunk: string) => {
      this.buffered += chunk;
      for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        this.waiting.shift()?.(JSON.parse(line) as ProbeAnswer);
      }
    });
    pipe?.on('error', () => {});
    // The pipe must not keep the primary alive on its own (the child process does, while it runs).
    pipe?.unref();
  }

  /** True while a question is out (the caller does not pile them up). */
  get busy(): boolean {
    return this.waiting.length > 0;
  }

  /**
   * The stack and requests of the worker, counting requests past `slowMs` as slow (-1: count none). Resolves
   * with a note instead when the worker does not answer within `timeoutMs`.
   */
  ask(slowMs: number, timeoutMs = PROBE_PAUSE_TIMEOUT_MS + 1000): Promise<ProbeAnswer> {
    const none = (note: string): ProbeAnswer => ({ stack: null, running: null, slow: [], note });
    const pipe = this.pipe;
    if (pipe === undefined || pipe.destroyed)
      return Promise.resolve(none('the stack probe is off (--no-stack-probe)'));
    return new Promise((resolve) => {
      let settled = false;
      const settle = (answer: ProbeAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const timer = setTimeout(
        () => settle(none(`the worker did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.push(settle);
      pipe.write(`${JSON.stringify({ slowMs })}\n`);
    });
  }
}

// The folder tsgi's own modules load from (dist/ when installed, src/ under the tests): its frames sit below
// the app's (the listener's dispatch), and Node's (timers, streams) below those; neither helps an operator.
const OWN_ROOT = /^(.*\/(?:dist|src)\/)/.exec(import.meta.url)?.[1] ?? '\0';

/** `fn (app.mjs:12:7) < caller (…)`: the app's frames on one line, file URLs under the cwd made relative. */
export function formatStack(stack: readonly ProbeFrame[]): string {
  const cwd = `file://${process.cwd()}/`;
  const firstOwn = stack.findIndex((frame) => frame.url.startsWith(OWN_ROOT));
  const above = firstOwn > 0 ? stack.slice(0, firstOwn) : stack;
  const app = above.filter((frame) => !frame.url.startsWith('node:'));
  return (app.length > 0 ? app : stack)
    .slice(0, MAX_SHOWN)
    .map((frame) => {
      const file = frame.url.startsWith(cwd) ? frame.url.slice(cwd.length) : frame.url;
      return `${frame.name || '<anonymous>'} (${file || '?'}:${frame.line}:${frame.column})`;
    })
    .join(' < ');
}
