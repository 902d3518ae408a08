import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import {
  epcsSigningEligibility,
  findExpiringCredentials,
  importRegistryFile,
  type SigningContext,
} from '../../src/identity/index.js';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  enrol,
  get,
  harness,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from './harness.js';
import { payloadFor, practitioner, registryKey, type Practitioner } from './registry-fixture.js';

// Harness clock starts 2026-03-01T09:00Z.
const ADA = practitioner('Lovelace', '123456789', '123456', { schedules: ['2', '3', '4', '5'] });
const GRACE = practitioner('Hopper', '198765432', '654321');
const EARLY = practitioner('Early', '111111111', '222222');
const SOON = practitioner('Soon', '133333333', '444444', { deaExpiresOn: '2026-03-10' });

interface Person {
  readonly who: Practitioner;
  readonly userId: string;
  browser: Browser;
  secret: string;
}

describe('identity proofing, EPCS eligibility and the two-person EPCS permission', () => {
  let h: Harness;
  let admin: Enrolled;
  let tenant: TenantId;
  const key = registryKey();

  /** Invites a user and returns the not-yet-enrolled (restricted) browser and id. */
  async function invite(
    email: string,
    displayName: string,
    roles: string[],
  ): Promise<{ restricted: Browser; userId: string }> {
    const inv = await post(h.app, '/api/v1/users/invitations', admin.browser, { email, roles });
    expect(inv.statusCode, inv.body).toBe(201);
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: inv.json<{ token: string }>().token,
      email,
      password: PASSWORD,
      displayName,
    });
    expect(acc.statusCode, acc.body).toBe(200);
    return { restricted: cookiesOf(acc), userId: acc.json<{ userId: string }>().userId };
  }

  async function proof(
    p: Practitioner,
    userId: string,
    deaNumbers = [p.dea],
  ): Promise<ReturnType<typeof post>> {
    return post(h.app, '/api/v1/identity/proofings', admin.browser, {
      userId,
      npi: p.npi,
      deaNumbers,
      licences: [{ state: p.state, number: p.licence }],
      evidence: [{ type: 'passport', reference: 'P-0001' }],
      ial: 'IAL2',
    });
  }

  async function stepUp(
    person: { browser: Browser; secret: string },
    action: string,
  ): Promise<void> {
    const res = await post(h.app, '/api/v1/auth/step-up', person.browser, {
      action,
      totp: codeFor(person.secret, h.clock),
    });
    expect(res.statusCode, res.body).toBe(200);
    h.clock.advance(30_000);
  }

  /** Proofed first, then enrolled and bound: a prescriber ready for EPCS (but no permission). */
  async function proofedPrescriber(p: Practitioner, email: string): Promise<Person> {
    const { restricted, userId } = await invite(email, `Dr ${p.lastName}`, ['prescriber']);
    const res = await proof(p, userId);
    expect(res.statusCode, res.body).toBe(201);
    const e = await enrol(h, restricted);
    const person = { who: p, userId, browser: e.browser, secret: e.secret };
    await stepUp(person, 'epcs.credential.bind');
    const bind = await post(h.app, '/api/v1/identity/proofing/bind-credential', person.browser);
    expect(bind.statusCode, bind.body).toBe(200);
    expect(bind.json<{ boundCredentials: unknown[] }>().boundCredentials).toHaveLength(1);
    return person;
  }

  const eligibility = (userId: string, ctx: Partial<SigningContext> & { deaNumber: string }) =>
    h.p.db.withTenant(tenant, (tx) =>
      epcsSigningEligibility(tx, tenant, userId, {
        schedule: '2',
        state: 'CA',
        now: h.clock.now(),
        ...ctx,
      }),
    );

  let ada: Person;
  let grace: Person;

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
    tenant = asTenantId(admin.tenantId);
    const text = await key.sign(payloadFor([ADA, GRACE, EARLY, SOON]));
    const r = await importRegistryFile(h.p.db, h.clock, text, key.publicKey);
    expect(r).toMatchObject({ npi: 4, dea: 4, licences: 4, kid: 'registry-test' });
    ada = await proofedPrescriber(ADA, 'ada@example.test');
    grace = await proofedPrescriber(GRACE, 'grace@example.test');
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('registry import refuses tampered, foreign-signed and replayed (stale) files', async () => {
    const text = await key.sign(payloadFor([ADA], 'test-registry', '2026-01-01T00:00:00Z'));
    await expect(importRegistryFile(h.p.db, h.clock, text, key.publicKey)).rejects.toMatchObject({
      code: 'conflict',
      detail: 'stale',
    });
    const fresh = await key.sign(payloadFor([ADA], 'test-registry', '2026-02-02T00:00:00Z'));
    const tampered = fresh.replace(ADA.deaExpiresOn, '2099-12-31');
    expect(tampered).not.toBe(fresh);
    await expect(
      importRegistryFile(h.p.db, h.clock, tampered, key.publicKey),
    ).rejects.toMatchObject({
      code: 'integrity_error',
    });
    await expect(
      importRegistryFile(h.p.db, h.clock, fresh, registryKey().publicKey),
    ).rejects.toMatchObject({ code: 'integrity_error', detail: 'bad_signature' });
  });

  it('records a proofing verified against the registry, and refuses what the registry contradicts', async () => {
    const res = await get(h.app, `/api/v1/identity/proofings/${ada.userId}`, admin.browser);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      npi: ADA.npi,
      ial: 'IAL2',
      proofedBy: admin.userId,
      status: 'active',
      evidence: [{ type: 'passport', reference: 'P-0001' }],
      dea: [
        {
          deaNumber: ADA.dea,
          schedules: ['2', '3', '4', '5'],
          state: 'CA',
          expiresOn: ADA.deaExpiresOn,
        },
      ],
      licences: [{ state: 'CA', number: ADA.licence, expiresOn: ADA.licenceExpiresOn }],
    });
    const { userId } = await invite('mallory@example.test', 'Dr Mallory', ['prescriber']);
    const unknownNpi = await post(h.app, '/api/v1/identity/proofings', admin.browser, {
      userId,
      npi: practitioner('Mallory', '155555555', '777777').npi,
      deaNumbers: [],
      licences: [{ state: 'CA', number: 'LIC-777777' }],
      evidence: [{ type: 'passport', reference: 'X' }],
      ial: 'IAL2',
    });
    expect(unknownNpi.statusCode).toBe(400);
    expect(unknownNpi.json()).toMatchObject({ detail: 'npi:not_found' });
    // Someone else's NPI: the registry's name does not match this user.
    const borrowed = await proof(ADA, userId);
    expect(borrowed.json()).toMatchObject({ detail: 'npi:name_mismatch' });
    const self = await proof(practitioner('Admin', '100000000', '000000'), admin.userId);
    expect(self.statusCode).toBe(403);
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.filter((a) => a.action === 'identity.proofing.complete')).toHaveLength(2);
  });

  it('a credential enrolled before the proofing cannot be bound', async () => {
    const { restricted, userId } = await invite('early@example.test', 'Dr Early', ['prescriber']);
    const e = await enrol(h, restricted);
    expect((await proof(EARLY, userId)).statusCode).toBe(201);
    await stepUp({ browser: e.browser, secret: e.secret }, 'epcs.credential.bind');
    const bind = await post(h.app, '/api/v1/identity/proofing/bind-credential', e.browser);
    expect(bind.statusCode).toBe(409);
    expect(bind.json()).toMatchObject({ detail: 'credential_predates_proofing' });
    const r = await eligibility(userId, { deaNumber: EARLY.dea });
    expect(r).toEqual({ allowed: false, reasons: ['no_epcs_permission', 'no_bound_credential'] });
  });

  it('EPCS permission: entered by one, approved by a second registrant with a fresh step-up', async () => {
    const before = await eligibility(ada.userId, { deaNumber: ADA.dea });
    expect(before).toEqual({ allowed: false, reasons: ['no_epcs_permission'] });

    const req = await post(h.app, '/api/v1/epcs/permission-requests', admin.browser, {
      prescriberId: ada.userId,
      change: 'grant',
    });
    expect(req.statusCode, req.body).toBe(201);
    const id = req.json<{ id: string }>().id;
    const approve = `/api/v1/epcs/permission-requests/${id}/approve`;

    // Without a step-up: refused before anything else.
    const noStepUp = await post(h.app, approve, grace.browser);
    expect(noStepUp.statusCode).toBe(403);
    expect(noStepUp.json()).toMatchObject({ code: 'step_up_required' });
    // A step-up for another action does not count.
    await stepUp(grace, 'auth.recovery_codes.regenerate');
    expect((await post(h.app, approve, grace.browser)).statusCode).toBe(403);

    // The requester cannot approve, even with a step-up.
    await stepUp(admin, 'epcs.permission.approve');
    const self = await post(h.app, approve, admin.browser);
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ detail: 'self_approval' });

    // A second administrator who is not a DEA registrant cannot approve.
    const other = await invite('second-admin@example.test', 'Sam Second', ['tenant_admin']);
    const second = await enrol(h, other.restricted);
    await stepUp(second, 'epcs.permission.approve');
    const notRegistrant = await post(h.app, approve, second.browser);
    expect(notRegistrant.statusCode).toBe(403);
    expect(notRegistrant.json()).toMatchObject({ detail: 'not_registrant' });

    // The prescriber cannot approve their own grant.
    await stepUp(ada, 'epcs.permission.approve');
    expect((await post(h.app, approve, ada.browser)).json()).toMatchObject({
      detail: 'subject_approval',
    });

    // A registrant with a fresh step-up approves.
    await stepUp(grace, 'epcs.permission.approve');
    const ok = await post(h.app, approve, grace.browser);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({
      status: 'approved',
      approvedBy: grace.userId,
      requestedBy: admin.userId,
    });
    const state = await get(h.app, `/api/v1/epcs/permissions/${ada.userId}`, admin.browser);
    expect(state.json()).toMatchObject({ granted: true, requestId: id });
    await stepUp(grace, 'epcs.permission.approve');
    expect((await post(h.app, approve, grace.browser)).statusCode).toBe(409);

    const audit = await auditActions(h, admin.tenantId);
    const epcs = audit.filter((a) => a.action.startsWith('epcs.permission.'));
    expect(epcs.map((a) => `${a.action}:${a.outcome}`)).toEqual([
      'epcs.permission.requested:success',
      'epcs.permission.granted:denied',
      'epcs.permission.granted:denied',
      'epcs.permission.granted:denied',
      'epcs.permission.granted:success',
    ]);
    expect(epcs.slice(1, 4).map((a) => a.details.reason)).toEqual([
      'self_approval',
      'not_registrant',
      'subject_approval',
    ]);
  });

  it('eligibility reports each reason precisely', async () => {
    expect(await eligibility(ada.userId, { deaNumber: ADA.dea })).toMatchObject({ allowed: true });
    const reasons = async (ctx: Partial<SigningContext> & { deaNumber: string }) => {
      const r = await eligibility(ada.userId, ctx);
      return r.allowed ? [] : r.reasons;
    };
    expect(await reasons({ deaNumber: ADA.dea, schedule: '2N' })).toEqual(['schedule_not_covered']);
    expect(await reasons({ deaNumber: ADA.dea, state: 'NY' })).toEqual([
      'state_mismatch',
      'no_licence_in_state',
    ]);
    expect(await reasons({ deaNumber: GRACE.dea })).toEqual(['dea_not_on_proofing']);
    expect(await reasons({ deaNumber: ADA.dea, now: new Date('2029-01-01T00:00:00Z') })).toEqual([
      'dea_expired',
      'licence_expired',
    ]);
    // Grace: proofed and bound, never granted.
    expect(await eligibility(grace.userId, { deaNumber: GRACE.dea })).toEqual({
      allowed: false,
      reasons: ['no_epcs_permission'],
    });
    expect(await eligibility(admin.userId, { deaNumber: ADA.dea })).toEqual({
      allowed: false,
      reasons: ['no_proofing', 'no_epcs_permission'],
    });
    // Another tenant sees nothing of this tenant's proofing or permission.
    const elsewhere = asTenantId(randomUUID());
    await h.p.db.withTenant(elsewhere, (tx) =>
      tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [elsewhere, 'Elsewhere']),
    );
    const cross = await h.p.db.withTenant(elsewhere, (tx) =>
      epcsSigningEligibility(tx, elsewhere, ada.userId, {
        deaNumber: ADA.dea,
        schedule: '2',
        state: 'CA',
        now: h.clock.now(),
      }),
    );
    expect(cross).toEqual({ allowed: false, reasons: ['no_proofing', 'no_epcs_permission'] });
  });

  it('revocation is two-person as well, and audited', async () => {
    const req = await post(h.app, '/api/v1/epcs/permission-requests', admin.browser, {
      prescriberId: ada.userId,
      change: 'revoke',
    });
    expect(req.statusCode, req.body).toBe(201);
    const approve = `/api/v1/epcs/permission-requests/${req.json<{ id: string }>().id}/approve`;
    await stepUp(admin, 'epcs.permission.approve');
    expect((await post(h.app, approve, admin.browser)).json()).toMatchObject({
      detail: 'self_approval',
    });
    expect(
      (await get(h.app, `/api/v1/epcs/permissions/${ada.userId}`, admin.browser)).json(),
    ).toMatchObject({ granted: true });
    await stepUp(grace, 'epcs.permission.approve');
    const ok = await post(h.app, approve, grace.browser);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(
      (await get(h.app, `/api/v1/epcs/permissions/${ada.userId}`, admin.browser)).json(),
    ).toMatchObject({ granted: false });
    expect(await eligibility(ada.userId, { deaNumber: ADA.dea })).toEqual({
      allowed: false,
      reasons: ['no_epcs_permission'],
    });
    const audit = await auditActions(h, admin.tenantId);
    expect(
      audit.filter((a) => a.action === 'epcs.permission.revoked').map((a) => a.outcome),
    ).toEqual(['denied', 'success']);
    // Only administrators enter requests.
    const byPrescriber = await post(h.app, '/api/v1/epcs/permission-requests', grace.browser, {
      prescriberId: grace.userId,
      change: 'grant',
    });
    expect(byPrescriber.statusCode).toBe(403);
  });

  it('requests expire; expired and expiring registrations raise audited alerts once', async () => {
    const { restricted, userId } = await invite('soon@example.test', 'Dr Soon', ['prescriber']);
    expect((await proof(SOON, userId)).statusCode).toBe(201);
    await enrol(h, restricted);
    const req = await post(h.app, '/api/v1/epcs/permission-requests', admin.browser, {
      prescriberId: userId,
      change: 'grant',
    });
    expect(req.statusCode, req.body).toBe(201);

    const first = await findExpiringCredentials(h.p.db, h.clock, {
      withinDays: 30,
      tenantId: tenant,
    });
    expect(first.map((f) => [f.userId, f.kind, f.state, f.reported])).toEqual([
      [userId, 'dea', 'expiring', true],
    ]);
    h.clock.advance(25 * 3_600_000);
    // Past its 24-hour life, the request cannot be approved (sessions are gone too: service call).
    await expect(
      h.p.identity.epcs.approve(
        { userId: grace.userId, tenantId: tenant, sessionId: randomUUID() },
        req.json<{ id: string }>().id,
        {},
      ),
    ).rejects.toMatchObject({ code: 'gone' });
    h.clock.advance(9 * 86_400_000); // 2026-03-11: past 2026-03-10
    const expired = await findExpiringCredentials(h.p.db, h.clock, { withinDays: 0 });
    expect(
      expired.filter((f) => f.tenantId === tenant).map((f) => [f.kind, f.state, f.reported]),
    ).toEqual([['dea', 'expired', true]]);
    const again = await findExpiringCredentials(h.p.db, h.clock, {
      withinDays: 0,
      tenantId: tenant,
    });
    expect(again.map((f) => f.reported)).toEqual([false]);
    const r = await eligibility(userId, { deaNumber: SOON.dea });
    expect(r.allowed ? [] : r.reasons).toContain('dea_expired');
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.filter((a) => a.action.startsWith('identity.proofing.exp'))).toEqual([
      expect.objectContaining({
        action: 'identity.proofing.expiring',
        details: { kind: 'dea', expiresOn: '2026-03-10' },
      }),
      expect.objectContaining({
        action: 'identity.proofing.expired',
        details: { kind: 'dea', expiresOn: '2026-03-10' },
      }),
    ]);
  });
});
