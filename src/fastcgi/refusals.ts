// Refused connections and requests, logged as a rate-limited summary: a flood must not become a flood of log lines.

/** How long a summary window lasts: the first refusal is logged at once, the rest as counts at its end. */
export const REFUSAL_SUMMARY_MS = 10_000;

/**
 * Counts refusals per reason. The first refusal after a quiet window is logged as its own line (so a lone
 * refusal shows at once, with its reason); every further one in the next REFUSAL_SUMMARY_MS is only counted
 * and written as one summary line when the window ends (issue 10: 1,024 refused connections were 1,024 lines).
 */
export class RefusalLog {
  private readonly counts = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly log: (line: string) => void;
  private readonly windowMs: number;

  constructor(log: (line: string) => void, windowMs = REFUSAL_SUMMARY_MS) {
    this.log = log;
    this.windowMs = windowMs;
  }

  /** One refusal; `what` names the thing refused ("a connection"), `reason` the limit that refused it. */
  refuse(what: string, reason: string): void {
    if (this.timer === undefined) {
      this.log(`tsgi fastcgi: refused ${what}: ${reason}`);
      this.timer = setTimeout(this.summarize, this.windowMs);
      this.timer.unref();
      return;
    }
    const key = `${what}: ${reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private readonly summarize = (): void => {
    this.timer = undefined;
    if (this.counts.size === 0) return;
    const parts = [...this.counts].map(([key, count]) => `${count} × ${key}`);
    this.counts.clear();
    this.log(`tsgi fastcgi: refused in the last ${this.windowMs / 1000} s: ${parts.join('; ')}`);
    // A flood still going on keeps the window open: the next refusal is counted, not logged alone.
    this.timer = setTimeout(this.summarize, this.windowMs);
    this.timer.unref();
  };
}
