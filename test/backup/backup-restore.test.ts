import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupCommand, restoreCommand } from '../../src/cli/backup.command.js';
import { asTenantId } from '../../src/core/index.js';
import { createBackupDecryptor } from '../../src/crypto/backup.js';
import { LocalKeyProvider } from '../../src/crypto/local-key-provider.js';
import {
  defaultMigrationsDir,
  ensureRoles,
  migrate,
  openAppDatabase,
  readMigrations,
} from '../../src/db/index.js';
import { readRecords } from '../../src/db/snapshot.js';
import { restoreSnapshot } from '../../src/db/snapshot-restore.js';
import { scratchDatabase, testTarget } from '../db.js';

const FIXTURE = `
CREATE TABLE backup_fixture (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id uuid NOT NULL REFERENCES tenants (id),
  parent_id bigint REFERENCES backup_fixture (id),
  b bytea, n numeric, f float8, r real, ts timestamptz, d date, iv interval, arr text[],
  j json, jb jsonb, t text, g text GENERATED ALWAYS AS (upper(t)) STORED, u uuid, ok boolean,
  touched text
);
ALTER TABLE backup_fixture ENABLE ROW LEVEL SECURITY;
ALTER TABLE backup_fixture FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON backup_fixture
  USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant());
CREATE POLICY backup_read ON backup_fixture FOR SELECT TO CURRENT_USER USING (scrip_backup_reader());
CREATE FUNCTION backup_fixture_refuse() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'append-only'; END $$;
CREATE TRIGGER no_change BEFORE UPDATE OR DELETE ON backup_fixture
  FOR EACH ROW EXECUTE FUNCTION backup_fixture_refuse();
CREATE FUNCTION backup_fixture_stamp() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN NEW.touched := coalesce(NEW.touched, '') || '+'; RETURN NEW; END $$;
CREATE TRIGGER stamp BEFORE INSERT ON backup_fixture
  FOR EACH ROW EXECUTE FUNCTION backup_fixture_stamp();
CREATE SEQUENCE backup_fixture_counter;
CREATE TABLE global_codes (code text PRIMARY KEY, label text);
`;

const appUser = testTarget().appUser;

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function migrated(dir?: string): Promise<Awaited<ReturnType<typeof scratchDatabase>>> {
  const db = await scratchDatabase();
  await withClient(db.ownerUrl, async (c) => {
    await ensureRoles(c, appUser);
    await migrate(c, dir);
  });
  return db;
}

/** Inserts as the owner, which FORCE RLS confines to the tenant set for the transaction. */
async function asTenant(url: string, tenant: string, fn: (c: pg.Client) => Promise<void>) {
  await withClient(url, async (c) => {
    await c.query('BEGIN');
    await c.query("SELECT set_config('scrip.tenant_id', $1, true)", [tenant]);
    await fn(c);
    await c.query('COMMIT');
  });
}

async function seedTenants(url: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const id = randomUUID();
    ids.push(id);
    await asTenant(url, id, async (c) => {
      await c.query('INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)', [
        id,
        `Clinic ${i} "ü" \\ ✓`,
        '2024-02-29 23:59:59.123456+00',
      ]);
      for (let k = 0; k < 25; k += 1) {
        await c.query('INSERT INTO tenant_settings (tenant_id, key, value) VALUES ($1, $2, $3)', [
          id,
          `k.${i}_${k}`,
          `{"n": 12345678901234567890.5, "s": ${JSON.stringify(`é\n"${k}"`)}, "a": [null, true, ${k / 3}]}`,
        ]);
      }
    });
  }
  return ids;
}

/** Everything a restore must reproduce, read with the owner's backup opt-in. */
async function dumpAll(url: string): Promise<Record<string, unknown>> {
  return withClient(url, async (c) => {
    await c.query('BEGIN');
    await c.query("SELECT set_config('scrip.backup_reader', 'on', true)");
    const tables = await c.query<{ name: string; rls: boolean; force: boolean }>(
      `SELECT relname AS name, relrowsecurity AS rls, relforcerowsecurity AS force FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind = 'r' ORDER BY relname`,
    );
    const out: Record<string, unknown> = { tables: tables.rows };
    for (const { name } of tables.rows) {
      if (name === 'scrip_migrations') continue;
      const ident = c.escapeIdentifier(name);
      const rows = await c.query<{ r: string }>(`SELECT t::text AS r FROM ${ident} t ORDER BY 1`);
      out[name] = rows.rows.map((r) => r.r);
    }
    const seqs = await c.query(
      `SELECT s.relname, (pg_sequence_last_value(s.oid))::text AS last FROM pg_class s
        WHERE s.relnamespace = 'public'::regnamespace AND s.relkind = 'S' ORDER BY 1`,
    );
    out.sequences = seqs.rows;
    const triggers = await c.query(
      `SELECT tgname, tgenabled::text FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1`,
    );
    out.triggers = triggers.rows;
    out.migrations = (await c.query('SELECT version, name, checksum FROM scrip_migrations')).rows;
    await c.query('ROLLBACK');
    return out;
  });
}

async function publicTables(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_class WHERE relnamespace = 'public'::regnamespace`,
    );
    return rows[0]?.n ?? -1;
  });
}

describe('scrip backup / scrip restore', () => {
  let dir: string;
  let keys: LocalKeyProvider;
  let source: Awaited<ReturnType<typeof scratchDatabase>>;
  let backupFile: string;
  let tenants: string[];
  const drops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'scrip-backup-'));
    keys = await LocalKeyProvider.open({ keyDir: join(dir, 'keys') });
    source = await migrated();
    drops.push(source.drop);
    tenants = await seedTenants(source.ownerUrl, 3);
    backupFile = join(dir, 'scrip.backup');
    const result = await backupCommand(source.ownerUrl, keys, backupFile, { chunkSize: 256 });
    // 3 tenants, 75 settings, and scrip_migrations' rows
    expect(result).toMatchObject({ rows: 78 + readMigrations().length, kekVersion: 1 });
  });
  afterAll(async () => {
    for (const drop of drops) await drop();
    await keys.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function emptyTarget(): Promise<Awaited<ReturnType<typeof scratchDatabase>>> {
    const db = await scratchDatabase();
    drops.push(db.drop);
    return db;
  }

  it('writes a 0600 file and never overwrites one', async () => {
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
    await expect(backupCommand(source.ownerUrl, keys, backupFile)).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('restores every row of every tenant into a fresh database, with RLS intact', async () => {
    const target = await emptyTarget();
    const result = await restoreCommand(target.ownerUrl, appUser, keys, backupFile);
    expect(result.rows).toBe(78 + readMigrations().length);
    expect(await dumpAll(target.ownerUrl)).toEqual(await dumpAll(source.ownerUrl));
    const app = await openAppDatabase(
      { ...testTarget(), ownerUrl: target.ownerUrl, appUrl: target.appUrl },
      { max: 1, statementTimeoutMs: 10_000 },
    );
    try {
      const seen = await app.withTenant(asTenantId(tenants[1]!), async (tx) => {
        const t = await tx.query<{ id: string }>('SELECT id FROM tenants');
        const s = await tx.query('SELECT 1 FROM tenant_settings');
        return { ids: t.rows.map((r) => r.id), settings: s.rowCount };
      });
      expect(seen).toEqual({ ids: [tenants[1]], settings: 25 });
      const none = await app.withoutTenant(
        async (tx) => (await tx.query('SELECT 1 FROM tenants')).rowCount,
      );
      expect(none).toBe(0);
    } finally {
      await app.close();
    }
  });

  it('round-trips bytea, numeric, floats, timestamps, json, arrays, identity, generated and sequences', async () => {
    const migrations = mkdtempSync(join(dir, 'migrations-'));
    cpSync(defaultMigrationsDir(), migrations, { recursive: true });
    writeFileSync(join(migrations, '9000_backup_fixture.sql'), FIXTURE);
    const src = await migrated(migrations);
    drops.push(src.drop);
    const [tenant] = await seedTenants(src.ownerUrl, 1);
    await asTenant(src.ownerUrl, tenant!, async (c) => {
      const values = [
        [randomBytes(300), '123456789012345678901234567890.123456789', 0.1, 3.4028235e38],
        [Buffer.alloc(0), 'NaN', 5e-324, -0],
      ];
      for (const [b, n, f, r] of values) {
        await c.query(
          `INSERT INTO backup_fixture (tenant_id, parent_id, b, n, f, r, ts, d, iv, arr, j, jb, t, u, ok)
           VALUES ($1, (SELECT min(id) FROM backup_fixture), $2, $3, $4, $5,
                   '2024-02-29 23:59:59.999999+05:30', 'infinity', '1 year 2 mons 3 days 04:05:06.789',
                   ARRAY['a', NULL, 'quo"te', 'back\\slash', ''], '{"a":1,  "a":2, "b":[1, 2.50]}',
                   '{"big": 12345678901234567890.123, "s": "é\\n", "x": [null, true]}',
                   E'line1\\nline2\\t''"\\\\ ✓ 𝄞', gen_random_uuid(), NULL)`,
          [tenant, b, n, f, r],
        );
      }
      await c.query(`INSERT INTO backup_fixture (tenant_id, f, t) VALUES ($1, 'NaN', NULL)`, [
        tenant,
      ]);
      await c.query(`SELECT nextval('backup_fixture_counter') FROM generate_series(1, 7)`);
      await c.query(`INSERT INTO global_codes VALUES ('x', NULL), ('y', 'why')`);
    });
    const file = join(dir, 'fixture.backup');
    await backupCommand(src.ownerUrl, keys, file, { chunkSize: 64 });
    const target = await emptyTarget();
    await restoreCommand(target.ownerUrl, appUser, keys, file, { migrationsDir: migrations });
    const restored = await dumpAll(target.ownerUrl);
    expect(restored).toEqual(await dumpAll(src.ownerUrl));
    expect(JSON.stringify(restored.backup_fixture)).not.toContain('++'); // triggers were off
    await asTenant(target.ownerUrl, tenant!, async (c) => {
      await expect(c.query('DELETE FROM backup_fixture')).rejects.toThrow(/append-only/);
    });
    await asTenant(target.ownerUrl, tenant!, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `INSERT INTO backup_fixture (tenant_id) VALUES ($1) RETURNING id::text`,
        [tenant],
      );
      expect(rows[0]?.id).toBe('4'); // identity continues after the restored rows
    });
  });

  it.each([
    ['magic', () => 0],
    ['wrapped key in the header', () => 30],
    ['first chunk', (n: number) => n - n + 120],
    ['middle', (n: number) => Math.floor(n / 2)],
    ['last chunk', (n: number) => n - 20],
    ['final tag', (n: number) => n - 1],
  ])('refuses a flipped byte (%s) and leaves the database empty', async (_what, at) => {
    const bytes = readFileSync(backupFile);
    const offset = at(bytes.length);
    bytes[offset] = (bytes[offset] ?? 0) ^ 0x10;
    const bad = join(dir, `flip-${offset}.backup`);
    writeFileSync(bad, bytes);
    const target = await emptyTarget();
    await expect(restoreCommand(target.ownerUrl, appUser, keys, bad)).rejects.toMatchObject({
      code: 'integrity_error',
    });
    expect(await publicTables(target.ownerUrl)).toBe(0);
  });

  it('refuses a truncated file and a file under another KEK', async () => {
    const bytes = readFileSync(backupFile);
    const cut = join(dir, 'cut.backup');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 57));
    const target = await emptyTarget();
    await expect(restoreCommand(target.ownerUrl, appUser, keys, cut)).rejects.toMatchObject({
      code: 'integrity_error',
    });
    const other = await LocalKeyProvider.open({ keyDir: join(dir, 'other-keys') });
    await expect(restoreCommand(target.ownerUrl, appUser, other, backupFile)).rejects.toMatchObject(
      { code: 'integrity_error' },
    );
    await other.close();
    expect(await publicTables(target.ownerUrl)).toBe(0);
  });

  it('refuses a database that has rows or applied migrations', async () => {
    const before = await dumpAll(source.ownerUrl);
    await expect(restoreCommand(source.ownerUrl, appUser, keys, backupFile)).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(await dumpAll(source.ownerUrl)).toEqual(before);
    const bare = await migrated();
    drops.push(bare.drop);
    await expect(restoreCommand(bare.ownerUrl, appUser, keys, backupFile)).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('rolls back everything, migrations included, when the stream fails mid-restore', async () => {
    const plain: Buffer[] = [];
    for await (const chunk of Readable.from([readFileSync(backupFile)]).pipe(
      createBackupDecryptor(keys),
    )) {
      plain.push(chunk as Buffer);
    }
    async function* failing(): AsyncGenerator {
      let n = 0;
      for await (const rec of readRecords(Readable.from(plain))) {
        if ((n += 1) === 40) throw new Error('disk went away');
        yield rec;
      }
    }
    const target = await emptyTarget();
    await withClient(target.ownerUrl, async (c) => {
      await expect(restoreSnapshot(c, failing(), { appUser })).rejects.toThrow('disk went away');
    });
    expect(await publicTables(target.ownerUrl)).toBe(0);
  });

  it('refuses to back up a FORCE RLS table that lacks the backup_read policy', async () => {
    const db = await migrated();
    drops.push(db.drop);
    const superuser = await withClient(db.ownerUrl, async (c) => {
      await c.query(`CREATE TABLE hidden (tenant_id uuid NOT NULL REFERENCES tenants (id))`);
      await c.query('ALTER TABLE hidden ENABLE ROW LEVEL SECURITY');
      await c.query('ALTER TABLE hidden FORCE ROW LEVEL SECURITY');
      await c.query(`CREATE POLICY t ON hidden USING (tenant_id = scrip_current_tenant())`);
      const { rows } = await c.query<{ su: boolean }>(
        'SELECT rolsuper OR rolbypassrls AS su FROM pg_roles WHERE rolname = current_user',
      );
      return rows[0]?.su === true;
    });
    const attempt = backupCommand(db.ownerUrl, keys, join(dir, 'hidden.backup'));
    // A superuser (DATABASE_URL=postgres://postgres@...) is never filtered by RLS.
    if (superuser) await expect(attempt).resolves.toMatchObject({ kekVersion: 1 });
    else await expect(attempt).rejects.toMatchObject({ code: 'config_invalid' });
  });
});
