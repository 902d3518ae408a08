/**
 * The monitoring worker the server runs (45 CFR 164.308(a)(1)(ii)(D); 21 CFR 1311.150): on each
 * tick it runs the audit-stream detector until caught up and sends due alert deliveries; on a
 * slower tick it produces each tenant's daily EPCS review (idempotent). Every server process may
 * run one: the detector cursor and the outbox rows are claimed with FOR UPDATE SKIP LOCKED.
 * With a `wake` source (alert-wake.ts), an alert a domain raised itself starts a pass as soon as
 * its transaction commits, instead of waiting for the next tick.
 */
import { systemClock, type Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import { intervalTicker, type Ticker } from '../audit/index.js';
import { deliverAlerts, type DeliverOptions } from './delivery.js';
import { runDetector, type DetectorOptions } from './detector.js';
import { runDailyEpcsReviews } from './epcs-review.js';
import type { AlertSink } from './sinks.js';
import type { AlertWakeSource } from './alert-wake.js';

export interface MonitoringServiceOptions {
  readonly db: Database;
  readonly sinks?: readonly AlertSink[];
  readonly clock?: Clock;
  readonly ticker?: Ticker;
  /** Detector and delivery period (default 5 s). */
  readonly pollMs?: number;
  /** Daily-review period (default 1 h; the review itself runs once per tenant and day). */
  readonly reviewEveryMs?: number;
  readonly detector?: Omit<DetectorOptions, 'sinks'>;
  readonly delivery?: DeliverOptions;
  /** Runs a pass whenever it fires (between ticks); see alert-wake.ts. */
  readonly wake?: AlertWakeSource;
  /** Called with errors of a tick (which never throws); no PHI reaches it. */
  readonly onError?: (err: unknown) => void;
}

export class MonitoringService {
  readonly #o: MonitoringServiceOptions;
  readonly #clock: Clock;
  readonly #cancels: (() => void)[] = [];
  #tick: Promise<void> | undefined;
  #review: Promise<void> | undefined;
  /** A wake arrived during a pass, which may have read the log before that commit. */
  #again = false;
  #listening: Promise<(() => Promise<void>) | undefined> | undefined;

  constructor(options: MonitoringServiceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    const names = new Set((options.sinks ?? []).map((s) => s.name));
    if (names.size !== (options.sinks ?? []).length)
      throw new TypeError('sink names must be unique');
  }

  /** Starts both tickers and the wake listener (idempotent). */
  start(): void {
    if (this.#cancels.length > 0) return;
    const ticker = this.#o.ticker ?? intervalTicker;
    const onError = (err: unknown): void => this.#o.onError?.(err);
    this.#listening = this.#o
      .wake?.(() => {
        this.wake();
      }, onError)
      .catch((err: unknown) => {
        onError(err); // the ticks still run: alerts arrive a poll later
        return undefined;
      });
    this.#cancels.push(
      ticker.every(this.#o.pollMs ?? 5000, () => {
        void this.tick();
      }),
      ticker.every(this.#o.reviewEveryMs ?? 3_600_000, () => {
        void this.reviewTick();
      }),
    );
  }

  /** Stops the tickers and the listener, and waits for a running tick. */
  async stop(): Promise<void> {
    for (const cancel of this.#cancels.splice(0)) cancel();
    const listening = this.#listening;
    this.#listening = undefined;
    this.#again = false;
    await (
      await listening
    )?.();
    await Promise.all([this.#tick, this.#review]);
  }

  /** One detector + delivery pass; overlapping calls share the running pass. */
  tick(): Promise<void> {
    this.#tick ??= this.#runTick().finally(() => {
      this.#tick = undefined;
      if (this.#again) {
        this.#again = false;
        void this.tick();
      }
    });
    return this.#tick;
  }

  /** A pass now, or right after the running one (which may have missed the new commit). */
  wake(): void {
    if (this.#tick === undefined) void this.tick();
    else this.#again = true;
  }

  /** One daily-review pass over every tenant. */
  reviewTick(): Promise<void> {
    this.#review ??= this.#runReview().finally(() => {
      this.#review = undefined;
    });
    return this.#review;
  }

  async #runTick(): Promise<void> {
    const sinks = this.#o.sinks ?? [];
    try {
      await runDetector(this.#o.db, this.#clock, {
        ...this.#o.detector,
        sinks: sinks.map((s) => s.name),
      });
      await deliverAlerts(this.#o.db, sinks, this.#clock, this.#o.delivery);
    } catch (err) {
      this.#o.onError?.(err);
    }
  }

  async #runReview(): Promise<void> {
    try {
      const { failures } = await runDailyEpcsReviews(this.#o.db, this.#clock);
      for (const f of failures) this.#o.onError?.(f.error);
    } catch (err) {
      this.#o.onError?.(err);
    }
  }
}
