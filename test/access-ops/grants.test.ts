import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import {
  bootstrapAdmin,
  get,
  inviteAndEnrol,
  post,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { fullHarness } from '../access/harness.js';
import {
  auditOf,
  basisOf,
  newPatient,
  opsHarness,
  otherTenant,
  type OpsHarness,
} from './helpers.js';

interface GrantBody {
  id: string;
  state: string;
  startsAt: string | null;
  expiresAt: string | null;
  decidedBy: string | null;
}

describe('just-in-time access grants', () => {
  let h: OpsHarness;
  let admin: Enrolled;
  let pres: Enrolled;
  let peer: Enrolled;
  let dual: Enrolled;
  let patient: string;

  beforeAll(async () => {
    h = await opsHarness();
    admin = await bootstrapAdmin(h);
    pres = await inviteAndEnrol(h, admin.browser, 'pres@example.test', ['prescriber']);
    peer = await inviteAndEnrol(h, admin.browser, 'peer@example.test', ['prescriber']);
    // Holds both request and approve: the separation must still stop self-approval.
    dual = await inviteAndEnrol(h, admin.browser, 'dual@example.test', [
      'prescriber',
      'security_admin',
    ]);
    patient = await newPatient(h, admin.tenantId);
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  const request = (who: Enrolled, extra: Record<string, unknown> = {}) =>
    post(h.ops, '/api/v1/access/grants', who.browser, {
      patientId: patient,
      permissions: ['patient.read'],
      reason: 'covering the ward tonight',
      durationMinutes: 120,
      ...extra,
    });

  it('request, approval by another user, use within the window, expiry by itself', async () => {
    // Short, so the sessions (15 minutes idle) outlive the grant.
    const req = await request(pres, { durationMinutes: 10 });
    expect(req.statusCode, req.body).toBe(201);
    const g = req.json<GrantBody>();
    expect(g.state).toBe('requested');
    const use = (need: 'patient.read' | 'patient.write' = 'patient.read') =>
      basisOf(h, pres, patient, need);
    expect(await use()).toBeUndefined(); // not before approval

    const ok = await post(h.ops, `/api/v1/access/grants/${g.id}/approve`, admin.browser);
    expect(ok.statusCode, ok.body).toBe(200);
    const approved = ok.json<GrantBody>();
    expect(approved).toMatchObject({ state: 'active', decidedBy: admin.userId });
    expect(Date.parse(approved.expiresAt ?? '') - Date.parse(approved.startsAt ?? '')).toBe(
      10 * 60_000,
    );
    expect(await use()).toEqual({ kind: 'grant', grantId: g.id });
    // Another permission is not covered.
    expect(await use('patient.write')).toBeUndefined();

    h.clock.advance(9 * 60_000 + 59_000);
    expect(await use()).toEqual({ kind: 'grant', grantId: g.id });
    h.clock.advance(1_000);
    expect(await use()).toBeUndefined();
    const mine = await get(h.ops, '/api/v1/access/grants/mine', pres.browser);
    expect(mine.json<{ grants: GrantBody[] }>().grants.find((x) => x.id === g.id)?.state).toBe(
      'expired',
    );
    // An expired grant cannot be revoked or withdrawn.
    const late = await post(h.ops, `/api/v1/access/grants/${g.id}/revoke`, admin.browser);
    expect(late.statusCode).toBe(409);
    const actions = (await auditOf(h, admin.tenantId)).map((a) => a.action);
    expect(actions).toContain('access.grant.requested');
    expect(actions).toContain('access.grant.approved');
  });

  it('refuses self-approval with a 403 problem, audits the attempt, and the DB CHECK backs it', async () => {
    const req = await request(dual);
    expect(req.statusCode, req.body).toBe(201);
    const id = req.json<GrantBody>().id;
    const self = await post(h.ops, `/api/v1/access/grants/${id}/approve`, dual.browser);
    expect(self.statusCode).toBe(403);
    expect(self.headers['content-type']).toContain('application/problem+json');
    expect(self.json<{ code: string; detail: string }>()).toMatchObject({
      code: 'forbidden',
      detail: 'self_approval',
    });
    const refused = (await auditOf(h, admin.tenantId)).filter(
      (a) => a.action === 'access.grant.approved' && a.outcome === 'denied',
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]?.actor_user_id).toBe(dual.userId);
    expect(refused[0]?.details).toMatchObject({ refused: 'self_approval' });
    const still = await get(h.ops, `/api/v1/access/grants/${id}`, dual.browser);
    expect(still.json<GrantBody>().state).toBe('requested');
    // The table refuses it even if the service were bypassed.
    await expect(
      h.p.db.withTenant(asTenantId(admin.tenantId), (tx) =>
        tx.query(
          `UPDATE access_grants SET status = 'approved', decided_by = user_id, decided_at = now(),
             starts_at = now(), expires_at = now() + interval '1 hour' WHERE id = $1`,
          [id],
        ),
      ),
    ).rejects.toThrow(/check constraint/);
    // A different approver may.
    const ok = await post(h.ops, `/api/v1/access/grants/${id}/approve`, admin.browser);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('a user without access.grant.approve cannot approve, deny or list all', async () => {
    const id = (await request(pres)).json<GrantBody>().id;
    for (const verb of ['approve', 'deny', 'revoke']) {
      const res = await post(h.ops, `/api/v1/access/grants/${id}/${verb}`, peer.browser);
      expect(res.statusCode).toBe(403);
    }
    expect((await get(h.ops, '/api/v1/access/grants', peer.browser)).statusCode).toBe(403);
    // Not the requester, not an approver: the grant does not exist for them.
    expect((await get(h.ops, `/api/v1/access/grants/${id}`, peer.browser)).statusCode).toBe(404);
    expect(
      (await post(h.ops, `/api/v1/access/grants/${id}/withdraw`, peer.browser)).statusCode,
    ).toBe(404);
    const still = await get(h.ops, `/api/v1/access/grants/${id}`, pres.browser);
    expect(still.json<GrantBody>().state).toBe('requested');
    const denied = await post(h.ops, `/api/v1/access/grants/${id}/deny`, admin.browser);
    expect(denied.json<GrantBody>().state).toBe('denied');
    const again = await post(h.ops, `/api/v1/access/grants/${id}/approve`, admin.browser);
    expect(again.statusCode).toBe(409);
  });

  it('the requester withdraws; an approver revokes early; both end the grant at once', async () => {
    const a = (await request(pres)).json<GrantBody>().id;
    await post(h.ops, `/api/v1/access/grants/${a}/approve`, admin.browser);
    const w = await post(h.ops, `/api/v1/access/grants/${a}/withdraw`, pres.browser);
    expect(w.json<GrantBody>().state).toBe('withdrawn');
    const b = (await request(pres)).json<GrantBody>().id;
    await post(h.ops, `/api/v1/access/grants/${b}/approve`, admin.browser);
    const r = await post(h.ops, `/api/v1/access/grants/${b}/revoke`, admin.browser);
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json<GrantBody>().state).toBe('revoked');
    expect(await basisOf(h, pres, patient, 'patient.read')).toBeUndefined();
    const actions = (await auditOf(h, admin.tenantId)).map((x) => x.action);
    expect(actions).toEqual(
      expect.arrayContaining(['access.grant.withdrawn', 'access.grant.revoked']),
    );
  });

  it('bad input is a 400 and changes nothing', async () => {
    const before = (await get(h.ops, '/api/v1/access/grants', admin.browser)).json<{
      grants: unknown[];
    }>().grants.length;
    const cases: Record<string, unknown>[] = [
      { permissions: ['audit.read'] }, // not held by a prescriber's roles
      { permissions: ['no.such'] },
      { durationMinutes: 481 }, // over the tenant's default maximum (480)
      { durationMinutes: 0 },
      { reason: '' },
      { reason: '   ' },
      { patientId: 'not-a-uuid' },
    ];
    for (const c of cases) {
      const res = await request(pres, c);
      expect(res.statusCode, JSON.stringify(c)).toBe(400);
    }
    const missing = await request(pres, { patientId: '00000000-0000-4000-8000-000000000000' });
    expect(missing.statusCode).toBe(404);
    const after = (await get(h.ops, '/api/v1/access/grants', admin.browser)).json<{
      grants: unknown[];
    }>().grants.length;
    expect(after).toBe(before);
  });

  it("another tenant's grant answers 404 like a missing one", async () => {
    const id = (await request(pres)).json<GrantBody>().id;
    const stranger = await otherTenant(h, 'sec@other.test', ['security_admin']);
    expect((await get(h.ops, `/api/v1/access/grants/${id}`, stranger.browser)).statusCode).toBe(
      404,
    );
    for (const verb of ['approve', 'deny', 'revoke']) {
      const res = await post(h.ops, `/api/v1/access/grants/${id}/${verb}`, stranger.browser);
      expect(res.statusCode).toBe(404);
    }
    const list = await get(h.ops, '/api/v1/access/grants', stranger.browser);
    expect(list.json<{ grants: unknown[] }>().grants).toEqual([]);
    const still = await get(h.ops, `/api/v1/access/grants/${id}`, pres.browser);
    expect(still.json<GrantBody>().state).toBe('requested');
  });
});

describe('a JIT grant through the real patient check (full app)', () => {
  let h: Harness;
  let admin: Enrolled;
  let pres: Enrolled;
  let patient: string;

  beforeAll(async () => {
    h = await fullHarness();
    admin = await bootstrapAdmin(h);
    pres = await inviteAndEnrol(h, admin.browser, 'pres@example.test', ['prescriber']);
    patient = await newPatient(h, admin.tenantId);
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  it('request, approval by another user, GET the patient 200, past expiry 404', async () => {
    const read = () => get(h.app, `/api/v1/patients/${patient}`, pres.browser);
    expect((await read()).statusCode).toBe(404); // no relationship yet
    const req = await post(h.app, '/api/v1/access/grants', pres.browser, {
      patientId: patient,
      permissions: ['patient.read'],
      reason: 'covering the ward tonight',
      durationMinutes: 10,
    });
    expect(req.statusCode, req.body).toBe(201);
    const id = req.json<GrantBody>().id;
    expect((await read()).statusCode).toBe(404); // requested is not approved
    const ok = await post(h.app, `/api/v1/access/grants/${id}/approve`, admin.browser);
    expect(ok.statusCode, ok.body).toBe(200);
    const during = await read();
    expect(during.statusCode, during.body).toBe(200);
    const reads = (await auditOf(h, admin.tenantId)).filter((a) => a.action === 'patient.read');
    expect(reads.at(-1)?.details).toMatchObject({ basis: 'grant' });
    h.clock.advance(10 * 60_000); // expires_at is exclusive
    const after = await read();
    expect(after.statusCode).toBe(404);
    expect(after.json()).toMatchObject({ code: 'not_found' });
  });
});
