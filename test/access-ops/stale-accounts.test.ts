import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import { disableStaleAccounts } from '../../src/access/access-ops.js';
import { accessCommand } from '../../src/cli/access.command.js';
import type { Platform } from '../../src/platform.js';
import { bootstrapAdmin, get, inviteAndEnrol, post, type Enrolled } from '../identity/harness.js';
import { auditOf, opsHarness, otherTenant, type OpsHarness } from './helpers.js';

const DAY = 86_400_000;

interface Report {
  dryRun: boolean;
  accounts: { userId: string; neverLoggedIn: boolean; endedSessions: number }[];
}

describe('stale accounts', () => {
  let h: OpsHarness;
  let admin: Enrolled;
  let recent: Enrolled;
  let stale: Enrolled;
  let never: Enrolled;
  let t: TenantId;

  /** Sets a user's last sign-in (or, with `created`, creation with no sign-in) `days` ago. */
  const lastSeen = (user: Enrolled, days: number, created = false) =>
    h.p.db.withTenant(t, (tx) =>
      tx.query(
        created
          ? 'UPDATE users SET last_login_at = NULL, created_at = $2 WHERE id = $1'
          : 'UPDATE users SET last_login_at = $2 WHERE id = $1',
        [user.userId, new Date(h.clock.now().getTime() - days * DAY)],
      ),
    );
  const status = (user: Enrolled) =>
    h.p.db.withTenant(t, async (tx) => {
      const r = await tx.query<{ status: string }>('SELECT status FROM users WHERE id = $1', [
        user.userId,
      ]);
      return r.rows[0]?.status;
    });

  beforeAll(async () => {
    h = await opsHarness();
    admin = await bootstrapAdmin(h);
    t = asTenantId(admin.tenantId);
    recent = await inviteAndEnrol(h, admin.browser, 'recent@example.test', ['prescriber']);
    stale = await inviteAndEnrol(h, admin.browser, 'stale@example.test', ['prescriber']);
    never = await inviteAndEnrol(h, admin.browser, 'never@example.test', ['support']);
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  it('previews (dry run), then disables 91-day-old accounts and keeps 89-day-old ones', async () => {
    await lastSeen(recent, 89);
    await lastSeen(stale, 91);
    await lastSeen(never, 91, true);
    const preview = await get(h.ops, '/api/v1/access/stale-accounts', admin.browser);
    expect(preview.statusCode, preview.body).toBe(200);
    const p = preview.json<Report>();
    expect(p.dryRun).toBe(true);
    expect(p.accounts.map((a) => a.userId).sort()).toEqual([stale.userId, never.userId].sort());
    expect(p.accounts.find((a) => a.userId === never.userId)?.neverLoggedIn).toBe(true);
    expect(await status(stale)).toBe('active'); // a preview changes nothing
    expect((await get(h.ops, '/api/v1/access/stale-accounts', recent.browser)).statusCode).toBe(
      403,
    );
    expect(
      (await get(h.ops, '/api/v1/access/stale-accounts?days=0', admin.browser)).statusCode,
    ).toBe(400);

    const run = await post(h.ops, '/api/v1/access/stale-accounts/disable', admin.browser, {});
    expect(run.statusCode, run.body).toBe(200);
    const r = run.json<Report>();
    expect(r.dryRun).toBe(false);
    expect(r.accounts.find((a) => a.userId === stale.userId)?.endedSessions).toBe(1);
    expect(await status(stale)).toBe('disabled');
    expect(await status(never)).toBe('disabled');
    expect(await status(recent)).toBe('active');
    expect((await get(h.ops, '/api/v1/access/grants/mine', stale.browser)).statusCode).toBe(401);
    expect((await get(h.ops, '/api/v1/access/grants/mine', recent.browser)).statusCode).toBe(200);
    const audit = (await auditOf(h, admin.tenantId)).filter(
      (a) => a.action === 'user.disabled.stale',
    );
    expect(audit).toHaveLength(2);
    expect(audit.every((a) => a.actor_user_id === admin.userId)).toBe(true);
    // Running again finds nothing more.
    const again = await post(h.ops, '/api/v1/access/stale-accounts/disable', admin.browser, {});
    expect(again.json<Report>().accounts).toEqual([]);
  });

  it('with the clock moving: 89 days after the last sign-in kept, 91 days disabled (service and CLI)', async () => {
    const other = await otherTenant(h, 'solo@other.test', ['prescriber']);
    const o = other.tenantId;
    h.clock.advance(89 * DAY);
    const kept = await disableStaleAccounts(h.p.db, o, h.clock);
    expect(kept.accounts).toEqual([]);
    h.clock.advance(2 * DAY);
    // The CLI's dry run lists it and changes nothing.
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const code = await accessCommand(h.p as unknown as Platform, 'disable-stale', {
        tenant: o,
        'dry-run': true,
        json: true,
      });
      expect(code).toBe(0);
      const printed = out.mock.calls.map((c) => String(c[0])).join('');
      expect(JSON.parse(printed)).toMatchObject({
        dryRun: true,
        accounts: [{ user: other.userId }],
      });
    } finally {
      out.mockRestore();
    }
    const done = await disableStaleAccounts(h.p.db, o, h.clock, 90, { actor: 'cli' });
    expect(done.accounts.map((a) => a.userId)).toEqual([other.userId]);
    // Only the tenant's own (home) users: the first tenant is untouched by this run.
    const audit = (await auditOf(h, o)).filter((a) => a.action === 'user.disabled.stale');
    expect(audit).toHaveLength(1);
    expect(await status(recent)).toBe('active');
    await expect(disableStaleAccounts(h.p.db, o, h.clock, 0)).rejects.toThrow(/days/);
  });
});
