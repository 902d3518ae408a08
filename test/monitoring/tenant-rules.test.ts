import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  BREAKGLASS_OPEN,
  EPCS_PERMISSION_GRANT,
  NETWORK_DELIVERY_FAILED,
  PATIENT_READ,
  PATIENT_SEARCH,
  RX_SIGN_CONTROLLED,
  RX_TRANSMIT_FAILED,
  acknowledgeAlert,
  closeAlert,
  setRuleConfig,
} from '../../src/monitoring/index.js';
import { freshTenant, openTestDatabase } from '../db.js';
import { alertsOf, emit, testDetector, user } from './helpers.js';

const MIN = 60_000;
const patients = (n: number): { type: string; id: string }[] =>
  Array.from({ length: n }, () => ({ type: 'patient', id: randomUUID() }));

describe('monitoring rules on tenant audit records', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  // 2026-03-03 is a Tuesday; 15:00 UTC is inside default hours (07:00-19:00 UTC, Mon-Fri).
  const workday = (): ManualClock => new ManualClock(new Date('2026-03-03T15:00:00Z'));

  it('bulk lookup fires above 50 distinct patients in 10 minutes, not at 50', async () => {
    const t = await freshTenant(db);
    const clock = workday();
    const det = await testDetector(db, clock, [t]);
    const [heavy, light] = [randomUUID(), randomUUID()];
    const many = patients(51);
    // 50 distinct patients for `light` (with repeats), 51 for `heavy`, all within 9 minutes.
    for (let i = 0; i < 51; i++) {
      await emit(db, clock, {
        tenantId: t,
        actor: user(heavy),
        action: PATIENT_READ,
        subjects: [many[i]!],
      });
      await emit(db, clock, {
        tenantId: t,
        actor: user(light),
        action: PATIENT_READ,
        subjects: [many[i % 50]!],
      });
      clock.advance(10_000);
    }
    await det.run();
    const alerts = await alertsOf(db, t, 'bulk_lookup');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ subject: heavy, severity: 'high', count: 1, status: 'open' });
    expect(alerts[0]!.details).toEqual({ distinctPatients: 51, windowMinutes: 10 });
  });

  it('bulk lookup counts search results, and does not fire when the patients are spread past the window', async () => {
    const t = await freshTenant(db);
    const clock = workday();
    const det = await testDetector(db, clock, [t]);
    const [searcher, slow] = [randomUUID(), randomUUID()];
    await emit(db, clock, {
      tenantId: t,
      actor: user(searcher),
      action: PATIENT_SEARCH,
      subjects: patients(30),
    });
    clock.advance(MIN);
    await det.run(); // the window state survives across batches
    await emit(db, clock, {
      tenantId: t,
      actor: user(searcher),
      action: PATIENT_SEARCH,
      subjects: patients(21),
    });
    for (let i = 0; i < 60; i++) {
      await emit(db, clock, {
        tenantId: t,
        actor: user(slow),
        action: PATIENT_READ,
        subjects: patients(1),
      });
      clock.advance(15_000); // 60 patients over 15 minutes: at most 40 in any 10 minutes
    }
    await det.run();
    const alerts = await alertsOf(db, t, 'bulk_lookup');
    expect(alerts.map((a) => a.subject)).toEqual([searcher]);
  });

  it('off-hours access fires in the tenant time zone and not inside its hours', async () => {
    const t = await freshTenant(db);
    await setRuleConfig(
      db,
      t,
      'off_hours_access',
      {
        params: {
          timeZone: 'America/New_York',
          start: '08:00',
          end: '18:00',
          days: [1, 2, 3, 4, 5],
        },
      },
      { userId: randomUUID() },
      new ManualClock(),
    );
    const clock = new ManualClock(new Date('2026-07-07T13:00:00Z')); // Tue 09:00 EDT: inside
    const det = await testDetector(db, clock, [t]);
    const [day, night] = [randomUUID(), randomUUID()];
    await emit(db, clock, {
      tenantId: t,
      actor: user(day),
      action: PATIENT_READ,
      subjects: patients(1),
    });
    clock.set(new Date('2026-07-07T21:59:00Z')); // 17:59 EDT: inside
    await emit(db, clock, {
      tenantId: t,
      actor: user(day),
      action: PATIENT_READ,
      subjects: patients(1),
    });
    await emit(db, clock, { tenantId: t, actor: { kind: 'system' }, action: PATIENT_READ });
    clock.set(new Date('2026-07-08T03:30:00Z')); // 23:30 EDT: outside (19:00 UTC would be inside UTC hours)
    await emit(db, clock, {
      tenantId: t,
      actor: user(night),
      action: PATIENT_READ,
      subjects: patients(1),
    });
    clock.advance(5 * MIN);
    await emit(db, clock, {
      tenantId: t,
      actor: user(night),
      action: PATIENT_READ,
      subjects: patients(1),
    });
    await det.run();
    const alerts = await alertsOf(db, t, 'off_hours_access');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ subject: night, count: 2, severity: 'low' });
  });

  it('transmission failures fire and deduplicate within the hour; a later hour is a new alert', async () => {
    const t = await freshTenant(db);
    const clock = workday();
    const det = await testDetector(db, clock, [t]);
    for (let i = 0; i < 3; i++) {
      await emit(db, clock, {
        tenantId: t,
        actor: { kind: 'system' },
        action: RX_TRANSMIT_FAILED,
        outcome: 'failure',
      });
      clock.advance(5 * MIN);
    }
    await det.run();
    clock.advance(60 * MIN);
    await emit(db, clock, {
      tenantId: t,
      actor: { kind: 'system' },
      action: RX_TRANSMIT_FAILED,
      outcome: 'failure',
    });
    await emit(db, clock, {
      tenantId: t,
      actor: { kind: 'system' },
      action: NETWORK_DELIVERY_FAILED,
      outcome: 'failure',
    });
    // A delivered prescription, and a failure the outbox worker already alerted, do not fire.
    await emit(db, clock, {
      tenantId: t,
      actor: { kind: 'system' },
      action: 'prescription.transmitted',
    });
    await emit(db, clock, {
      tenantId: t,
      actor: { kind: 'system' },
      action: RX_TRANSMIT_FAILED,
      outcome: 'failure',
      details: { alertRaised: true },
    });
    await det.run();
    const alerts = await alertsOf(db, t, 'transmission_failure');
    expect(alerts.map((a) => [a.subject, a.count]).sort()).toEqual([
      [NETWORK_DELIVERY_FAILED, 1],
      [RX_TRANSMIT_FAILED, 1],
      [RX_TRANSMIT_FAILED, 3],
    ]);
    const first = alerts.find((a) => a.count === 3)!;
    expect(first.lastSeen.getTime() - first.firstSeen.getTime()).toBe(10 * MIN);
  });

  it('break-glass: every use is its own high alert; EPCS events alert; a disabled rule does not', async () => {
    const t = await freshTenant(db);
    const clock = workday();
    const det = await testDetector(db, clock, [t]);
    const doc = randomUUID();
    await emit(db, clock, {
      tenantId: t,
      actor: user(doc),
      action: BREAKGLASS_OPEN,
      reason: 'ED-1',
    });
    await emit(db, clock, {
      tenantId: t,
      actor: user(doc),
      action: BREAKGLASS_OPEN,
      reason: 'ED-2',
    });
    await emit(db, clock, { tenantId: t, actor: user(doc), action: RX_SIGN_CONTROLLED });
    await emit(db, clock, { tenantId: t, actor: user(doc), action: EPCS_PERMISSION_GRANT });
    await emit(db, clock, { tenantId: t, actor: user(doc), action: 'rx.sign' }); // not controlled
    await emit(db, clock, {
      tenantId: t,
      actor: { kind: 'system' },
      action: 'identity.proofing.expired',
    });
    await emit(db, clock, {
      tenantId: t,
      actor: { kind: 'system' },
      action: 'identity.proofing.complete',
    }); // no alert
    await det.run();
    expect((await alertsOf(db, t, 'break_glass')).map((a) => [a.severity, a.count])).toEqual([
      ['high', 1],
      ['high', 1],
    ]);
    const epcs = await alertsOf(db, t, 'epcs_event');
    expect(epcs.map((a) => a.subject).sort()).toEqual([
      `${EPCS_PERMISSION_GRANT}:${doc}`,
      'identity.proofing.expired:-',
      `${RX_SIGN_CONTROLLED}:${doc}`,
    ]);
    // Alerts carry identifiers and codes only: no reason text from the audit record.
    expect(JSON.stringify(await alertsOf(db, t))).not.toMatch(/ED-1|ED-2/);

    await setRuleConfig(db, t, 'break_glass', { enabled: false }, { userId: doc }, clock);
    await emit(db, clock, { tenantId: t, actor: user(doc), action: BREAKGLASS_OPEN });
    await det.run();
    expect(await alertsOf(db, t, 'break_glass')).toHaveLength(2);
  });

  it('rule configuration is validated, per tenant, and audited', async () => {
    const [a, b] = [await freshTenant(db), await freshTenant(db)];
    const clock = workday();
    const admin = { userId: randomUUID() };
    await expect(
      setRuleConfig(db, a, 'bulk_lookup', { params: { maxDistinctPatients: 0 } }, admin, clock),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'maxDistinctPatients' });
    await expect(
      setRuleConfig(
        db,
        a,
        'off_hours_access',
        { params: { timeZone: 'Mars/Olympus' } },
        admin,
        clock,
      ),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'timeZone' });
    await expect(
      setRuleConfig(db, a, 'bulk_lookup', { params: { surprise: 1 } }, admin, clock),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'surprise' });
    const rule = await setRuleConfig(
      db,
      a,
      'bulk_lookup',
      { params: { maxDistinctPatients: 2 } },
      admin,
      clock,
    );
    expect(rule).toMatchObject({ enabled: true, maxDistinctPatients: 2, windowMinutes: 10 });
    const det = await testDetector(db, clock, [a, b]);
    for (const t of [a, b]) {
      await emit(db, clock, {
        tenantId: t,
        actor: user(),
        action: PATIENT_SEARCH,
        subjects: patients(3),
      });
    }
    await det.run();
    expect(await alertsOf(db, a, 'bulk_lookup')).toHaveLength(1);
    expect(await alertsOf(db, b, 'bulk_lookup')).toHaveLength(0);
    const audited = await db.withTenant(
      a,
      async (tx) =>
        (
          await tx.query<{ action: string; details: unknown }>(
            "SELECT action, details FROM audit_log WHERE action = 'monitoring.rule.update'",
          )
        ).rows,
    );
    expect(audited).toEqual([
      { action: 'monitoring.rule.update', details: { rule: 'bulk_lookup', enabled: true } },
    ]);
  });

  it('acknowledging is audited, happens once, and only within the tenant', async () => {
    const [t, other] = [await freshTenant(db), await freshTenant(db)];
    const clock = workday();
    const det = await testDetector(db, clock, [t]);
    await emit(db, clock, { tenantId: t, actor: user(), action: BREAKGLASS_OPEN });
    await det.run();
    const [alert] = await alertsOf(db, t, 'break_glass');
    const reviewer = randomUUID();
    await expect(
      acknowledgeAlert(db, { tenantId: other, alertId: alert!.id, userId: reviewer }, clock),
    ).rejects.toMatchObject({ code: 'not_found' });
    clock.advance(MIN);
    const acked = await acknowledgeAlert(
      db,
      { tenantId: t, alertId: alert!.id, userId: reviewer, note: 'covered by ED policy' },
      clock,
    );
    expect(acked).toMatchObject({
      status: 'acknowledged',
      acknowledgedBy: reviewer,
      note: 'covered by ED policy',
    });
    expect(acked.acknowledgedAt).toEqual(clock.now());
    await expect(
      acknowledgeAlert(db, { tenantId: t, alertId: alert!.id, userId: reviewer }, clock),
    ).rejects.toMatchObject({ code: 'conflict' });
    const closed = await closeAlert(
      db,
      { tenantId: t, alertId: alert!.id, userId: reviewer },
      clock,
    );
    expect(closed.status).toBe('closed');
    const records = await db.withTenant(
      t,
      async (tx) =>
        (
          await tx.query<{
            action: string;
            actor_user_id: string;
            subjects: unknown;
            record: string;
          }>(
            "SELECT action, actor_user_id, subjects, record FROM audit_log WHERE action LIKE 'monitoring.alert.%' ORDER BY seq",
          )
        ).rows,
    );
    expect(records.map((r) => [r.action, r.actor_user_id])).toEqual([
      ['monitoring.alert.acknowledge', reviewer],
      ['monitoring.alert.close', reviewer],
    ]);
    expect(records[0]!.subjects).toEqual([{ type: 'alert', id: alert!.id }]);
    expect(records[0]!.record).not.toContain('ED policy'); // the note stays on the alert
  });
});
