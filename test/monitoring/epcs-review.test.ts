import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  AUTH_LOGIN_FAILURE,
  EPCS_PERMISSION_GRANT,
  EPCS_PERMISSION_REVOKE,
  PATIENT_READ,
  RX_SIGN_CONTROLLED,
  decideEpcsReviewItem,
  getEpcsReview,
  runDailyEpcsReview,
  setRuleConfig,
} from '../../src/monitoring/index.js';
import { freshTenant, openTestDatabase, ownerClient } from '../db.js';
import { member } from '../compliance/helpers.js';
import { emit, user } from './helpers.js';

describe('daily EPCS review (21 CFR 1311.150)', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  const reviewAudits = async (t: Parameters<typeof db.withTenant>[0]) =>
    db.withTenant(
      t,
      async (tx) =>
        (
          await tx.query<{ action: string; details: Record<string, unknown> }>(
            `SELECT action, details FROM audit_log
              WHERE action = 'epcs.review.decide'
                 OR (action = 'epcs.review.create' AND details->>'day' = '2026-05-11')
              ORDER BY seq`,
          )
        ).rows,
    );

  it("reports the previous local day's 1311.150 events once, and keeps each decision", async () => {
    const [t, other] = [await freshTenant(db), await freshTenant(db)];
    const admin = randomUUID();
    await setRuleConfig(
      db,
      t,
      'off_hours_access',
      { params: { timeZone: 'America/Chicago' } },
      { userId: admin },
      new ManualClock(),
    );
    const doc = randomUUID();
    // 2026-05-11 local (CDT, UTC−5) runs from 05:00Z on the 11th to 05:00Z on the 12th.
    const clock = new ManualClock(new Date('2026-05-11T04:59:00Z')); // still the 10th locally
    await emit(db, clock, { tenantId: t, actor: user(doc), action: RX_SIGN_CONTROLLED });
    clock.set(new Date('2026-05-11T05:00:00Z'));
    await emit(db, clock, {
      tenantId: t,
      actor: user(admin),
      action: EPCS_PERMISSION_GRANT,
      subjects: [{ type: 'user', id: doc }],
    });
    await emit(db, clock, { tenantId: t, actor: user(doc), action: RX_SIGN_CONTROLLED });
    await emit(db, clock, {
      tenantId: t,
      actor: user(doc),
      action: RX_SIGN_CONTROLLED,
      outcome: 'failure',
    });
    await emit(db, clock, { tenantId: t, actor: user(doc), action: PATIENT_READ }); // not a 1311.150 event
    await emit(db, clock, {
      tenantId: t,
      actor: user(doc),
      action: 'access.context.deny',
      outcome: 'denied',
    });
    await emit(db, clock, {
      tenantId: t,
      actor: user(doc),
      action: 'prescription.edit.refused',
      outcome: 'failure',
    });
    await emit(db, clock, { tenantId: other, actor: user(), action: RX_SIGN_CONTROLLED }); // other tenant
    clock.set(new Date('2026-05-12T04:59:59Z'));
    await emit(db, clock, { tenantId: t, actor: user(admin), action: EPCS_PERMISSION_REVOKE });
    clock.set(new Date('2026-05-12T05:00:00Z')); // the 12th locally: not in the report
    await emit(db, clock, { tenantId: t, actor: user(doc), action: RX_SIGN_CONTROLLED });

    clock.set(new Date('2026-05-12T11:00:00Z'));
    const review = await runDailyEpcsReview(db, clock.now(), t, clock);
    expect(review).toMatchObject({
      day: '2026-05-11',
      timeZone: 'America/Chicago',
      periodStart: new Date('2026-05-11T05:00:00Z'),
      periodEnd: new Date('2026-05-12T05:00:00Z'),
      counts: {
        permission_change: 2,
        controlled_signing: 1,
        failed_signing: 1,
        identity_proofing: 0,
        audit_failure: 0,
        unauthorized_access: 1,
        refused_modification: 1,
      },
    });
    expect(review.items.map((i) => [i.category, i.action, i.actorUserId, i.decision])).toEqual([
      ['permission_change', EPCS_PERMISSION_GRANT, admin, null],
      ['controlled_signing', RX_SIGN_CONTROLLED, doc, null],
      ['failed_signing', RX_SIGN_CONTROLLED, doc, null],
      ['unauthorized_access', 'access.context.deny', doc, null],
      ['refused_modification', 'prescription.edit.refused', doc, null],
      ['permission_change', EPCS_PERMISSION_REVOKE, admin, null],
    ]);

    // Idempotent: a second run (another process, a later tick) returns the same report.
    clock.advance(3_600_000);
    const again = await runDailyEpcsReview(db, '2026-05-12', t, clock);
    expect(again.id).toBe(review.id);
    expect(again.items.map((i) => i.id)).toEqual(review.items.map((i) => i.id));
    expect((await reviewAudits(t)).map((a) => a.action)).toEqual(['epcs.review.create']);

    const reviewer = randomUUID();
    const [first, second] = review.items;
    const decided = await decideEpcsReviewItem(
      db,
      t,
      {
        itemId: first!.id,
        decision: 'not_incident',
        userId: reviewer,
        note: 'approved by practice admin',
      },
      clock,
    );
    expect(decided).toMatchObject({
      decision: 'not_incident',
      decidedBy: reviewer,
      decidedAt: clock.now(),
    });
    await decideEpcsReviewItem(
      db,
      t,
      { itemId: second!.id, decision: 'incident', userId: reviewer },
      clock,
    );
    await expect(
      decideEpcsReviewItem(
        db,
        t,
        { itemId: first!.id, decision: 'incident', userId: reviewer },
        clock,
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      decideEpcsReviewItem(
        db,
        other,
        { itemId: second!.id, decision: 'incident', userId: reviewer },
        clock,
      ),
    ).rejects.toMatchObject({ code: 'not_found' });

    const kept = await getEpcsReview(db, t, '2026-05-11');
    expect(kept.items.map((i) => i.decision)).toEqual([
      'not_incident',
      'incident',
      null,
      null,
      null,
      null,
    ]);
    expect(kept.items[0]!.note).toBe('approved by practice admin');
    const audits = await reviewAudits(t);
    expect(audits.map((a) => [a.action, a.details.decision ?? null])).toEqual([
      ['epcs.review.create', null],
      ['epcs.review.decide', 'not_incident'],
      ['epcs.review.decide', 'incident'],
    ]);
    expect(JSON.stringify(audits)).not.toContain('practice admin');

    // Even the table owner cannot change a decision or the report.
    const owner = await ownerClient();
    try {
      await owner.query("SELECT set_config('scrip.tenant_id', $1, false)", [t]);
      await expect(
        owner.query("UPDATE epcs_review_items SET decision = 'not_incident' WHERE id = $1", [
          second!.id,
        ]),
      ).rejects.toThrow(/immutable/);
      await expect(
        owner.query('DELETE FROM epcs_reviews WHERE id = $1', [review.id]),
      ).rejects.toThrow(/immutable/);
    } finally {
      await owner.end();
    }
    await expect(getEpcsReview(db, other, '2026-05-11')).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it("lists failed sign-ins and lockouts of the tenant's members, not other people's", async () => {
    const t = await freshTenant(db);
    const doc = await member(db, t, ['prescriber']);
    const stranger = randomUUID();
    const clock = new ManualClock(new Date('2026-06-02T09:00:00Z'));
    const platform = { tenantId: null, outcome: 'failure' as const };
    await emit(db, clock, { ...platform, actor: user(doc.userId), action: AUTH_LOGIN_FAILURE });
    await emit(db, clock, { ...platform, actor: user(stranger), action: AUTH_LOGIN_FAILURE });
    await emit(db, clock, {
      ...platform,
      outcome: 'denied',
      actor: user(doc.userId),
      action: 'auth.lockout',
    });
    clock.set(new Date('2026-06-03T12:00:00Z'));
    const review = await runDailyEpcsReview(db, clock.now(), t, clock);
    expect(review.items.map((i) => [i.category, i.action, i.actorUserId])).toEqual([
      ['unauthorized_access', AUTH_LOGIN_FAILURE, doc.userId],
      ['unauthorized_access', 'auth.lockout', doc.userId],
    ]);
    expect(review.counts.unauthorized_access).toBe(2);
  });

  it('refuses a day that has not ended and reviews an empty day as empty', async () => {
    const t = await freshTenant(db);
    const clock = new ManualClock(new Date('2026-05-12T11:00:00Z'));
    await expect(runDailyEpcsReview(db, '2026-05-13', t, clock)).rejects.toMatchObject({
      code: 'conflict',
    });
    const empty = await runDailyEpcsReview(db, clock.now(), t, clock);
    expect(empty).toMatchObject({ day: '2026-05-11', timeZone: 'UTC', items: [] });
  });
});
