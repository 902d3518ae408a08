import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import {
  epcsSigningEligibility,
  hasCurrentBinding,
  importRegistryFile,
  type StepUpCredential,
} from '../../src/identity/index.js';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  enrol,
  harness,
  login,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from './harness.js';
import { payloadFor, practitioner, registryKey, type Practitioner } from './registry-fixture.js';
import {
  SoftAuthenticator,
  type CreationOptionsJSON,
  type RequestOptionsJSON,
} from './soft-authenticator.js';

// 21 CFR 1311.110/1311.115: only credentials issued after the proofing may sign EPCS.
const RE = practitioner('Renner', '122222222', '333333', { schedules: ['2', '3'] });
const KEY = practitioner('Keyes', '144444444', '555555', { schedules: ['2', '3'] });
const OLD = practitioner('Olden', '166666666', '777777', { schedules: ['2', '3'] });
const APPROVER = practitioner('Appel', '177777777', '888888');

interface Person {
  readonly userId: string;
  browser: Browser;
  secret: string;
}

describe('binding EPCS credentials to the proofed identity: TOTP re-enrolment and passkeys', () => {
  let h: Harness;
  let admin: Enrolled;
  let tenant: TenantId;
  let approver: Person;
  const key = registryKey();

  async function invite(email: string, displayName: string): Promise<Person> {
    const inv = await post(h.app, '/api/v1/users/invitations', admin.browser, {
      email,
      roles: ['prescriber'],
    });
    expect(inv.statusCode, inv.body).toBe(201);
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: inv.json<{ token: string }>().token,
      email,
      password: PASSWORD,
      displayName,
    });
    expect(acc.statusCode, acc.body).toBe(200);
    const e = await enrol(h, cookiesOf(acc));
    return { userId: e.userId, browser: e.browser, secret: e.secret };
  }

  async function proof(p: Practitioner, userId: string): Promise<void> {
    const res = await post(h.app, '/api/v1/identity/proofings', admin.browser, {
      userId,
      npi: p.npi,
      deaNumbers: [p.dea],
      licences: [{ state: p.state, number: p.licence }],
      evidence: [{ type: 'drivers_licence', reference: 'DL-1' }],
      ial: 'IAL2',
    });
    expect(res.statusCode, res.body).toBe(201);
    h.clock.advance(60_000);
  }

  async function stepUp(person: { browser: Browser; secret: string }, action: string) {
    const res = await post(h.app, '/api/v1/auth/step-up', person.browser, {
      action,
      totp: codeFor(person.secret, h.clock),
    });
    h.clock.advance(30_000);
    return res;
  }

  const reasons = async (userId: string, p: Practitioner): Promise<readonly string[]> => {
    const r = await h.p.db.withTenant(tenant, (tx) =>
      epcsSigningEligibility(tx, tenant, userId, {
        deaNumber: p.dea,
        schedule: '2',
        state: p.state,
        now: h.clock.now(),
      }),
    );
    return r.allowed ? [] : r.reasons;
  };

  /** Is exactly this credential bound to the user's active proofing (the signing check)? */
  const boundTo = (userId: string, credential: StepUpCredential): Promise<boolean> =>
    h.p.db.withTenant(tenant, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        `SELECT id FROM identity_proofings WHERE user_id = $1 AND status = 'active'`,
        [userId],
      );
      const proofingId = rows[0]?.id;
      expect(proofingId).toBeDefined();
      return hasCurrentBinding(tx, proofingId ?? '', userId, credential);
    });

  async function grant(userId: string): Promise<void> {
    const req = await post(h.app, '/api/v1/epcs/permission-requests', admin.browser, {
      prescriberId: userId,
      change: 'grant',
    });
    expect(req.statusCode, req.body).toBe(201);
    expect((await stepUp(approver, 'epcs.permission.approve')).statusCode).toBe(200);
    const ok = await post(
      h.app,
      `/api/v1/epcs/permission-requests/${req.json<{ id: string }>().id}/approve`,
      approver.browser,
    );
    expect(ok.statusCode, ok.body).toBe(200);
  }

  async function registerPasskey(person: Person, auth: SoftAuthenticator): Promise<string> {
    const opts = await post(h.app, '/api/v1/auth/webauthn/register/options', person.browser);
    expect(opts.statusCode, opts.body).toBe(200);
    const res = await post(h.app, '/api/v1/auth/webauthn/register', person.browser, {
      response: auth.create(opts.json<CreationOptionsJSON>()),
    });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ credential: { id: string } }>().credential.id;
  }

  async function bindPasskey(person: Person, auth: SoftAuthenticator) {
    const opts = await post(h.app, '/api/v1/auth/webauthn/step-up/options', person.browser, {
      action: 'epcs.credential.bind',
    });
    expect(opts.statusCode, opts.body).toBe(200);
    return post(h.app, '/api/v1/identity/proofing/bind-passkey', person.browser, {
      response: auth.get(opts.json<RequestOptionsJSON>()),
    });
  }

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
    tenant = asTenantId(admin.tenantId);
    const text = await key.sign(payloadFor([RE, KEY, OLD, APPROVER]));
    await importRegistryFile(h.p.db, h.clock, text, key.publicKey);
    approver = await invite('appel@example.test', 'Dr Appel');
    await proof(APPROVER, approver.userId);
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('a TOTP that predates the proofing is re-enrolled with a step-up, then binds and signs', async () => {
    const rx = await invite('renner@example.test', 'Dr Renner');
    await proof(RE, rx.userId);
    expect((await stepUp(rx, 'epcs.credential.bind')).statusCode).toBe(200);
    const refused = await post(h.app, '/api/v1/identity/proofing/bind-credential', rx.browser);
    expect(refused.json()).toMatchObject({ detail: 'credential_predates_proofing' });

    // Re-enrolment needs a step-up bound to exactly its action.
    const bare = await post(h.app, '/api/v1/auth/totp/reenrol', rx.browser);
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: 'step_up_required' });
    expect((await stepUp(rx, 'auth.totp.reenrol')).statusCode).toBe(200);
    const begin = await post(h.app, '/api/v1/auth/totp/reenrol', rx.browser);
    expect(begin.statusCode, begin.body).toBe(200);
    expect(begin.headers['cache-control']).toBe('no-store');
    const fresh = begin.json<{ secret: string }>().secret;
    expect(fresh).not.toBe(rx.secret);
    // The confirmation needs a code of the new secret.
    const wrong = await post(h.app, '/api/v1/auth/totp/reenrol/confirm', rx.browser, {
      code: codeFor(rx.secret, h.clock),
    });
    expect(wrong.statusCode).toBe(400);
    const confirm = await post(h.app, '/api/v1/auth/totp/reenrol/confirm', rx.browser, {
      code: codeFor(fresh, h.clock),
    });
    expect(confirm.statusCode, confirm.body).toBe(200);
    h.clock.advance(30_000);
    const old = rx.secret;
    rx.secret = fresh;
    // The old secret stopped working at once: sign-in and step-up refuse its codes.
    expect(
      (await login(h, 'renner@example.test', { totp: codeFor(old, h.clock) })).statusCode,
    ).toBe(401);
    expect((await stepUp({ browser: rx.browser, secret: old }, 'x.y')).statusCode).toBe(400);
    const signIn = await login(h, 'renner@example.test', { totp: codeFor(fresh, h.clock) });
    expect(signIn.statusCode, signIn.body).toBe(200);
    h.clock.advance(30_000);

    expect((await stepUp(rx, 'epcs.credential.bind')).statusCode).toBe(200);
    const bound = await post(h.app, '/api/v1/identity/proofing/bind-credential', rx.browser);
    expect(bound.statusCode, bound.body).toBe(200);
    expect(bound.json<{ boundCredentials: { type: string }[] }>().boundCredentials).toEqual([
      expect.objectContaining({ type: 'totp' }),
    ]);
    expect(await reasons(rx.userId, RE)).toEqual(['no_epcs_permission']);
    await grant(rx.userId);
    expect(await reasons(rx.userId, RE)).toEqual([]);

    const audit = await auditActions(h, admin.tenantId);
    expect(audit.filter((a) => a.action === 'auth.mfa.reenrol')).toEqual([
      expect.objectContaining({ outcome: 'success', details: { factor: 'totp' } }),
    ]);
    const failures = await auditActions(h, null);
    expect(failures.some((a) => a.action === 'auth.mfa.reenrol' && a.outcome === 'failure')).toBe(
      true,
    );
    // A second re-enrolment replaces the bound credential: the binding no longer counts.
    expect((await stepUp(rx, 'auth.totp.reenrol')).statusCode).toBe(200);
    const again = await post(h.app, '/api/v1/auth/totp/reenrol', rx.browser);
    const next = again.json<{ secret: string }>().secret;
    expect(
      (
        await post(h.app, '/api/v1/auth/totp/reenrol/confirm', rx.browser, {
          code: codeFor(next, h.clock),
        })
      ).statusCode,
    ).toBe(200);
    expect(await reasons(rx.userId, RE)).toEqual(['no_bound_credential']);
  });

  it('re-enrolment is for users with a confirmed TOTP, and the first enrolment stays closed', async () => {
    const rx = await invite('twice@example.test', 'Dr Twice');
    expect((await post(h.app, '/api/v1/auth/totp/enrol', rx.browser)).statusCode).toBe(409);
    const none = await post(h.app, '/api/v1/auth/totp/reenrol/confirm', rx.browser, {
      code: codeFor(rx.secret, h.clock),
    });
    expect(none.statusCode).toBe(400);
  });

  it('a passkey registered after the proofing binds and makes the prescriber eligible', async () => {
    const rx = await invite('keyes@example.test', 'Dr Keyes');
    await proof(KEY, rx.userId);
    const auth = new SoftAuthenticator();
    const credentialId = await registerPasskey(rx, auth);
    expect(await reasons(rx.userId, KEY)).toEqual(['no_epcs_permission', 'no_bound_credential']);
    // An assertion over a challenge for another action proves nothing here.
    const other = await post(h.app, '/api/v1/auth/webauthn/step-up/options', rx.browser, {
      action: 'rx.sign',
    });
    const wrong = await post(h.app, '/api/v1/identity/proofing/bind-passkey', rx.browser, {
      response: auth.get(other.json<RequestOptionsJSON>()),
    });
    expect(wrong.statusCode).toBe(400);
    const res = await bindPasskey(rx, auth);
    expect(res.statusCode, res.body).toBe(200);
    expect(
      res.json<{ boundCredentials: { type: string; id: string }[] }>().boundCredentials,
    ).toEqual([expect.objectContaining({ type: 'webauthn', id: credentialId })]);
    await grant(rx.userId);
    expect(await reasons(rx.userId, KEY)).toEqual([]);
    // The signing step-up accepts exactly the bound passkey, not the account's unbound TOTP.
    const totpId = await h.p.db.withTenant(tenant, async (tx) => {
      const { rows } = await tx.query<{ id: string }>('SELECT id::text FROM scrip_user_totp($1)', [
        rx.userId,
      ]);
      return rows[0]?.id ?? '';
    });
    expect(await boundTo(rx.userId, { type: 'webauthn', id: credentialId })).toBe(true);
    expect(await boundTo(rx.userId, { type: 'totp', id: totpId })).toBe(false);
    // Revoking the passkey ends its binding (the TOTP remains, so the revocation is allowed).
    const del = await h.app.inject({
      method: 'DELETE',
      url: `/api/v1/auth/webauthn/credentials/${credentialId}`,
      headers: {
        cookie: `__Host-scrip_session=${rx.browser.session}; __Host-scrip_csrf=${rx.browser.csrf}`,
        'x-csrf-token': rx.browser.csrf,
      },
    });
    expect(del.statusCode, del.body).toBe(200);
    expect(await reasons(rx.userId, KEY)).toEqual(['no_bound_credential']);
    expect(await boundTo(rx.userId, { type: 'webauthn', id: credentialId })).toBe(false);
  });

  it('a passkey registered before the proofing cannot be bound', async () => {
    const rx = await invite('olden@example.test', 'Dr Olden');
    const auth = new SoftAuthenticator();
    await registerPasskey(rx, auth);
    h.clock.advance(60_000);
    await proof(OLD, rx.userId);
    const res = await bindPasskey(rx, auth);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ detail: 'credential_predates_proofing' });
    expect(await reasons(rx.userId, OLD)).toEqual(['no_epcs_permission', 'no_bound_credential']);
  });
});
