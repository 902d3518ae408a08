import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { BUILT_IN_CATALOG } from '../../src/access/role-catalog.js';
import { lastCompletedReview } from '../../src/access/access-ops.js';
import { runDetector } from '../../src/monitoring/index.js';
import { bootstrapAdmin, get, inviteAndEnrol, post, type Enrolled } from '../identity/harness.js';
import { auditOf, opsHarness, otherTenant, type OpsHarness } from './helpers.js';

interface Item {
  id: string;
  userId: string;
  roles: string[];
  decision: string | null;
  outcome: string | null;
}
interface Campaign {
  id: string;
  status: string;
  scope: string;
  unreviewedAtClose: number | null;
  items: Item[];
}

describe('access reviews (recertification)', () => {
  let h: OpsHarness;
  let admin: Enrolled;
  let officer: Enrolled;
  let pres: Enrolled;
  let tech: Enrolled;
  let multi: Enrolled;

  beforeAll(async () => {
    h = await opsHarness();
    admin = await bootstrapAdmin(h);
    officer = await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer']);
    pres = await inviteAndEnrol(h, admin.browser, 'pres@example.test', ['prescriber']);
    tech = await inviteAndEnrol(h, admin.browser, 'tech@example.test', ['pharmacy_technician']);
    multi = await inviteAndEnrol(h, admin.browser, 'multi@example.test', [
      'prescriber',
      'care_coordinator',
    ]);
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  const inMinutes = (m: number): string =>
    new Date(h.clock.now().getTime() + m * 60_000).toISOString();
  const create = (body: Record<string, unknown>, who = admin) =>
    post(h.ops, '/api/v1/access-reviews', who.browser, body);
  const campaign = async (id: string): Promise<Campaign> =>
    (await get(h.ops, `/api/v1/access-reviews/${id}`, admin.browser)).json<Campaign>();
  const itemOf = (c: Campaign, user: Enrolled): Item => {
    const i = c.items.find((x) => x.userId === user.userId);
    expect(i, user.userId).toBeDefined();
    return i as Item;
  };
  const decide = (c: Campaign, user: Enrolled, by: Enrolled, decision: 'keep' | 'revoke') =>
    post(h.ops, `/api/v1/access-reviews/${c.id}/items/${itemOf(c, user).id}/decision`, by.browser, {
      decision,
    });
  const roles = (user: Enrolled) =>
    h.p.db.withTenant(asTenantId(admin.tenantId), async (tx) => {
      const r = await tx.query<{ roles: string[] }>(
        'SELECT roles FROM memberships WHERE user_id = $1',
        [user.userId],
      );
      return r.rows[0]?.roles;
    });

  it('revocations are applied at close: roles gone, sessions ended; results kept as evidence', async () => {
    const created = await create({
      name: 'Q1 recertification',
      reviewers: [admin.userId, officer.userId],
      dueAt: inMinutes(7 * 24 * 60),
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    expect((await post(h.ops, `/api/v1/access-reviews/${id}/open`, admin.browser)).statusCode).toBe(
      200,
    );
    const c = await campaign(id);
    expect(c.items.map((i) => i.userId).sort()).toEqual(
      [admin, officer, pres, tech, multi].map((u) => u.userId).sort(),
    );
    expect(itemOf(c, multi).roles).toEqual(['care_coordinator', 'prescriber']);

    // Nobody attests their own access: refused and audited.
    const self = await decide(c, admin, admin, 'keep');
    expect(self.statusCode).toBe(403);
    expect(self.json<{ detail: string }>().detail).toBe('self_review');
    const denied = (await auditOf(h, admin.tenantId)).filter(
      (a) => a.action === 'access.review.decided' && a.outcome === 'denied',
    );
    expect(denied.map((a) => a.actor_user_id)).toEqual([admin.userId]);
    // A user without access.review cannot decide at all.
    expect((await decide(c, tech, pres, 'keep')).statusCode).toBe(403);

    expect((await decide(c, pres, officer, 'revoke')).statusCode).toBe(200);
    expect((await decide(c, admin, officer, 'keep')).statusCode).toBe(200);
    expect((await decide(c, tech, officer, 'keep')).statusCode).toBe(200);
    expect((await decide(c, multi, officer, 'keep')).statusCode).toBe(200);
    expect((await decide(c, officer, admin, 'keep')).statusCode).toBe(200);

    // Before close, nothing changed: the prescriber still works.
    expect((await get(h.ops, '/api/v1/access/grants/mine', pres.browser)).statusCode).toBe(200);
    const closed = await post(h.ops, `/api/v1/access-reviews/${id}/close`, admin.browser, {});
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.json()).toMatchObject({ revoked: 1, kept: 4, unreviewed: 0, endedSessions: 1 });
    expect(await roles(pres)).toBeUndefined(); // every role revoked: membership ended
    expect((await get(h.ops, '/api/v1/access/grants/mine', pres.browser)).statusCode).toBe(401);
    expect((await get(h.ops, '/api/v1/access/grants/mine', multi.browser)).statusCode).toBe(200);
    const after = await campaign(id);
    expect(after.status).toBe('closed');
    expect(itemOf(after, pres).outcome).toBe('revoked');
    expect(itemOf(after, tech).outcome).toBe('kept');
    const revokedAudit = (await auditOf(h, admin.tenantId)).filter(
      (a) => a.action === 'access.review.revoked',
    );
    expect(revokedAudit[0]?.details).toMatchObject({
      oldRoles: 'prescriber',
      membershipEnded: true,
    });

    // Evidence: immutable after close, exported as JSON, and the last completed review.
    expect((await decide(after, tech, officer, 'revoke')).statusCode).toBe(409);
    const t = asTenantId(admin.tenantId);
    await expect(
      h.p.db.withTenant(t, (tx) =>
        tx.query("UPDATE access_review_items SET note = 'edited' WHERE campaign_id = $1", [id]),
      ),
    ).rejects.toThrow(/closed and kept as evidence/);
    await expect(
      h.p.db.withTenant(t, (tx) =>
        tx.query("UPDATE access_review_campaigns SET name = 'x' WHERE id = $1", [id]),
      ),
    ).rejects.toThrow(/closed and kept as evidence/);
    const ev = await get(h.ops, '/api/v1/access-reviews/evidence', officer.browser);
    expect(ev.statusCode, ev.body).toBe(200);
    const evidence = ev.json<{ campaigns: { id: string; items: { outcome: string }[] }[] }>();
    expect(evidence.campaigns.map((x) => x.id)).toEqual([id]);
    expect(evidence.campaigns[0]?.items.map((i) => i.outcome).sort()).toEqual([
      'kept',
      'kept',
      'kept',
      'kept',
      'revoked',
    ]);
    expect(ev.body).not.toContain('@example.test');
    expect((await get(h.ops, '/api/v1/access-reviews/evidence', tech.browser)).statusCode).toBe(
      403,
    );
    const last = await h.p.db.withTenant(t, (tx) => lastCompletedReview(tx, t));
    expect(last).toMatchObject({ campaignId: id, items: 5, unreviewed: 0 });
  });

  it('unreviewed items escalate at the due date and block a clean close; role-scoped revocation', async () => {
    const created = await create({
      name: 'Clinical roles',
      roles: ['care_coordinator', 'pharmacy_technician'],
      reviewers: [officer.userId],
      dueAt: inMinutes(5),
    });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json<{ id: string }>().id;
    await post(h.ops, `/api/v1/access-reviews/${id}/open`, officer.browser);
    const c = await campaign(id);
    expect(c.scope).toBe('roles');
    expect(c.items.map((i) => [i.userId, i.roles])).toEqual(
      expect.arrayContaining([
        [multi.userId, ['care_coordinator']],
        [tech.userId, ['pharmacy_technician']],
      ]),
    );
    expect(c.items).toHaveLength(2);
    // Not a reviewer of this campaign (though holding access.review).
    const nr = await decide(c, multi, admin, 'keep');
    expect(nr.statusCode).toBe(403);
    expect(nr.json<{ detail: string }>().detail).toBe('not_reviewer');
    expect((await decide(c, multi, officer, 'revoke')).statusCode).toBe(200);

    // Not yet due: nothing to escalate.
    const none = await post(h.ops, '/api/v1/access-reviews/escalate', officer.browser);
    expect(none.json<{ escalated: unknown[] }>().escalated).toEqual([]);
    h.clock.advance(6 * 60_000);
    const esc = await post(h.ops, '/api/v1/access-reviews/escalate', officer.browser);
    expect(esc.json<{ escalated: unknown[] }>().escalated).toEqual([
      { campaignId: id, unreviewed: 1 },
    ]);
    const again = await post(h.ops, '/api/v1/access-reviews/escalate', officer.browser);
    expect(again.json<{ escalated: unknown[] }>().escalated).toEqual([]);
    const run = await runDetector(h.p.db, h.clock, { scope: (t) => t === admin.tenantId });
    const overdue = run.opened.filter((a) => a.rule === 'access_review_overdue');
    expect(overdue.map((a) => [a.subject, a.details.unreviewed])).toEqual([[id, 1]]);

    const blocked = await post(h.ops, `/api/v1/access-reviews/${id}/close`, officer.browser, {});
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json<{ detail: string }>().detail).toBe('unreviewed_items');
    expect((await campaign(id)).status).toBe('open');
    const closed = await post(h.ops, `/api/v1/access-reviews/${id}/close`, officer.browser, {
      acceptUnreviewed: true,
    });
    expect(closed.statusCode, closed.body).toBe(200);
    expect(closed.json()).toMatchObject({ revoked: 1, unreviewed: 1 });
    const after = await campaign(id);
    expect(after.unreviewedAtClose).toBe(1);
    expect(itemOf(after, tech).outcome).toBe('unreviewed');
    expect(await roles(multi)).toEqual(['prescriber']); // only the reviewed role is removed
    expect(await roles(tech)).toEqual(['pharmacy_technician']);
  });

  it("bad input changes nothing; another tenant's campaign answers 404", async () => {
    const list = async () =>
      (await get(h.ops, '/api/v1/access-reviews', officer.browser)).json<{ campaigns: unknown[] }>()
        .campaigns.length;
    const before = await list();
    const bad: Record<string, unknown>[] = [
      { name: 'x', reviewers: [tech.userId], dueAt: inMinutes(60) }, // lacks access.review
      { name: 'x', reviewers: [officer.userId], dueAt: inMinutes(-1) },
      { name: 'x', reviewers: [], dueAt: inMinutes(60) },
      { name: 'x', roles: ['wizard'], reviewers: [officer.userId], dueAt: inMinutes(60) },
    ];
    for (const b of bad) expect((await create(b)).statusCode, JSON.stringify(b)).toBe(400);
    expect(
      (await create({ name: 'x', reviewers: [officer.userId], dueAt: inMinutes(60) }, tech))
        .statusCode,
    ).toBe(403);
    expect(await list()).toBe(before);

    const mine = await create({ name: 'Ours', reviewers: [officer.userId], dueAt: inMinutes(60) });
    const id = mine.json<{ id: string }>().id;
    await post(h.ops, `/api/v1/access-reviews/${id}/open`, officer.browser);
    const item = (await campaign(id)).items[0] as Item;
    const stranger = await otherTenant(h, 'cora@other.test', ['compliance_officer']);
    const s = stranger.browser;
    expect((await get(h.ops, `/api/v1/access-reviews/${id}`, s)).statusCode).toBe(404);
    expect((await post(h.ops, `/api/v1/access-reviews/${id}/open`, s)).statusCode).toBe(404);
    expect((await post(h.ops, `/api/v1/access-reviews/${id}/close`, s, {})).statusCode).toBe(404);
    const d = await post(h.ops, `/api/v1/access-reviews/${id}/items/${item.id}/decision`, s, {
      decision: 'revoke',
    });
    expect(d.statusCode).toBe(404);
    expect(
      (await get(h.ops, '/api/v1/access-reviews', s)).json<{ campaigns: unknown[] }>().campaigns,
    ).toEqual([]);
    expect((await campaign(id)).items.every((i) => i.decision === null)).toBe(true);
  });

  it("reviewer eligibility follows the tenant's approved role catalog, not the built-in one", async () => {
    const t = asTenantId(admin.tenantId);
    const catalog: Record<string, string[]> = Object.fromEntries(
      Object.entries(BUILT_IN_CATALOG).map(([r, ps]) => [r, [...ps]]),
    );
    catalog.compliance_officer = (catalog.compliance_officer ?? []).filter(
      (p) => p !== 'access.review',
    );
    catalog.pharmacy_technician = [...(catalog.pharmacy_technician ?? []), 'access.review'];
    const as = (u: Enrolled) => ({ userId: u.userId, tenantId: t, sessionId: randomUUID() });
    const v = await h.p.access.roles.propose(as(admin), catalog, 'technicians review access');
    await h.p.access.roles.decide(as(officer), v.id, 'approved');
    const body = (reviewer: Enrolled) => ({
      name: 'Catalog-driven',
      reviewers: [reviewer.userId],
      dueAt: inMinutes(60),
    });
    const byOfficer = await create(body(officer));
    expect(byOfficer.statusCode, byOfficer.body).toBe(400);
    expect(byOfficer.json()).toMatchObject({ detail: 'reviewers' });
    const byTech = await create(body(tech));
    expect(byTech.statusCode, byTech.body).toBe(201);
  });
});
