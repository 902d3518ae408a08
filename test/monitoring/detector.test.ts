import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  BREAKGLASS_OPEN,
  PATIENT_READ,
  RX_TRANSMIT_FAILED,
  runDetector,
  runDetectorBatch,
} from '../../src/monitoring/index.js';
import { freshTenant, openTestDatabase } from '../db.js';
import { alertsOf, emit, testDetector, user } from './helpers.js';

describe('audit-stream detector', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  const cursorOf = async (name: string): Promise<number> =>
    db.withoutTenant(async (tx) =>
      Number(
        (
          await tx.query<{ last_seq: string }>(
            'SELECT last_seq FROM monitoring_cursors WHERE detector = $1',
            [name],
          )
        ).rows[0]?.last_seq,
      ),
    );

  it('resumes after a crash before commit without losing or duplicating alerts', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-03T15:00:00Z'));
    const det = await testDetector(db, clock, [t], { batchSize: 3 });
    const before = await cursorOf(det.name);
    const reader = randomUUID();
    for (let i = 0; i < 4; i++) {
      await emit(db, clock, { tenantId: t, actor: { kind: 'system' }, action: RX_TRANSMIT_FAILED });
    }
    await emit(db, clock, { tenantId: t, actor: user(), action: BREAKGLASS_OPEN });
    for (let i = 0; i < 60; i++) {
      await emit(db, clock, {
        tenantId: t,
        actor: user(reader),
        action: PATIENT_READ,
        subjects: [{ type: 'patient', id: randomUUID() }],
      });
    }
    // The process dies in the middle of a later batch: everything up to then committed.
    let batches = 0;
    await expect(
      det.run({
        beforeCommit: () => {
          if (++batches === 3) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    expect(await cursorOf(det.name)).toBeGreaterThan(before);
    const partial = await alertsOf(db, t);
    expect(partial.filter((a) => a.rule === 'bulk_lookup')).toEqual([]);
    // A restart picks up where the last commit left it.
    await det.run();
    await det.run();
    const alerts = await alertsOf(db, t);
    const summary = alerts.map((a) => [a.rule, a.count]).sort();
    expect(summary).toEqual([
      ['break_glass', 1],
      ['bulk_lookup', 10], // patients 51..60 each keep the window above 50
      ['transmission_failure', 4],
    ]);
  });

  it('two processes on one cursor process each record exactly once', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-03-03T15:00:00Z'));
    const det = await testDetector(db, clock, [t], { batchSize: 2 });
    for (let i = 0; i < 9; i++) {
      await emit(db, clock, { tenantId: t, actor: { kind: 'system' }, action: RX_TRANSMIT_FAILED });
    }
    const options = { name: det.name, batchSize: 2, scope: (x: string | null) => x === t };
    const results = await Promise.all([
      runDetector(db, clock, options),
      runDetector(db, clock, options),
      runDetectorBatch(db, clock, options),
    ]);
    expect(results.length).toBe(3);
    await det.run();
    const alerts = await alertsOf(db, t, 'transmission_failure');
    expect(alerts.map((a) => a.count)).toEqual([9]);
  });

  it('an empty log range is a no-op', async () => {
    const clock = new ManualClock();
    const det = await testDetector(db, clock, []);
    const head = await cursorOf(det.name);
    const run = await det.run();
    expect(run.opened).toEqual([]);
    expect(await cursorOf(det.name)).toBeGreaterThanOrEqual(head);
  });
});
