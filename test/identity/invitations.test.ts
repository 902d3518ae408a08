import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import {
  auditActions,
  bootstrapAdmin,
  cookiesOf,
  enrol,
  get,
  harness,
  inviteAndEnrol,
  PASSWORD,
  post,
  type Enrolled,
  type Harness,
} from './harness.js';

/**
 * An invitation never changes an existing member's roles: that goes through the role-change flow
 * (another administrator, a step-up, the privilege alert).
 */
describe('invitations refuse existing members', () => {
  let h: Harness;
  let admin: Enrolled;
  let pat: Enrolled;
  let tenantId: TenantId;

  const invitationCount = async (): Promise<number> =>
    h.p.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ n: string }>('SELECT count(*) AS n FROM invitations');
      return Number(rows[0]?.n);
    });
  const rolesOf = async (t: TenantId, userId: string): Promise<string[] | undefined> =>
    h.p.db.withTenant(t, async (tx) => {
      const { rows } = await tx.query<{ roles: string[] }>(
        'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2',
        [t, userId],
      );
      return rows[0]?.roles;
    });

  beforeAll(async () => {
    h = await harness();
    admin = await bootstrapAdmin(h);
    tenantId = asTenantId(admin.tenantId);
    pat = await inviteAndEnrol(h, admin.browser, 'pat@example.test', ['staff']);
  }, 120_000);
  afterAll(async () => {
    await h.close();
  });

  it('refuses an invitation to the inviter’s own email with 409, writes no invitation, audits the refusal', async () => {
    const before = await invitationCount();
    for (const email of ['admin@example.test', '  ADMIN@Example.TEST ']) {
      const res = await post(h.app, '/api/v1/users/invitations', admin.browser, {
        email,
        roles: ['auditor', 'security_admin', 'prescriber'],
      });
      expect(res.statusCode, res.body).toBe(409);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'conflict', detail: 'member' });
      expect(res.body).not.toContain('token');
    }
    expect(await invitationCount()).toBe(before);
    expect((await rolesOf(tenantId, admin.userId))?.sort()).toEqual([
      'security_admin',
      'tenant_admin',
    ]);
    const refusals = (await auditActions(h, admin.tenantId)).filter(
      (a) => a.action === 'auth.invitation.create' && a.outcome === 'denied',
    );
    expect(refusals).toHaveLength(2);
    expect(refusals[0]?.details).toEqual({
      roles: 'auditor,security_admin,prescriber',
      refused: 'member',
    });
    expect(JSON.stringify(refusals)).not.toContain('@');
  });

  it('refuses an invitation to another existing member (the CLI too)', async () => {
    const res = await post(h.app, '/api/v1/users/invitations', admin.browser, {
      email: 'pat@example.test',
      roles: ['tenant_admin'],
    });
    expect(res.statusCode).toBe(409);
    await expect(
      h.p.identity.onboarding.invite(tenantId, 'pat@example.test', ['tenant_admin'], {
        kind: 'cli',
      }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(await rolesOf(tenantId, pat.userId)).toEqual(['staff']);
  });

  it('accepting never merges into an existing membership: the second link is refused and stays unused', async () => {
    // Olga's home is another tenant; two invitations into this one were issued before she joined.
    const t2 = asTenantId(randomUUID());
    await h.p.db.withTenant(t2, (tx) =>
      tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t2, 'Elsewhere']),
    );
    const home = await h.p.identity.onboarding.invite(t2, 'olga@example.test', ['staff'], {
      kind: 'cli',
    });
    const created = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: home.token,
      email: 'olga@example.test',
      password: PASSWORD,
      displayName: 'Olga Other',
    });
    expect(created.statusCode, created.body).toBe(200);
    const olga = await enrol(h, cookiesOf(created));
    const invite = async (roles: string[]): Promise<string> => {
      const res = await post(h.app, '/api/v1/users/invitations', admin.browser, {
        email: 'olga@example.test',
        roles,
      });
      expect(res.statusCode, res.body).toBe(201);
      return res.json<{ token: string }>().token;
    };
    const first = await invite(['staff']);
    const second = await invite(['tenant_admin', 'security_admin']);
    const accept = (token: string) =>
      post(h.app, '/api/v1/auth/invitations/accept', undefined, {
        token,
        email: 'olga@example.test',
        password: PASSWORD,
        displayName: 'Olga Other',
      });
    expect((await accept(first)).statusCode).toBe(200);
    // A used link stays gone (410), member or not: only a valid link reaches the member check.
    expect((await accept(first)).statusCode).toBe(410);
    const refused = await accept(second);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'conflict', detail: 'member' });
    expect(await rolesOf(tenantId, olga.userId)).toEqual(['staff']);
    const unused = await h.p.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ n: string }>(
        `SELECT count(*) AS n FROM invitations
          WHERE email = 'olga@example.test' AND accepted_at IS NULL`,
      );
      return Number(rows[0]?.n);
    });
    expect(unused).toBe(1);
    // Olga's session in her home tenant is untouched.
    expect((await get(h.app, '/api/v1/auth/session', olga.browser)).statusCode).toBe(200);
    const audit = await auditActions(h, admin.tenantId);
    const accepts = audit.filter((a) => a.action === 'auth.invitation.accept');
    expect(accepts.slice(-2)).toEqual([
      expect.objectContaining({ outcome: 'success', details: { roles: 'staff' } }),
      expect.objectContaining({ outcome: 'denied', details: { refused: 'member' } }),
    ]);
    const creates = audit.filter(
      (a) => a.action === 'auth.invitation.create' && a.outcome === 'success',
    );
    expect(creates.at(-1)?.details).toEqual({ roles: 'tenant_admin,security_admin' });
  });
});
