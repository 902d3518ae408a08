import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  get,
  harness,
  inviteAndEnrol,
  login,
  PASSWORD,
  post,
  type Enrolled,
  type Harness,
} from './harness.js';

describe('identity: bootstrap, invitations, login, MFA', () => {
  let h: Harness;
  let admin: Enrolled & { token: string };

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
  });
  afterAll(async () => {
    await h.close();
  });

  it('bootstrap works once: the link is single use and no new link is issued once a user exists', async () => {
    const again = await post(h.app, '/api/v1/auth/bootstrap', undefined, {
      token: admin.token,
      tenantName: 'Evil Clinic',
      email: 'evil@example.test',
      password: PASSWORD,
      displayName: 'Eve',
    });
    expect(again.statusCode).toBe(410);
    expect(again.headers['set-cookie']).toBeUndefined();
    expect(await h.p.identity.onboarding.issueBootstrap()).toBeUndefined();
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['auth.bootstrap', 'auth.mfa.enrol']),
    );
  });

  it('an enrolment-only session reaches enrolment routes only; enrolment rotates the session', async () => {
    const inv = await post(h.app, '/api/v1/users/invitations', admin.browser, {
      email: 'nurse@example.test',
      roles: ['tenant_admin'],
    });
    const accepted = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: inv.json<{ token: string }>().token,
      email: 'nurse@example.test',
      password: PASSWORD,
      displayName: 'Nina Nurse',
    });
    const restricted = cookiesOf(accepted);
    const info = await get(h.app, '/api/v1/auth/session', restricted);
    expect(info.json()).toMatchObject({ restricted: true, permissions: [], mfaEnrolled: false });
    for (const url of ['/api/v1/users', '/api/v1/test/full']) {
      const res = await get(h.app, url, restricted);
      expect(res.statusCode, url).toBe(403);
      expect(res.json()).toMatchObject({ code: 'forbidden', detail: 'mfa_enrolment_required' });
    }
    const stepUp = await post(h.app, '/api/v1/auth/step-up', restricted, {
      action: 'rx.sign',
      totp: '000000',
    });
    expect(stepUp.statusCode).toBe(403);
    // Password alone never yields more than enrolment while no factor is enrolled.
    const pwOnly = await login(h, 'nurse@example.test', {});
    expect(pwOnly.json()).toMatchObject({ status: 'enrolment_required' });
    const begin = await post(h.app, '/api/v1/auth/totp/enrol', restricted);
    const secret = begin.json<{ secret: string }>().secret;
    const confirm = await post(h.app, '/api/v1/auth/totp/confirm', restricted, {
      code: codeFor(secret, h.clock),
    });
    expect(confirm.statusCode).toBe(200);
    const full = cookiesOf(confirm);
    expect(full.session).not.toBe(restricted.session);
    expect((await get(h.app, '/api/v1/auth/session', restricted)).statusCode).toBe(401);
    expect((await get(h.app, '/api/v1/users', full)).statusCode).toBe(200);
    // A second enrolment while one is confirmed is refused.
    expect((await post(h.app, '/api/v1/auth/totp/enrol', full)).statusCode).toBe(409);
    h.clock.advance(30_000);
  });

  it('invitations are single use and expire (Clock)', async () => {
    const mk = async (email: string): Promise<string> =>
      (
        await post(h.app, '/api/v1/users/invitations', admin.browser, {
          email,
          roles: ['prescriber'],
        })
      ).json<{ token: string }>().token;
    const accept = (token: string, email: string) =>
      post(h.app, '/api/v1/auth/invitations/accept', undefined, {
        token,
        email,
        password: PASSWORD,
        displayName: 'Someone',
      });
    const t1 = await mk('once@example.test');
    expect((await accept(t1, 'once@example.test')).statusCode).toBe(200);
    expect((await accept(t1, 'once@example.test')).statusCode).toBe(410);
    const t2 = await mk('late@example.test');
    h.clock.advance(72 * 3_600_000 + 1000);
    expect((await accept(t2, 'late@example.test')).statusCode).toBe(410);
    expect((await accept('x'.repeat(43), 'late@example.test')).statusCode).toBe(410);
    // The admin's session idled out meanwhile; sign in again for later tests.
    const again = await login(h, 'admin@example.test', { totp: codeFor(admin.secret, h.clock) });
    expect(again.statusCode, again.body).toBe(200);
    admin = { ...admin, browser: cookiesOf(again) };
    h.clock.advance(30_000);
  });

  it('login needs password and TOTP; a TOTP code is accepted once', async () => {
    const user = await inviteAndEnrol(h, admin.browser, 'pres@example.test');
    const code = codeFor(user.secret, h.clock);
    const ok = await login(h, 'PRES@example.test', { totp: code });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'signed_in', userId: user.userId });
    const cookies = ok.headers['set-cookie'] as string[];
    expect(cookies.find((c) => c.startsWith('__Host-scrip_session='))).toMatch(
      /; Path=\/; Secure; SameSite=Strict; Max-Age=43200; HttpOnly$/,
    );
    expect(cookies.find((c) => c.startsWith('__Host-scrip_csrf='))).not.toMatch(/HttpOnly/);
    const replay = await login(h, 'pres@example.test', { totp: code });
    expect(replay.statusCode).toBe(401);
    expect((await login(h, 'pres@example.test', {})).statusCode).toBe(401);
    h.clock.advance(30_000);
    const recovery = await login(h, 'pres@example.test', {
      recoveryCode: user.recoveryCodes[0]?.toLowerCase(),
    });
    expect(recovery.statusCode).toBe(200);
    const reuse = await login(h, 'pres@example.test', { recoveryCode: user.recoveryCodes[0] });
    expect(reuse.statusCode).toBe(401);
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.filter((a) => a.action === 'auth.recovery_code.used')).toHaveLength(1);
  });

  it('unknown user and wrong password get identical answers', async () => {
    await inviteAndEnrol(h, admin.browser, 'twin@example.test');
    const wrong = await login(h, 'twin@example.test', { totp: '123456' }, 'wrong password 12345');
    const unknown = await login(h, 'nobody@example.test', { totp: '123456' });
    const badCode = await login(h, 'twin@example.test', { totp: '000000' });
    const strip = (hd: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(hd).filter(([k]) => k !== 'x-request-id' && k !== 'date'));
    for (const other of [unknown, badCode]) {
      expect(other.statusCode).toBe(wrong.statusCode);
      expect(strip(other.headers)).toEqual(strip(wrong.headers));
      const a = wrong.json<Record<string, unknown>>();
      const b = other.json<Record<string, unknown>>();
      expect({ ...b, requestId: '' }).toEqual({ ...a, requestId: '' });
    }
    expect(wrong.statusCode).toBe(401);
  });

  it('locks an account out after repeated failures, with audit records', async () => {
    const user = await inviteAndEnrol(h, admin.browser, 'lock@example.test');
    for (let i = 0; i < 5; i++) {
      expect((await login(h, 'lock@example.test', {}, 'not the password!')).statusCode).toBe(401);
    }
    const locked = await login(h, 'lock@example.test', { totp: codeFor(user.secret, h.clock) });
    expect(locked.statusCode).toBe(429);
    const platform = await auditActions(h, null);
    expect(platform.some((a) => a.action === 'auth.lockout')).toBe(true);
    expect(platform.filter((a) => a.action === 'auth.login.failure').length).toBeGreaterThanOrEqual(
      6,
    );
    // Unknown accounts lock the same way (no existence oracle).
    for (let i = 0; i < 5; i++) await login(h, 'ghost@example.test', {}, 'not the password!');
    expect((await login(h, 'ghost@example.test', {})).statusCode).toBe(429);
    h.clock.advance(61_000);
    const after = await login(h, 'lock@example.test', { totp: codeFor(user.secret, h.clock) });
    expect(after.statusCode, after.body).toBe(200);
    h.clock.advance(30_000);
  });

  it('rehashes a password stored with outdated parameters at the next login', async () => {
    const user = await inviteAndEnrol(h, admin.browser, 'old@example.test');
    const weak = await hash(PASSWORD.normalize('NFKC'), {
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- Argon2id (ambient const enum)
      algorithm: 2,
      memoryCost: 8192,
      timeCost: 1,
      parallelism: 1,
    });
    const { asTenantId } = await import('../../src/core/index.js');
    await h.p.db.withTenant(asTenantId(admin.tenantId), (tx) =>
      tx.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.userId, weak]),
    );
    const ok = await login(h, 'old@example.test', { totp: codeFor(user.secret, h.clock) });
    expect(ok.statusCode).toBe(200);
    const stored = await h.p.db.withTenant(
      asTenantId(admin.tenantId),
      async (tx) =>
        (
          await tx.query<{ h: string }>('SELECT password_hash AS h FROM users WHERE id = $1', [
            user.userId,
          ])
        ).rows[0]?.h,
    );
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    h.clock.advance(30_000);
  });
});
