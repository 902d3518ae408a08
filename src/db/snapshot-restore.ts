/**
 * Reading and restoring the snapshots written by snapshot.ts. {@link walkSnapshot} checks the
 * record grammar (header, tables with their rows and counts, sequences, end, nothing after);
 * {@link restoreSnapshot} loads a snapshot into an empty database in ONE transaction: roles,
 * migrations (through a savepoint, so they roll back with the data), FORCE RLS and user
 * triggers off, rows in the snapshot's foreign-key order, sequences, then FORCE and triggers
 * back on. Any error (including an integrity error from the decrypting stream underneath) rolls
 * everything back, leaving the database as empty as it was.
 */
import type pg from 'pg';
import { AppError } from '../core/index.js';
import { migrate } from './migrate.js';
import { ensureRoles } from './roles.js';
import {
  applyTextSettings,
  listTables,
  malformed,
  SNAPSHOT_FORMAT,
  tableColumns,
  type ColumnSpec,
  type MigrationEntry,
  type SnapshotRow,
  type SnapshotSummary,
} from './snapshot.js';

export interface SnapshotHeader {
  readonly createdAt: string;
  readonly serverVersion: string;
  readonly migrations: readonly MigrationEntry[];
}

export interface TableStart {
  readonly name: string;
  readonly columns: readonly ColumnSpec[];
}

export interface SnapshotVisitor {
  header?(header: SnapshotHeader): Promise<void>;
  table?(table: TableStart): Promise<void>;
  row?(row: SnapshotRow): Promise<void>;
  endTable?(): Promise<void>;
  sequence?(name: string, lastValue: string, isCalled: boolean): Promise<void>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function parseMigrations(v: unknown): MigrationEntry[] {
  if (!Array.isArray(v)) throw malformed('migrations');
  return v.map((m: unknown) => {
    if (!isObject(m) || !isCount(m.version) || typeof m.name !== 'string') {
      throw malformed('migration entry');
    }
    if (typeof m.checksum !== 'string') throw malformed('migration entry');
    return { version: m.version, name: m.name, checksum: m.checksum };
  });
}

function parseColumns(v: unknown): ColumnSpec[] {
  if (!Array.isArray(v)) throw malformed('columns');
  return v.map((c: unknown) => {
    if (!isObject(c) || typeof c.name !== 'string' || typeof c.type !== 'string') {
      throw malformed('column');
    }
    if (c.encoding !== 'text' && c.encoding !== 'base64') throw malformed('column encoding');
    return { name: c.name, type: c.type, encoding: c.encoding };
  });
}

/** Walks a record stream, enforcing its grammar and counts; returns the header and totals. */
export async function walkSnapshot(
  records: AsyncIterable<unknown>,
  visitor: SnapshotVisitor = {},
): Promise<{ header: SnapshotHeader; summary: SnapshotSummary }> {
  let header: SnapshotHeader | undefined;
  let table: TableStart | undefined;
  let tableRows = 0;
  let tables = 0;
  let rows = 0;
  let ended = false;
  for await (const rec of records) {
    if (ended) throw malformed('records after the end');
    if (Array.isArray(rec)) {
      if (table === undefined || rec.length !== table.columns.length) throw malformed('row');
      if (!rec.every((v: unknown) => v === null || typeof v === 'string')) throw malformed('row');
      tableRows += 1;
      await visitor.row?.(rec);
      continue;
    }
    if (!isObject(rec)) throw malformed('record');
    if (header === undefined && rec.t !== 'header') throw malformed('no header');
    if (table !== undefined && rec.t !== 'end_table') throw malformed('unterminated table');
    switch (rec.t) {
      case 'header': {
        if (header !== undefined || rec.format !== SNAPSHOT_FORMAT) throw malformed('header');
        const { createdAt, serverVersion } = rec;
        if (typeof createdAt !== 'string' || typeof serverVersion !== 'string') {
          throw malformed('header');
        }
        header = { createdAt, serverVersion, migrations: parseMigrations(rec.migrations) };
        await visitor.header?.(header);
        break;
      }
      case 'table':
        if (typeof rec.name !== 'string') throw malformed('table');
        table = { name: rec.name, columns: parseColumns(rec.columns) };
        tableRows = 0;
        await visitor.table?.(table);
        break;
      case 'end_table':
        if (table === undefined || rec.rows !== tableRows) throw malformed('row count');
        await visitor.endTable?.();
        tables += 1;
        rows += tableRows;
        table = undefined;
        break;
      case 'sequence':
        if (typeof rec.name !== 'string' || typeof rec.lastValue !== 'string') {
          throw malformed('sequence');
        }
        if (typeof rec.isCalled !== 'boolean') throw malformed('sequence');
        await visitor.sequence?.(rec.name, rec.lastValue, rec.isCalled);
        break;
      case 'end':
        if (rec.tables !== tables || rec.rows !== rows) throw malformed('totals');
        ended = true;
        break;
      default:
        throw malformed('unknown record');
    }
  }
  if (header === undefined || !ended) throw malformed('incomplete');
  return { header, summary: { tables, rows } };
}

export function sameMigrations(
  a: readonly MigrationEntry[],
  b: readonly MigrationEntry[],
): boolean {
  return (
    a.length === b.length &&
    a.every((m, i) => {
      const o = b[i];
      return o?.version === m.version && o.name === m.name && o.checksum === m.checksum;
    })
  );
}

/**
 * Lets migrate() run inside our transaction: its BEGIN/COMMIT/ROLLBACK become a savepoint.
 * Any other transaction-control statement is refused rather than silently committing ours.
 */
function nested(client: pg.ClientBase): pg.ClientBase {
  const control: Readonly<Record<string, string>> = {
    BEGIN: 'SAVEPOINT scrip_restore_migrate',
    COMMIT: 'RELEASE SAVEPOINT scrip_restore_migrate',
    ROLLBACK: 'ROLLBACK TO SAVEPOINT scrip_restore_migrate',
  };
  const query = (text: unknown, values?: unknown[]): Promise<pg.QueryResult> => {
    if (typeof text !== 'string') throw new TypeError('restore: migrate must query with SQL text');
    const mapped = control[text.trim().toUpperCase()];
    if (mapped === undefined && /^\s*(begin|start|commit|end|rollback|abort)\b/i.test(text)) {
      throw new TypeError(`restore: unexpected transaction control in migrate: ${text}`);
    }
    return client.query(mapped ?? text, values);
  };
  return new Proxy(client, {
    get: (target, prop, receiver): unknown =>
      prop === 'query' ? query : Reflect.get(target, prop, receiver),
  });
}

export interface RestoreOptions {
  readonly appUser: string;
  readonly migrationsDir?: string;
  /** Rows per INSERT. */
  readonly batchRows?: number;
  /** Last check before COMMIT (after the record stream ended); throwing rolls back. */
  readonly beforeCommit?: () => void;
}

const TRIGGER_ENABLE: Readonly<Record<string, string>> = {
  O: 'ENABLE TRIGGER',
  A: 'ENABLE ALWAYS TRIGGER',
  R: 'ENABLE REPLICA TRIGGER',
};

/**
 * Restores into an empty database as its owner. Refuses (`conflict`) a database with any row in
 * a `public` table or an applied migration, and a snapshot whose migration history differs from
 * the one just applied. Commits only after the whole record stream was consumed without error.
 */
export async function restoreSnapshot(
  client: pg.ClientBase,
  records: AsyncIterable<unknown>,
  options: RestoreOptions,
): Promise<SnapshotSummary> {
  const q = (name: string): string => `public.${client.escapeIdentifier(name)}`;
  const batchRows = options.batchRows ?? 500;
  const reforce = new Set<string>();
  const noForce = async (): Promise<void> => {
    for (const t of await listTables(client)) {
      if (!t.forced || reforce.has(t.name)) continue;
      await client.query(`ALTER TABLE ${q(t.name)} NO FORCE ROW LEVEL SECURITY`);
      reforce.add(t.name);
    }
  };
  await client.query('BEGIN');
  try {
    // Emptiness, seen without RLS (FORCE is off until commit; these locks keep writers out).
    await noForce();
    for (const t of await listTables(client)) {
      const { rows } = await client.query(`SELECT 1 FROM ${q(t.name)} LIMIT 1`);
      if (rows.length > 0) {
        throw new AppError(
          'conflict',
          `restore needs an empty database, but table ${t.name} has rows; create a new database`,
        );
      }
    }
    const before = await client.query<{ x: string }>('SELECT txid_current()::text AS x');
    await ensureRoles(client, options.appUser);
    await migrate(nested(client), options.migrationsDir);
    const after = await client.query<{ x: string }>('SELECT txid_current()::text AS x');
    if (before.rows[0]?.x !== after.rows[0]?.x) {
      throw new AppError('internal', 'restore: migrations left the restore transaction');
    }
    await noForce();
    await applyTextSettings(client);
    const triggers = await client.query<{ tbl: string; name: string; enabled: string }>(`
      SELECT c.relname AS tbl, t.tgname AS name, t.tgenabled::text AS enabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
         AND t.tgenabled <> 'D'`);
    for (const t of triggers.rows) {
      await client.query(
        `ALTER TABLE ${q(t.tbl)} DISABLE TRIGGER ${client.escapeIdentifier(t.name)}`,
      );
    }
    const targetTables = (await listTables(client)).map((t) => t.name);
    const dataTables = targetTables.filter((t) => t !== 'scrip_migrations');
    // Migrations may seed rows; the snapshot carries their current state, so it replaces them.
    if (dataTables.length > 0) await client.query(`TRUNCATE ${dataTables.map(q).join(', ')}`);
    const applied = (
      await client.query<MigrationEntry>(
        'SELECT version, name, checksum FROM scrip_migrations ORDER BY version',
      )
    ).rows;
    const seen = new Set<string>();
    let current: { name: string; insert: string | undefined } | undefined;
    let batch: SnapshotRow[] = [];
    const flush = async (): Promise<void> => {
      if (current?.insert !== undefined && batch.length > 0) {
        await client.query(current.insert, [JSON.stringify(batch)]);
      }
      batch = [];
    };
    const { summary } = await walkSnapshot(records, {
      header: async (h) => {
        if (!sameMigrations(h.migrations, applied)) {
          throw new AppError(
            'conflict',
            `the backup was taken at migration ${String(h.migrations.at(-1)?.version ?? 0)}, this Scrip applies ${String(applied.at(-1)?.version ?? 0)} (or a checksum differs); restore with the matching version`,
          );
        }
      },
      table: async (t) => {
        if (!targetTables.includes(t.name) || seen.has(t.name)) {
          throw new AppError('conflict', `the backup's table ${t.name} does not fit this schema`);
        }
        seen.add(t.name);
        const columns = await tableColumns(client, t.name);
        if (JSON.stringify(columns) !== JSON.stringify(t.columns)) {
          throw new AppError(
            'conflict',
            `the backup's columns of ${t.name} differ from the schema`,
          );
        }
        current = { name: t.name, insert: insertSql(client, t.name, columns) };
      },
      row: async (row) => {
        batch.push(row);
        if (batch.length >= batchRows) await flush();
      },
      endTable: async () => {
        await flush();
        current = undefined;
      },
      sequence: async (name, lastValue, isCalled) => {
        await client.query(
          `SELECT setval(format('public.%I', $1::text)::regclass, $2::bigint, $3::boolean)`,
          [name, lastValue, isCalled],
        );
      },
    });
    const missing = targetTables.filter((t) => !seen.has(t));
    if (missing.length > 0) {
      throw new AppError('conflict', `the backup lacks tables ${missing.join(', ')}`);
    }
    for (const t of triggers.rows) {
      const how = TRIGGER_ENABLE[t.enabled] ?? 'ENABLE TRIGGER';
      await client.query(`ALTER TABLE ${q(t.tbl)} ${how} ${client.escapeIdentifier(t.name)}`);
    }
    for (const t of reforce) await client.query(`ALTER TABLE ${q(t)} FORCE ROW LEVEL SECURITY`);
    options.beforeCommit?.();
    await client.query('COMMIT');
    return summary;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** INSERT of a JSON array of rows; scrip_migrations is rebuilt by migrate() instead. */
function insertSql(
  client: pg.ClientBase,
  table: string,
  columns: readonly ColumnSpec[],
): string | undefined {
  if (table === 'scrip_migrations' || columns.length === 0) return undefined;
  const names = columns.map((c) => client.escapeIdentifier(c.name)).join(', ');
  const values = columns
    .map((c, i) =>
      c.encoding === 'base64' ? `decode(r ->> ${i}, 'base64')` : `(r ->> ${i})::${c.type}`,
    )
    .join(', ');
  return `INSERT INTO public.${client.escapeIdentifier(table)} (${names}) OVERRIDING SYSTEM VALUE
    SELECT ${values} FROM json_array_elements($1::json) AS r`;
}
