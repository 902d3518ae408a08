import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { AppError } from '../core/index.js';
import { packagePath } from './package-root.js';
import type { Tx } from './transaction.js';

/**
 * Plain, numbered SQL migrations (`NNNN_name.sql`), applied in one transaction, recorded with a
 * SHA-256 checksum. An applied migration whose file changed (or vanished) stops the start,
 * naming the file: history is never rewritten, only extended.
 */
export interface MigrationFile {
  readonly version: number;
  readonly name: string;
  readonly file: string;
  readonly sql: string;
  readonly checksum: string;
}

export interface MigrationStatus {
  readonly applied: number;
  readonly pending: readonly string[];
}

const FILE_RE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
/** Serialises migrators across processes (any constant; spells "scripmig"). */
const LOCK_KEY = 0x7363726970_6d6967n & 0x7fffffffffffffffn;

export function defaultMigrationsDir(): string {
  return packagePath('src', 'db', 'migrations');
}

export function readMigrations(dir = defaultMigrationsDir()): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const match = FILE_RE.exec(file);
    if (match === null)
      throw new AppError(
        'config_invalid',
        `migration file name ${file} must look like 0001_name.sql`,
      );
    const version = Number(match[1]);
    if (seen.has(version))
      throw new AppError('config_invalid', `two migrations numbered ${String(version)}`);
    seen.add(version);
    const sql = readFileSync(join(dir, file), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    return { version, name: match[2] ?? file, file, sql, checksum };
  });
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function appliedMigrations(client: pg.ClientBase): Promise<AppliedRow[]> {
  const { rows } = await client.query<AppliedRow>(
    'SELECT version, name, checksum FROM scrip_migrations ORDER BY version',
  );
  return rows;
}

function checkHistory(
  files: readonly MigrationFile[],
  applied: readonly AppliedRow[],
): MigrationFile[] {
  const byVersion = new Map(files.map((f) => [f.version, f]));
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (file === undefined) {
      throw new AppError(
        'config_invalid',
        `applied migration ${String(row.version).padStart(4, '0')}_${row.name}.sql is missing from the migrations directory`,
      );
    }
    if (file.checksum !== row.checksum) {
      throw new AppError(
        'config_invalid',
        `migration ${file.file} was edited after it was applied (checksum mismatch); add a new migration instead`,
      );
    }
  }
  const appliedSet = new Set(applied.map((r) => r.version));
  return files.filter((f) => !appliedSet.has(f.version));
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS scrip_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Applies pending migrations as the owner role, all in one transaction. Returns their files. */
export async function migrate(client: pg.ClientBase, dir?: string): Promise<string[]> {
  const files = readMigrations(dir);
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY.toString()]);
    await client.query(CREATE_TABLE);
    await client.query('REVOKE ALL ON scrip_migrations FROM PUBLIC');
    const pending = checkHistory(files, await appliedMigrations(client));
    for (const m of pending) {
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new AppError('internal', `migration ${m.file} failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      await client.query(
        'INSERT INTO scrip_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [m.version, m.name, m.checksum],
      );
    }
    await client.query('COMMIT');
    return pending.map((m) => m.file);
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

/** Read-only check used by /readyz: applied history intact and nothing pending. */
export async function migrationStatus(client: Tx, dir?: string): Promise<MigrationStatus> {
  const files = readMigrations(dir);
  const { rows } = await client.query<AppliedRow>(
    'SELECT version, name, checksum FROM scrip_migration_history()',
  );
  const pending = checkHistory(files, rows);
  return { applied: rows.length, pending: pending.map((m) => m.file) };
}
