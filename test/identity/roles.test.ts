import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
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

describe('changing a member’s roles ends their sessions (rotation on privilege change)', () => {
  let h: Harness;
  let admin: Enrolled;
  let pat: Enrolled;
  let other: Enrolled;

  const put = (b: Browser, userId: string, roles: string[]) =>
    h.app.inject({
      method: 'PUT',
      url: `/api/v1/users/${userId}/roles`,
      headers: headers(b),
      payload: { roles },
    });

  async function stepUp(e: { browser: Browser; secret: string }): Promise<void> {
    const res = await post(h.app, '/api/v1/auth/step-up', e.browser, {
      action: 'user.roles.change',
      totp: codeFor(e.secret, h.clock),
    });
    expect(res.statusCode, res.body).toBe(200);
    h.clock.advance(30_000);
  }

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
    pat = await inviteAndEnrol(h, admin.browser, 'pat@example.test', ['staff']);
    // A second tenant with its own administrator (as `scrip tenants create --admin-email`).
    const t2 = asTenantId(randomUUID());
    await h.p.db.withTenant(t2, (tx) =>
      tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t2, 'Elsewhere']),
    );
    const link = await h.p.identity.onboarding.invite(t2, 'olga@example.test', ['tenant_admin'], {
      kind: 'cli',
    });
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: link.token,
      email: 'olga@example.test',
      password: PASSWORD,
      displayName: 'Olga Other',
    });
    expect(acc.statusCode, acc.body).toBe(200);
    other = await enrol(h, cookiesOf(acc));
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('needs user.admin, then a step-up for user.roles.change', async () => {
    const byMember = await put(pat.browser, admin.userId, ['staff']);
    expect(byMember.statusCode).toBe(403);
    const bare = await put(admin.browser, pat.userId, ['prescriber']);
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: 'step_up_required' });
    await stepUp(admin);
    expect((await put(admin.browser, pat.userId, ['wizard'])).statusCode).toBe(400);
    // The 400 did not use the step-up: it carries the next (valid) request, and only that one.
    expect((await put(admin.browser, randomUUID(), ['staff'])).statusCode).toBe(404);
    const spent = await put(admin.browser, randomUUID(), ['staff']);
    expect(spent.json()).toMatchObject({ code: 'step_up_required' });
  });

  it('another tenant’s administrator gets 404, and nobody changes their own roles', async () => {
    await stepUp(other);
    const foreign = await put(other.browser, pat.userId, ['tenant_admin']);
    expect(foreign.statusCode).toBe(404);
    await stepUp(other);
    const unknown = await put(other.browser, randomUUID(), ['tenant_admin']);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json<{ code: string }>().code).toBe(foreign.json<{ code: string }>().code);
    await stepUp(admin);
    const self = await put(admin.browser, admin.userId, ['tenant_admin', 'security_admin']);
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ detail: 'self' });
    // Pat still has the old roles and a working session.
    const s = await get(h.app, '/api/v1/auth/session', pat.browser);
    expect(s.statusCode).toBe(200);
    expect(s.json<{ roles: string[] }>().roles).toEqual(['staff']);
  });

  it('replaces the roles, ends the member’s sessions, and audits old and new roles', async () => {
    await stepUp(admin);
    const res = await put(admin.browser, pat.userId, ['tenant_admin', 'staff']);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ roles: ['staff', 'tenant_admin'], endedSessions: 1 });
    // The old session is gone; the next sign-in carries the new permissions.
    expect((await get(h.app, '/api/v1/auth/session', pat.browser)).statusCode).toBe(401);
    const again = await login(h, 'pat@example.test', { totp: codeFor(pat.secret, h.clock) });
    expect(again.statusCode, again.body).toBe(200);
    const s = await get(h.app, '/api/v1/auth/session', cookiesOf(again));
    expect(s.json()).toMatchObject({
      roles: ['staff', 'tenant_admin'],
      permissions: expect.arrayContaining(['user.admin']) as unknown,
    });
    // The step-up was used once: a second change needs another.
    expect((await put(admin.browser, pat.userId, ['staff'])).statusCode).toBe(403);
    const audit = await auditActions(h, admin.tenantId);
    expect(audit.filter((a) => a.action === 'user.roles.change')).toEqual([
      expect.objectContaining({
        outcome: 'success',
        details: { oldRoles: 'staff', newRoles: 'staff,tenant_admin', ended: 1 },
      }),
    ]);
  });
});
