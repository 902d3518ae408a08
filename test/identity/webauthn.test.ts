import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { freshTenant } from '../db.js';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  enrol,
  get,
  harness,
  headers,
  inviteAndEnrol,
  login,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from './harness.js';
import {
  SoftAuthenticator,
  type CreationOptionsJSON,
  type Flags,
  type RequestOptionsJSON,
} from './soft-authenticator.js';

const W = '/api/v1/auth/webauthn';

describe('identity: WebAuthn passkeys', () => {
  let h: Harness;
  let admin: Enrolled;

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
  }, 120_000);

  afterAll(async () => {
    await h.close();
  });

  async function register(
    b: Browser,
    auth: SoftAuthenticator,
    flags: Flags = {},
  ): Promise<LightMyRequestResponse> {
    const opts = await post(h.app, `${W}/register/options`, b);
    expect(opts.statusCode, opts.body).toBe(200);
    const o = opts.json<CreationOptionsJSON & { authenticatorSelection: unknown }>();
    expect(o.authenticatorSelection).toMatchObject({
      residentKey: 'required',
      userVerification: 'required',
    });
    return post(h.app, `${W}/register`, b, { response: auth.create(o, flags), name: 'Laptop' });
  }

  async function loginOptions(secondFactor = false): Promise<RequestOptionsJSON> {
    const res = await post(h.app, `${W}/login/options`, undefined, { secondFactor });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<RequestOptionsJSON>();
  }

  async function passkeyLogin(
    auth: SoftAuthenticator,
    flags: Flags = {},
    opts: { counter?: number } = {},
  ): Promise<LightMyRequestResponse> {
    const o = await loginOptions();
    return post(h.app, `${W}/login`, undefined, { response: auth.get(o, flags, opts) });
  }

  /** A prescriber whose only factor is a passkey, registered from the enrolment-only session. */
  async function passkeyUser(email: string): Promise<{ auth: SoftAuthenticator; b: Browser }> {
    const inv = await post(h.app, '/api/v1/users/invitations', admin.browser, {
      email,
      roles: ['prescriber'],
    });
    const accept = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: inv.json<{ token: string }>().token,
      email,
      password: PASSWORD,
      displayName: 'Pat Passkey',
    });
    expect(accept.json<{ status: string }>().status).toBe('enrolment_required');
    const auth = new SoftAuthenticator();
    const res = await register(cookiesOf(accept), auth);
    expect(res.statusCode, res.body).toBe(200);
    return { auth, b: cookiesOf(res) };
  }

  it('a passkey is the first factor from an enrolment-only session, then signs in alone', async () => {
    const { auth, b } = await passkeyUser('first@example.test');
    expect((await get(h.app, '/api/v1/test/full', b)).statusCode).toBe(200);
    const info = (await get(h.app, '/api/v1/auth/session', b)).json<{ mfaEnrolled: boolean }>();
    expect(info.mfaEnrolled).toBe(true);

    const res = await passkeyLogin(auth);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ status: string }>().status).toBe('signed_in');
    const s = cookiesOf(res);
    expect((await get(h.app, '/api/v1/test/full', s)).statusCode).toBe(200);
    // Password alone is no longer enough: the account has a second factor.
    const pw = await login(h, 'first@example.test', {});
    expect(pw.statusCode).toBe(401);

    const list = await get(h.app, `${W}/credentials`, s);
    const creds = list.json<{ credentials: { credentialId: string; lastUsedAt: string }[] }>();
    expect(creds.credentials).toHaveLength(1);
    expect(creds.credentials[0]?.credentialId).toBe(auth.id);
    expect(list.body).not.toMatch(/publicKey|public_key/);
    const records = await auditActions(h, admin.tenantId);
    expect(records.some((r) => r.action === 'auth.webauthn.register')).toBe(true);
    expect(
      records.some((r) => r.action === 'auth.login.success' && r.details.factor === 'webauthn'),
    ).toBe(true);
  });

  it('the first-factor registration answer carries recovery codes and a full session', async () => {
    const inv = await post(h.app, '/api/v1/users/invitations', admin.browser, {
      email: 'codes@example.test',
      roles: ['staff'],
    });
    const accept = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: inv.json<{ token: string }>().token,
      email: 'codes@example.test',
      password: PASSWORD,
      displayName: 'Cody',
    });
    const restricted = cookiesOf(accept);
    expect((await get(h.app, '/api/v1/test/full', restricted)).statusCode).toBe(403);
    const res = await register(restricted, new SoftAuthenticator());
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ recoveryCodes: string[]; session: { status: string } }>();
    expect(body.recoveryCodes).toHaveLength(10);
    expect(body.session.status).toBe('signed_in');
    // The enrolment-only session ended.
    expect((await get(h.app, '/api/v1/auth/session', restricted)).statusCode).toBe(401);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('challenges are single use and expire after 5 minutes (Clock)', async () => {
    const { auth } = await passkeyUser('challenge@example.test');
    const o = await loginOptions();
    const assertion = auth.get(o);
    const first = await post(h.app, `${W}/login`, undefined, { response: assertion });
    expect(first.statusCode, first.body).toBe(200);
    const replay = await post(h.app, `${W}/login`, undefined, { response: assertion });
    expect(replay.statusCode).toBe(401);

    const late = await loginOptions();
    h.clock.advance(5 * 60_000 + 1_000);
    const expired = await post(h.app, `${W}/login`, undefined, { response: auth.get(late) });
    expect(expired.statusCode).toBe(401);
    const failures = (await auditActions(h, null)).filter(
      (r) => r.action === 'auth.login.failure' && r.details.factor === 'webauthn',
    );
    expect(failures.map((r) => r.details.reason)).toEqual(expect.arrayContaining(['challenge']));
    // A challenge made up by the client was never issued.
    const forged = auth.get({ challenge: Buffer.alloc(32, 7).toString('base64url') });
    expect((await post(h.app, `${W}/login`, undefined, { response: forged })).statusCode).toBe(401);
  });

  it('user verification is required for passkey-alone sign-in, registration and step-up', async () => {
    const { auth, b } = await passkeyUser('uv@example.test');
    const noUv = await passkeyLogin(auth, { uv: false });
    expect(noUv.statusCode).toBe(401);
    const reasons = (await auditActions(h, null))
      .filter((r) => r.action === 'auth.login.failure')
      .map((r) => r.details.reason);
    expect(reasons).toContain('user_verification_required');
    // Registering an authenticator that did not verify the user is refused.
    const refused = await register(b, new SoftAuthenticator(), { uv: false });
    expect(refused.statusCode).toBe(400);
    // Step-up with a passkey that did not verify the user is refused.
    const opts = await post(h.app, `${W}/step-up/options`, b, { action: 'rx.sign' });
    const up = await post(h.app, `${W}/step-up`, b, {
      action: 'rx.sign',
      response: auth.get(opts.json<RequestOptionsJSON>(), { uv: false }),
    });
    expect(up.statusCode).toBe(400);
    expect((await post(h.app, '/api/v1/test/sign', b)).statusCode).toBe(403);
  });

  it('a passkey without UV is accepted as the second factor after a password', async () => {
    const { auth } = await passkeyUser('second@example.test');
    const o = await loginOptions(true);
    expect(o).toMatchObject({ userVerification: 'preferred' });
    const res = await login(h, 'second@example.test', { webauthn: auth.get(o, { uv: false }) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<{ status: string }>().status).toBe('signed_in');
    // A wrong password with a good assertion fails like any wrong password.
    const o2 = await loginOptions(true);
    const bad = await login(h, 'second@example.test', { webauthn: auth.get(o2) }, 'wrong-pass');
    expect(bad.statusCode).toBe(401);
    // Another user's passkey is not this user's second factor.
    const other = await passkeyUser('second-other@example.test');
    const o3 = await loginOptions(true);
    const cross = await login(h, 'second@example.test', { webauthn: other.auth.get(o3) });
    expect(cross.statusCode).toBe(401);
  });

  it('a signature counter that does not grow is refused and audited', async () => {
    const { auth, b } = await passkeyUser('clone@example.test');
    expect((await passkeyLogin(auth, {}, { counter: 10 })).statusCode).toBe(200);
    const cloned = await passkeyLogin(auth, {}, { counter: 10 });
    expect(cloned.statusCode).toBe(401);
    const lower = await passkeyLogin(auth, {}, { counter: 3 });
    expect(lower.statusCode).toBe(401);
    const userId = (await get(h.app, '/api/v1/auth/session', b)).json<{ userId: string }>().userId;
    const records = await auditActions(h, admin.tenantId);
    const regressions = records.filter((r) => r.action === 'auth.webauthn.counter_regression');
    expect(regressions).toHaveLength(2);
    expect(regressions[0]?.outcome).toBe('denied');
    expect(regressions[0]?.details).toMatchObject({ stored: 10, presented: 10 });
    expect(userId).toBeDefined();
    // The authenticator moving on is accepted again.
    expect((await passkeyLogin(auth, {}, { counter: 11 })).statusCode).toBe(200);
  });

  it('step-up with a passkey: one named action, once', async () => {
    const { auth, b } = await passkeyUser('stepup@example.test');
    expect((await post(h.app, '/api/v1/test/sign', b)).statusCode).toBe(403);
    const opts = await post(h.app, `${W}/step-up/options`, b, { action: 'rx.sign' });
    expect(opts.json<RequestOptionsJSON>().allowCredentials?.[0]?.id).toBe(auth.id);
    const assertion = auth.get(opts.json<RequestOptionsJSON>());
    // The challenge is bound to its action.
    const wrongAction = await post(h.app, `${W}/step-up`, b, {
      action: 'rx.cancel',
      response: assertion,
    });
    expect(wrongAction.statusCode).toBe(400);
    const opts2 = await post(h.app, `${W}/step-up/options`, b, { action: 'rx.sign' });
    const up = await post(h.app, `${W}/step-up`, b, {
      action: 'rx.sign',
      response: auth.get(opts2.json<RequestOptionsJSON>()),
    });
    expect(up.statusCode, up.body).toBe(200);
    expect((await post(h.app, '/api/v1/test/sign', b)).statusCode).toBe(200);
    expect((await post(h.app, '/api/v1/test/sign', b)).statusCode).toBe(403);
  });

  it('users rename and revoke their passkeys, but not their last second factor', async () => {
    const { auth, b } = await passkeyUser('revoke@example.test');
    const second = new SoftAuthenticator();
    const added = await register(b, second);
    expect(added.statusCode, added.body).toBe(200);
    const id = added.json<{ credential: { id: string } }>().credential.id;
    const renamed = await h.app.inject({
      method: 'PATCH',
      url: `${W}/credentials/${id}`,
      headers: headers(b),
      payload: { name: '  YubiKey\u0000 5 ' },
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    const listed = (await get(h.app, `${W}/credentials`, b)).json<{
      credentials: { id: string; name: string }[];
    }>();
    expect(listed.credentials.find((c) => c.id === id)?.name).toBe('YubiKey 5');

    const del = (url: string, who: Browser): Promise<LightMyRequestResponse> =>
      h.app.inject({ method: 'DELETE', url, headers: headers(who) });
    expect((await del(`${W}/credentials/${id}`, b)).statusCode).toBe(200);
    expect((await passkeyLogin(second)).statusCode).toBe(401);
    expect((await del(`${W}/credentials/${id}`, b)).statusCode).toBe(404);
    const firstId = listed.credentials.find((c) => c.id !== id)?.id ?? '';
    const last = await del(`${W}/credentials/${firstId}`, b);
    expect(last.statusCode).toBe(409);
    expect((await passkeyLogin(auth)).statusCode).toBe(200);
    // Someone else's credential answers like a missing one.
    const other = await passkeyUser('revoke-other@example.test');
    expect((await del(`${W}/credentials/${firstId}`, other.b)).statusCode).toBe(404);
    const records = await auditActions(h, admin.tenantId);
    expect(records.filter((r) => r.action === 'auth.webauthn.revoke')).toHaveLength(1);
    expect(records.some((r) => r.action === 'auth.webauthn.rename')).toBe(true);
  });

  it('an administrator revokes a user’s passkey; another tenant’s administrator cannot (404)', async () => {
    const { auth, b } = await passkeyUser('lost@example.test');
    const userId = (await get(h.app, '/api/v1/auth/session', b)).json<{ userId: string }>().userId;
    const list = await get(h.app, `/api/v1/users/${userId}/passkeys`, admin.browser);
    expect(list.statusCode, list.body).toBe(200);
    const credId = list.json<{ credentials: { id: string }[] }>().credentials[0]?.id ?? '';
    // A user without user.admin cannot.
    const plain = await inviteAndEnrol(h, admin.browser, 'plain@example.test');
    const del = (url: string, who: Browser): Promise<LightMyRequestResponse> =>
      h.app.inject({ method: 'DELETE', url, headers: headers(who) });
    expect(
      (await del(`/api/v1/users/${userId}/passkeys/${credId}`, plain.browser)).statusCode,
    ).toBe(403);
    // Another tenant's administrator: the same answer as for a missing credential.
    const tenant = await freshTenant(h.p.db, 'Other clinic');
    const invite = await h.p.identity.onboarding.invite(
      tenant,
      'other-admin@example.test',
      ['tenant_admin'],
      { kind: 'cli' },
    );
    const accepted = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: invite.token,
      email: 'other-admin@example.test',
      password: PASSWORD,
      displayName: 'Otto Other',
    });
    const otherAdmin = await enrol(h, cookiesOf(accepted));
    expect(
      (await del(`/api/v1/users/${userId}/passkeys/${credId}`, otherAdmin.browser)).statusCode,
    ).toBe(404);
    expect(
      (await get(h.app, `/api/v1/users/${userId}/passkeys`, otherAdmin.browser)).statusCode,
    ).toBe(404);
    expect((await passkeyLogin(auth)).statusCode).toBe(200);

    expect(
      (await del(`/api/v1/users/${userId}/passkeys/${credId}`, admin.browser)).statusCode,
    ).toBe(200);
    expect((await passkeyLogin(auth)).statusCode).toBe(401);
    const after = (await get(h.app, `/api/v1/users/${userId}/passkeys`, admin.browser)).json<{
      credentials: { revokedAt: string | null }[];
    }>();
    expect(after.credentials[0]?.revokedAt).not.toBeNull();
    const records = await auditActions(h, admin.tenantId);
    expect(
      records.some((r) => r.action === 'auth.webauthn.revoke' && r.details.by === 'admin'),
    ).toBe(true);
  });

  it('refuses an assertion from another origin, and TOTP users can add a passkey', async () => {
    const auth = new SoftAuthenticator();
    const added = await register(admin.browser, auth);
    expect(added.statusCode, added.body).toBe(200);
    expect(added.json<{ recoveryCodes?: unknown }>().recoveryCodes).toBeUndefined();
    const o = await loginOptions();
    const phished = await post(h.app, `${W}/login`, undefined, {
      response: auth.get(o, {}, { origin: 'https://scrip.example.net' }),
    });
    expect(phished.statusCode).toBe(401);
    expect((await passkeyLogin(auth)).statusCode).toBe(200);
    // TOTP still works for the same account.
    h.clock.advance(30_000);
    const res = await login(h, 'admin@example.test', { totp: codeFor(admin.secret, h.clock) });
    expect(res.statusCode, res.body).toBe(200);
  });
});
