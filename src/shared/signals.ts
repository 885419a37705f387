// Combining abort signals: one that aborts when any of several does (AbortSignal.any, with a Node 20.0–20.2 fallback).

/**
 * An AbortSignal that aborts as soon as one of `signals` aborts, with that signal's reason. Uses
 * `AbortSignal.any` (Node 20.3+); the fallback keeps listeners on the sources, which is fine for signals that
 * live as long as one request (tsgi.signal, a timeout's controller).
 */
export function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const native = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (typeof native === 'function') return native.call(AbortSignal, [...signals]);
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}
