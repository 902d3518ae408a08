import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import type { Database } from '../../src/db/index.js';
import { assertAppRoleIsConfined } from '../../src/db/index.js';
import type { TenantId } from '../../src/core/index.js';
import { freshTenant, openTestDatabase, ownerClient, testTarget } from '../db.js';

/**
 * Tenancy is enforced by PostgreSQL row-level security for the application role, not by query
 * discipline: hand-written SQL with no tenant filter still only sees the current tenant.
 */
describe('tenant isolation (RLS)', () => {
  let db: Database;
  let a: TenantId;
  let b: TenantId;

  beforeAll(async () => {
    db = await openTestDatabase();
    a = await freshTenant(db, 'Clinic A');
    b = await freshTenant(db, 'Clinic B');
    await db.withTenant(a, (tx) =>
      tx.query(
        `INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, 'x.one', '1'), ($1, 'x.two', '2')`,
        [a],
      ),
    );
    await db.withTenant(b, (tx) =>
      tx.query(`INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, 'x.one', '10')`, [
        b,
      ]),
    );
  });
  afterAll(async () => {
    await db.close();
  });

  it('a transaction for tenant A reads and counts only its own rows', async () => {
    const rows = await db.withTenant(
      a,
      async (tx) =>
        (await tx.query<{ tenant_id: string }>('SELECT tenant_id FROM tenant_settings')).rows,
    );
    expect(rows.length).toBe(2);
    expect(rows.every((r) => r.tenant_id === a)).toBe(true);
    const count = await db.withTenant(
      a,
      async (tx) =>
        (
          await tx.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM tenant_settings WHERE tenant_id = $1',
            [b],
          )
        ).rows[0]?.n,
    );
    expect(count).toBe(0);
    const tenants = await db.withTenant(
      a,
      async (tx) => (await tx.query<{ id: string }>('SELECT id FROM tenants')).rows,
    );
    expect(tenants).toEqual([{ id: a }]);
  });

  it("cannot update or delete tenant B's rows without a tenant filter", async () => {
    const updated = await db.withTenant(a, (tx) =>
      tx.query(`UPDATE tenant_settings SET value = '"pwned"' WHERE key = 'x.one'`),
    );
    expect(updated.rowCount).toBe(1); // only A's own row
    const deleted = await db.withTenant(a, (tx) =>
      tx.query('DELETE FROM tenant_settings WHERE tenant_id = $1', [b]),
    );
    expect(deleted.rowCount).toBe(0);
    const renamed = await db.withTenant(a, (tx) =>
      tx.query(`UPDATE tenants SET name = 'pwned' WHERE id = $1`, [b]),
    );
    expect(renamed.rowCount).toBe(0);
    const bRows = await db.withTenant(
      b,
      async (tx) => (await tx.query<{ value: unknown }>('SELECT value FROM tenant_settings')).rows,
    );
    expect(bRows).toEqual([{ value: 10 }]);
  });

  it('cannot insert a row into tenant B or move a row there', async () => {
    await expect(
      db.withTenant(a, (tx) =>
        tx.query(`INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, 'x.evil', '1')`, [
          b,
        ]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      db.withTenant(a, (tx) =>
        tx.query(`UPDATE tenant_settings SET tenant_id = $1 WHERE tenant_id = $2`, [b, a]),
      ),
    ).rejects.toMatchObject({ code: '42501' });
  });

  it('sees no tenant-owned rows at all without a tenant context', async () => {
    const n = await db.withoutTenant(
      async (tx) =>
        (
          await tx.query<{ n: number }>(
            'SELECT (SELECT count(*) FROM tenant_settings) + (SELECT count(*) FROM tenants) AS n',
          )
        ).rows[0]?.n,
    );
    expect(Number(n)).toBe(0);
  });

  it('cannot escape with SET ROLE or RESET ROLE', async () => {
    const owner = decodeURIComponent(new URL(testTarget().ownerUrl).username);
    await expect(db.withTenant(a, (tx) => tx.query(`SET ROLE ${owner}`))).rejects.toMatchObject({
      code: '42501',
    });
    await expect(db.withTenant(a, (tx) => tx.query('SET ROLE postgres'))).rejects.toMatchObject({
      code: '42501',
    });
    const afterReset = await db.withTenant(a, async (tx) => {
      await tx.query('RESET ROLE');
      await tx.query('SET ROLE scrip_app');
      const viaGroup = (
        await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tenant_settings WHERE tenant_id = $1',
          [b],
        )
      ).rows[0]?.n;
      await tx.query('RESET ROLE');
      await tx.query('SET SESSION AUTHORIZATION DEFAULT');
      const viaReset = (
        await tx.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM tenant_settings WHERE tenant_id = $1',
          [b],
        )
      ).rows[0]?.n;
      return [viaGroup, viaReset];
    });
    expect(afterReset).toEqual([0, 0]);
    await expect(
      db.withTenant(a, (tx) => tx.query('ALTER TABLE tenant_settings DISABLE ROW LEVEL SECURITY')),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      db.withTenant(a, (tx) => tx.query('SET row_security = off; SELECT * FROM tenant_settings')),
    ).rejects.toBeDefined();
  });

  it('the tenant setting does not leak to the next transaction on a pooled connection', async () => {
    await db.withTenant(a, (tx) => tx.query('SELECT 1'));
    const seen = await db.withoutTenant(
      async (tx) =>
        (
          await tx.query<{ t: string | null }>(
            "SELECT current_setting('scrip.tenant_id', true) AS t",
          )
        ).rows[0]?.t,
    );
    expect(seen === null || seen === '').toBe(true);
  });

  it('every table with tenant_id has RLS enabled, forced, and a policy', async () => {
    const c = await ownerClient();
    try {
      const { rows } = await c.query<{
        table: string;
        enabled: boolean;
        forced: boolean;
        policies: number;
      }>(`
        SELECT c.relname AS table, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
               (SELECT count(*)::int FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')`);
      expect(rows.length).toBeGreaterThanOrEqual(2);
      for (const r of rows) expect(r, r.table).toMatchObject({ enabled: true, forced: true });
      for (const r of rows) expect(r.policies, r.table).toBeGreaterThan(0);
      // Tables without tenant_id must be on the short list of global tables.
      const global = await c.query<{ relname: string }>(`
        SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p')
          AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)`);
      expect(global.rows.map((r) => r.relname).sort()).toEqual(['scrip_migrations']);
    } finally {
      await c.end();
    }
  });

  it('the application role is confined; the owner connection would be refused', async () => {
    const app = await db.pool.connect();
    try {
      await expect(assertAppRoleIsConfined(app)).resolves.toBeUndefined();
    } finally {
      app.release();
    }
    const owner = new pg.Client({ connectionString: testTarget().ownerUrl });
    await owner.connect();
    try {
      await expect(assertAppRoleIsConfined(owner)).rejects.toMatchObject({
        code: 'config_invalid',
      });
    } finally {
      await owner.end();
    }
  });
});
