/**
 * A per-source request budget for public routes that answer questions about the installation
 * (e.g. SSO discovery): at most `max` requests per source address per window, counted in this
 * process's memory. It bounds enumeration from one address; it is not a substitute for the
 * network's own rate limits in front of a public deployment.
 */
const MAX_SOURCES = 10_000;

export class SourceLimiter {
  readonly #counts = new Map<string, { start: number; n: number }>();

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one request from `source`; false when its budget for this window is spent. */
  take(source: string): boolean {
    const t = this.now();
    const c = this.#counts.get(source);
    if (c === undefined || t - c.start >= this.windowMs) {
      // Forget finished windows now and then: the map holds only recent sources.
      if (this.#counts.size >= MAX_SOURCES) {
        for (const [k, v] of this.#counts) if (t - v.start >= this.windowMs) this.#counts.delete(k);
        // Still full (very many sources at once): start afresh rather than grow without bound.
        if (this.#counts.size >= MAX_SOURCES) this.#counts.clear();
      }
      this.#counts.set(source, { start: t, n: 1 });
      return true;
    }
    c.n += 1;
    return c.n <= this.max;
  }

  /** Seconds until `source` may ask again (for Retry-After). */
  retryAfterSeconds(source: string): number {
    const c = this.#counts.get(source);
    if (c === undefined) return 0;
    return Math.max(1, Math.ceil((c.start + this.windowMs - this.now()) / 1000));
  }
}
