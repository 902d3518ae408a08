import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { activeBreakGlass } from '../../src/access/access-ops.js';
import { listAlerts, runDetector } from '../../src/monitoring/index.js';
import { bootstrapAdmin, get, inviteAndEnrol, post, type Enrolled } from '../identity/harness.js';
import {
  auditOf,
  newPatient,
  opsHarness,
  otherTenant,
  put,
  stepUp,
  type OpsHarness,
} from './helpers.js';

interface Session {
  id: string;
  userId: string;
  active: boolean;
  writeAllowed: boolean;
  startedAt: string;
  expiresAt: string;
  reviewStatus: string;
  reviewOutcome: string | null;
}

const REASON = 'unconscious patient in the ED, no care team reachable';

describe('break-glass emergency access', () => {
  let h: OpsHarness;
  let admin: Enrolled;
  let pres: Enrolled;
  let both: Enrolled;
  let patient: string;
  let rows: () => Promise<number>;

  beforeAll(async () => {
    h = await opsHarness();
    admin = await bootstrapAdmin(h);
    pres = await inviteAndEnrol(h, admin.browser, 'pres@example.test', ['prescriber']);
    // Can break the glass and review break-glass: must still not review their own.
    both = await inviteAndEnrol(h, admin.browser, 'both@example.test', [
      'prescriber',
      'compliance_officer',
    ]);
    patient = await newPatient(h, admin.tenantId);
    rows = () =>
      h.p.db.withTenant(asTenantId(admin.tenantId), async (tx) => {
        const r = await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM break_glass_sessions',
        );
        return r.rows[0]?.n ?? -1;
      });
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  const start = (who: Enrolled, extra: Record<string, unknown> = {}) =>
    post(h.ops, '/api/v1/break-glass', who.browser, {
      patientId: patient,
      category: 'emergency_treatment',
      reason: REASON,
      ...extra,
    });

  it('is refused without a step-up (step_up_required) and without a reason', async () => {
    const noStep = await start(pres);
    expect(noStep.statusCode).toBe(403);
    expect(noStep.json<{ code: string }>().code).toBe('step_up_required');
    // A step-up for another action does not count.
    await stepUp(h, pres, 'rx.sign');
    expect((await start(pres)).json<{ code: string }>().code).toBe('step_up_required');

    const bad: Record<string, unknown>[] = [
      { reason: undefined },
      { reason: 'too short' },
      { category: 'curiosity' },
      { minutes: 241 },
    ];
    for (const b of bad) {
      await stepUp(h, pres, 'breakglass.start');
      const res = await post(h.ops, '/api/v1/break-glass', pres.browser, {
        patientId: patient,
        category: 'emergency_treatment',
        reason: REASON,
        ...b, // an undefined reason is left out of the JSON body
      });
      expect(res.statusCode, JSON.stringify(b)).toBe(400);
    }
    // Whitespace padding does not make a reason.
    await stepUp(h, pres, 'breakglass.start');
    expect((await start(pres, { reason: `   x${' '.repeat(20)}` })).statusCode).toBe(400);
    // Someone without breakglass.use is refused whatever they send.
    expect((await start(admin)).statusCode).toBe(403);
    expect(await rows()).toBe(0);
  });

  it('with reason and step-up: starts read-only, time-boxed, alerted once, queued for review', async () => {
    await stepUp(h, pres, 'breakglass.start');
    const res = await start(pres);
    expect(res.statusCode, res.body).toBe(201);
    const s = res.json<Session>();
    expect(s).toMatchObject({ userId: pres.userId, active: true, writeAllowed: false });
    expect(Date.parse(s.expiresAt) - Date.parse(s.startedAt)).toBe(60 * 60_000);

    const t = asTenantId(admin.tenantId);
    const active = await h.p.db.withTenant(t, (tx) =>
      activeBreakGlass(tx, pres.userId, patient, h.clock.now()),
    );
    expect(active).toMatchObject({ sessionId: s.id, category: 'emergency_treatment' });
    expect(active?.reason).toBe(REASON);

    // The alert is there at once, high severity, without the free-text reason.
    const alerts = await listAlerts(h.p.db, t, { rule: 'break_glass' });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ severity: 'high', subject: pres.userId, count: 1 });
    expect(alerts[0]?.details).toMatchObject({ breakGlassId: s.id });
    expect(JSON.stringify(alerts)).not.toContain('unconscious');
    // The detector sees the audit record but does not alert a second time.
    const run = await runDetector(h.p.db, h.clock, {
      scope: (tenant) => tenant === admin.tenantId,
    });
    expect(run.opened.filter((a) => a.rule === 'break_glass')).toEqual([]);
    const after = await listAlerts(h.p.db, t, { rule: 'break_glass' });
    expect(after.map((a) => a.count)).toEqual([1]);

    const audit = (await auditOf(h, admin.tenantId)).filter(
      (a) => a.action === 'access.breakglass.open',
    );
    expect(audit).toHaveLength(1);
    expect(audit[0]?.details).toMatchObject({ breakGlassId: s.id, writeAllowed: false });
    expect(JSON.stringify(audit)).not.toContain('unconscious');

    // The review queue lists it for reviewers; a prescriber may not read the queue.
    const queue = await get(h.ops, '/api/v1/break-glass/reviews', admin.browser);
    expect(queue.json<{ sessions: Session[] }>().sessions.map((x) => x.id)).toContain(s.id);
    expect((await get(h.ops, '/api/v1/break-glass/reviews', pres.browser)).statusCode).toBe(403);
    // A second session for the same patient while one is active: conflict.
    await stepUp(h, pres, 'breakglass.start');
    expect((await start(pres)).statusCode).toBe(409);
    // Not reviewable while active.
    const early = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, admin.browser, {
      outcome: 'justified',
      notes: 'checked',
    });
    expect(early.statusCode).toBe(409);
    const ended = await post(h.ops, `/api/v1/break-glass/${s.id}/end`, pres.browser);
    expect(ended.json<Session>().active).toBe(false);
    expect(
      await h.p.db.withTenant(t, (tx) => activeBreakGlass(tx, pres.userId, patient, h.clock.now())),
    ).toBeUndefined();
  });

  it('the user who broke the glass cannot close their own review; someone else can', async () => {
    await stepUp(h, both, 'breakglass.start');
    const s = (await start(both, { category: 'patient_safety' })).json<Session>();
    await post(h.ops, `/api/v1/break-glass/${s.id}/end`, both.browser);
    const self = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, both.browser, {
      outcome: 'justified',
      notes: 'it was fine',
    });
    expect(self.statusCode).toBe(403);
    expect(self.json<{ detail: string }>().detail).toBe('self_review');
    const refused = (await auditOf(h, admin.tenantId)).filter(
      (a) => a.action === 'access.breakglass_review.close' && a.outcome === 'denied',
    );
    expect(refused.map((a) => a.actor_user_id)).toEqual([both.userId]);
    // Someone without breakglass.review cannot either.
    const pr = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, pres.browser, {
      outcome: 'justified',
      notes: 'x',
    });
    expect(pr.statusCode).toBe(403);
    const ok = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, admin.browser, {
      outcome: 'justified',
      notes: 'confirmed with the ED lead',
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json<Session>()).toMatchObject({
      reviewStatus: 'closed',
      reviewOutcome: 'justified',
    });
    const again = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, admin.browser, {
      outcome: 'unjustified',
      notes: 'changed my mind',
    });
    expect(again.statusCode).toBe(409);
    const queue = await get(h.ops, '/api/v1/break-glass/reviews', admin.browser);
    expect(queue.json<{ sessions: Session[] }>().sessions.map((x) => x.id)).not.toContain(s.id);
  });

  it('the tenant policy sets the time box and may allow writes; an unjustified review alerts', async () => {
    const settings = { breakGlassMinutes: 2, breakGlassWriteAllowed: true };
    const bare = await put(h.ops, '/api/v1/access/settings', admin.browser, settings);
    expect(bare.json()).toMatchObject({
      code: 'step_up_required',
      detail: 'access.settings.change',
    });
    await stepUp(h, admin, 'access.settings.change');
    const set = await put(h.ops, '/api/v1/access/settings', admin.browser, settings);
    expect(set.statusCode, set.body).toBe(200);
    // The step-up is spent: the next change needs another.
    const again = await put(h.ops, '/api/v1/access/settings', admin.browser, settings);
    expect(again.json()).toMatchObject({ code: 'step_up_required' });
    expect((await put(h.ops, '/api/v1/access/settings', pres.browser, {})).statusCode).toBe(403);
    await stepUp(h, pres, 'breakglass.start');
    const s = (await start(pres, { category: 'system_outage', minutes: 200 })).json<Session>();
    expect(s.writeAllowed).toBe(true);
    expect(Date.parse(s.expiresAt) - Date.parse(s.startedAt)).toBe(2 * 60_000);
    h.clock.advance(2 * 60_000);
    const t = asTenantId(admin.tenantId);
    expect(
      await h.p.db.withTenant(t, (tx) => activeBreakGlass(tx, pres.userId, patient, h.clock.now())),
    ).toBeUndefined();
    const before = (await listAlerts(h.p.db, t, { rule: 'break_glass' })).length;
    const res = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, admin.browser, {
      outcome: 'unjustified',
      notes: 'no emergency found',
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((await listAlerts(h.p.db, t, { rule: 'break_glass' })).length).toBe(before + 1);
    await stepUp(h, admin, 'access.settings.change');
    const reset = await put(h.ops, '/api/v1/access/settings', admin.browser, {
      breakGlassMinutes: 60,
      breakGlassWriteAllowed: false,
    });
    expect(reset.statusCode, reset.body).toBe(200);
  });

  it("another tenant's session and patient answer 404", async () => {
    await stepUp(h, pres, 'breakglass.start');
    const s = (await start(pres)).json<Session>();
    const stranger = await otherTenant(h, 'doc@other.test', ['prescriber', 'compliance_officer']);
    expect((await get(h.ops, `/api/v1/break-glass/${s.id}`, stranger.browser)).statusCode).toBe(
      404,
    );
    const review = await post(h.ops, `/api/v1/break-glass/${s.id}/review`, stranger.browser, {
      outcome: 'unjustified',
      notes: 'x',
    });
    expect(review.statusCode).toBe(404);
    expect(
      (await post(h.ops, `/api/v1/break-glass/${s.id}/end`, stranger.browser)).statusCode,
    ).toBe(404);
    await stepUp(h, stranger, 'breakglass.start');
    const cross = await start(stranger);
    expect(cross.statusCode).toBe(404);
    const queue = await get(h.ops, '/api/v1/break-glass/reviews', stranger.browser);
    expect(queue.json<{ sessions: unknown[] }>().sessions).toEqual([]);
    // The owner still sees it.
    expect((await get(h.ops, `/api/v1/break-glass/${s.id}`, pres.browser)).statusCode).toBe(200);
  });
});
