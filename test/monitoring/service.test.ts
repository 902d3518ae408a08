import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import type { Ticker } from '../../src/audit/index.js';
import {
  BREAKGLASS_OPEN,
  MonitoringService,
  type AlertNotice,
} from '../../src/monitoring/index.js';
import { freshTenant, openTestDatabase } from '../db.js';
import { alertsOf, emit, testDetector, user } from './helpers.js';

/** A ticker driven by hand: `fire()` runs every registered callback once. */
function manualTicker(): Ticker & { fire: () => void; active: () => number } {
  const fns = new Set<() => void>();
  return {
    every(_ms, fn) {
      fns.add(fn);
      return () => fns.delete(fn);
    },
    fire: () => {
      for (const fn of fns) fn();
    },
    active: () => fns.size,
  };
}

describe('MonitoringService', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  it('detects, delivers and reviews on its ticks, and stops cleanly', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-03T15:00:00Z'));
    const det = await testDetector(db, clock, [t]);
    const got: AlertNotice[] = [];
    const ticker = manualTicker();
    const errors: unknown[] = [];
    const service = new MonitoringService({
      db,
      clock,
      ticker,
      sinks: [{ name: `mem-${t}`, deliver: async (n) => void got.push(n) }],
      detector: { name: det.name, scope: (x) => x === t },
      onError: (e) => errors.push(e),
    });
    service.start();
    expect(ticker.active()).toBe(2);
    await emit(db, clock, { tenantId: t, actor: user(), action: BREAKGLASS_OPEN });
    ticker.fire();
    await service.tick(); // joins the pass the ticker started
    await service.reviewTick();
    expect(got.map((n) => [n.tenantId, n.rule])).toEqual([[t, 'break_glass']]);
    expect(await alertsOf(db, t, 'break_glass')).toHaveLength(1);
    const reviews = await db.withTenant(
      t,
      async (tx) => (await tx.query('SELECT day FROM epcs_reviews')).rowCount,
    );
    expect(reviews).toBe(1);
    await service.stop();
    expect(ticker.active()).toBe(0);
    expect(errors).toEqual([]);
  });
});
