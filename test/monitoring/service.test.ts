import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cryptoRandom, ManualClock } from '../../src/core/index.js';
import type { Database, Tx } from '../../src/db/index.js';
import { appendAudit, type Ticker } from '../../src/audit/index.js';
import {
  BREAKGLASS_OPEN,
  immediateAlerter,
  listenForRaisedAlerts,
  MonitoringService,
  type AlertNotice,
  type AlertWakeSource,
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

  it('an alert a domain raises itself reaches the sinks when its transaction commits, without a tick', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-04T15:00:00Z'));
    const det = await testDetector(db, clock, [t]);
    const got: AlertNotice[] = [];
    const errors: unknown[] = [];
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const wake: AlertWakeSource = async (onWake, onError) => {
      const stop = await listenForRaisedAlerts(db)(onWake, onError);
      listening();
      return stop;
    };
    const ticker = manualTicker(); // never fired: only the wake can deliver
    const service = new MonitoringService({
      db,
      clock,
      ticker,
      wake,
      sinks: [{ name: `mem-${t}`, deliver: async (n) => void got.push(n) }],
      detector: { name: det.name, scope: (x) => x === t },
      onError: (e) => errors.push(e),
    });
    service.start();
    await ready;
    const actor = user();
    /** What the break-glass service does in the transaction that opens the session. */
    const breakGlass = (tx: Tx) =>
      appendAudit(
        tx,
        {
          tenantId: t,
          actor,
          action: BREAKGLASS_OPEN,
          outcome: 'success',
          details: { alertRaised: true },
        },
        clock,
      ).then(({ seq }) =>
        immediateAlerter(cryptoRandom)(tx, {
          tenantId: t,
          rule: 'break_glass',
          subject: actor.userId ?? '',
          at: clock.now(),
          seq,
          details: { action: BREAKGLASS_OPEN },
        }),
      );
    // Rolled back: no alert, no wake.
    await expect(
      db.withTenant(t, async (tx) => {
        await breakGlass(tx);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    const alertId = await db.withTenant(t, breakGlass);
    await vi.waitFor(
      () => {
        expect(got.map((n) => [n.alertId, n.rule])).toEqual([[alertId, 'break_glass']]);
      },
      { timeout: 10_000, interval: 20 },
    );
    await service.stop();
    expect(errors).toEqual([]);
  });
});
