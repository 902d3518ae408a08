import { cpSync, mkdtempSync, rmSync, appendFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import {
  defaultMigrationsDir,
  ensureRoles,
  migrate,
  migrationStatus,
  readMigrations,
} from '../../src/db/index.js';
import { scratchDatabase } from '../db.js';

async function withOwner<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function fresh(): Promise<{ url: string; dir: string }> {
    const db = await scratchDatabase();
    cleanups.push(db.drop);
    const dir = mkdtempSync(join(tmpdir(), 'scrip-mig-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    cpSync(defaultMigrationsDir(), dir, { recursive: true });
    await withOwner(db.ownerUrl, (c) => ensureRoles(c, 'scrip_server'));
    return { url: db.ownerUrl, dir };
  }

  it('applies every migration once, recording checksums; a second run applies nothing', async () => {
    const { url, dir } = await fresh();
    const files = readMigrations(dir).map((m) => m.file);
    expect(await withOwner(url, (c) => migrate(c, dir))).toEqual(files);
    expect(await withOwner(url, (c) => migrate(c, dir))).toEqual([]);
    const rows = await withOwner(
      url,
      async (c) =>
        (
          await c.query<{ checksum: string }>(
            'SELECT checksum FROM scrip_migrations ORDER BY version',
          )
        ).rows,
    );
    expect(rows.map((r) => r.checksum)).toEqual(readMigrations(dir).map((m) => m.checksum));
    const status = await withOwner(url, (c) => migrationStatus(c, dir));
    expect(status.pending).toEqual([]);
  });

  it('refuses to start when an applied migration was edited, naming the file', async () => {
    const { url, dir } = await fresh();
    await withOwner(url, (c) => migrate(c, dir));
    appendFileSync(join(dir, '0001_foundation.sql'), '\n-- sneaky edit\n');
    await expect(withOwner(url, (c) => migrate(c, dir))).rejects.toThrow(
      /0001_foundation\.sql was edited/,
    );
  });

  it('refuses when an applied migration file disappeared', async () => {
    const { url, dir } = await fresh();
    writeFileSync(join(dir, '0999_extra.sql'), 'CREATE TABLE extra_global (id int);');
    await withOwner(url, (c) => migrate(c, dir));
    unlinkSync(join(dir, '0999_extra.sql'));
    await expect(withOwner(url, (c) => migrate(c, dir))).rejects.toThrow(
      /0999_extra\.sql is missing/,
    );
  });

  it('rolls back the whole batch when one migration fails', async () => {
    const { url, dir } = await fresh();
    writeFileSync(
      join(dir, '0998_broken.sql'),
      'CREATE TABLE half_done (id int); SELECT no_such_function();',
    );
    await expect(withOwner(url, (c) => migrate(c, dir))).rejects.toThrow(/0998_broken\.sql failed/);
    const exists = await withOwner(
      url,
      async (c) =>
        (
          await c.query(
            "SELECT to_regclass('public.tenants') AS t, to_regclass('public.half_done') AS h",
          )
        ).rows[0] as { t: unknown; h: unknown },
    );
    expect(exists).toEqual({ t: null, h: null });
  });

  it('reports pending migrations for /readyz', async () => {
    const { url, dir } = await fresh();
    await withOwner(url, (c) => migrate(c, dir));
    writeFileSync(join(dir, '0997_later.sql'), 'SELECT 1;');
    const status = await withOwner(url, (c) => migrationStatus(c, dir));
    expect(status.pending).toEqual(['0997_later.sql']);
  });

  it('two migrators at once apply each migration exactly once', async () => {
    const { url, dir } = await fresh();
    const [x, y] = await Promise.all([
      withOwner(url, (c) => migrate(c, dir)),
      withOwner(url, (c) => migrate(c, dir)),
    ]);
    expect([...x, ...y].sort()).toEqual(
      readMigrations(dir)
        .map((m) => m.file)
        .sort(),
    );
  });

  it('rejects badly named migration files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrip-mig-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
    });
    writeFileSync(join(dir, '1_bad.sql'), 'SELECT 1');
    expect(() => readMigrations(dir)).toThrow(/must look like 0001_name\.sql/);
  });
});
