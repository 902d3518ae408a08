/**
 * Logical snapshot of every table in schema `public` (scrip_migrations included), as a stream of
 * length-prefixed JSON records (u32 big-endian byte length ‖ UTF-8 JSON):
 * `header` (format, migrations), then per table in foreign-key order a `table` record (columns
 * and their types), one JSON array per row, an `end_table` record (row count); then `sequence`
 * records and an `end` record with totals. Values travel as PostgreSQL's own text form (exactly
 * what the type's input function reads back, as in pg_dump's COPY) with fixed output settings
 * (UTC, ISO dates, `extra_float_digits = 3`); bytea as base64; NULL as JSON null. Generated
 * columns are not exported (PostgreSQL recomputes them); identity columns are restored with
 * OVERRIDING SYSTEM VALUE and sequences are set back to their exported state.
 *
 * Row-level security: FORCE RLS applies to the owner too, so export opts in to the owner-only
 * `backup_read` policies of migration 0004 (`scrip.backup_reader`), and restore, which owns an
 * empty database inside one transaction, switches FORCE off and back on before committing.
 * Restore also disables user triggers while loading (as pg_restore --disable-triggers does), so
 * rows come back exactly as exported. Snapshot decoding lives in snapshot-restore.ts.
 */
import type pg from 'pg';
import { AppError } from '../core/index.js';

export const SNAPSHOT_FORMAT = 1;
/** Largest record accepted when reading (a row's JSON); PostgreSQL's field limit is 1 GiB. */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;

export interface MigrationEntry {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
}

export interface ColumnSpec {
  readonly name: string;
  /** `format_type()` of the column, e.g. `timestamp with time zone`, `numeric(10,2)`. */
  readonly type: string;
  readonly encoding: 'text' | 'base64';
}

export type SnapshotRecord =
  | {
      readonly t: 'header';
      readonly format: number;
      readonly createdAt: string;
      readonly serverVersion: string;
      readonly migrations: readonly MigrationEntry[];
    }
  | { readonly t: 'table'; readonly name: string; readonly columns: readonly ColumnSpec[] }
  | { readonly t: 'end_table'; readonly rows: number }
  | {
      readonly t: 'sequence';
      readonly name: string;
      readonly lastValue: string;
      readonly isCalled: boolean;
    }
  | { readonly t: 'end'; readonly tables: number; readonly rows: number };

export type SnapshotRow = readonly (string | null)[];

export interface SnapshotSummary {
  readonly tables: number;
  readonly rows: number;
}

/** Frames one record: u32 BE length ‖ JSON. */
export function encodeRecord(value: SnapshotRecord | SnapshotRow): Buffer {
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(json.length);
  return Buffer.concat([head, json]);
}

/** Splits a byte stream into parsed records; a torn or malformed record is `integrity_error`. */
export async function* readRecords(source: AsyncIterable<Buffer>): AsyncGenerator {
  let parts: Buffer[] = [];
  let size = 0;
  let need = 4; // bytes to buffer before the next record can be parsed (avoids O(n²) concat)
  for await (const chunk of source) {
    parts.push(chunk);
    size += chunk.length;
    if (size < need) continue;
    let buf = parts.length === 1 ? chunk : Buffer.concat(parts);
    for (;;) {
      need = 4;
      if (buf.length < 4) break;
      const length = buf.readUInt32BE(0);
      if (length > MAX_RECORD_BYTES) throw malformed('record too large');
      need = 4 + length;
      if (buf.length < need) break;
      const text = buf.subarray(4, need).toString('utf8');
      buf = buf.subarray(need);
      try {
        yield JSON.parse(text) as unknown;
      } catch (err) {
        if (err instanceof SyntaxError) throw malformed('record is not JSON');
        throw err;
      }
    }
    parts = buf.length > 0 ? [buf] : [];
    size = buf.length;
  }
  if (size > 0) throw malformed('torn record at the end');
}

export function malformed(why: string): AppError {
  return new AppError('integrity_error', `snapshot is malformed: ${why}`);
}

export interface TableInfo {
  readonly name: string;
  readonly forced: boolean;
}

/** Ordinary and partitioned tables of `public` (partitions travel through their parent). */
export async function listTables(client: pg.ClientBase): Promise<TableInfo[]> {
  const { rows } = await client.query<{ name: string; forced: boolean }>(`
    SELECT c.relname AS name, c.relforcerowsecurity AS forced FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
     ORDER BY c.relname`);
  return rows;
}

/** The table names ordered so that every referenced table precedes its referrers (Kahn). */
export async function dependencyOrder(client: pg.ClientBase, tables: string[]): Promise<string[]> {
  const { rows } = await client.query<{ child: string; parent: string }>(`
    SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k
      JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
     WHERE k.contype = 'f' AND c.relnamespace = 'public'::regnamespace
       AND p.relnamespace = 'public'::regnamespace AND k.conrelid <> k.confrelid`);
  const parents = new Map(tables.map((t) => [t, new Set<string>()]));
  for (const { child, parent } of rows) {
    if (parents.has(parent)) parents.get(child)?.add(parent);
  }
  const order: string[] = [];
  const done = new Set<string>();
  while (order.length < tables.length) {
    const ready = tables.filter(
      (t) => !done.has(t) && [...(parents.get(t) ?? [])].every((p) => done.has(p)),
    );
    if (ready.length === 0) {
      const stuck = tables.filter((t) => !done.has(t)).join(', ');
      throw new AppError('internal', `foreign keys form a cycle among ${stuck}; cannot order them`);
    }
    for (const t of ready) {
      done.add(t);
      order.push(t);
    }
  }
  return order;
}

/** Columns a restore must supply: all but dropped and GENERATED ALWAYS AS (...) STORED ones. */
export async function tableColumns(client: pg.ClientBase, table: string): Promise<ColumnSpec[]> {
  const { rows } = await client.query<{ name: string; type: string; bytea: boolean }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.atttypid = 'bytea'::regtype AS bytea
       FROM pg_attribute a
      WHERE a.attrelid = format('public.%I', $1::text)::regclass AND a.attnum > 0
        AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attnum`,
    [table],
  );
  return rows.map((r) => ({ name: r.name, type: r.type, encoding: r.bytea ? 'base64' : 'text' }));
}

async function primaryKey(client: pg.ClientBase, table: string): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i
       JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = format('public.%I', $1::text)::regclass AND i.indisprimary
      ORDER BY k.n`,
    [table],
  );
  return rows.map((r) => r.name);
}

/**
 * Tables whose rows this role could not all read: FORCE RLS (or not its own table) without a
 * permissive `scrip_backup_reader()` SELECT policy for it, or with a restrictive policy that
 * ignores it. Empty for superusers and BYPASSRLS roles, which RLS never filters.
 */
async function hiddenTables(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(`
    SELECT c.relname AS name FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND c.relrowsecurity AND NOT c.relispartition
       AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = current_user
                         AND (r.rolsuper OR r.rolbypassrls))
       AND (c.relforcerowsecurity OR NOT pg_has_role(current_user, c.relowner, 'USAGE'))
       AND (NOT EXISTS (
              SELECT 1 FROM pg_policy p
               WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd IN ('r', '*')
                 AND pg_get_expr(p.polqual, p.polrelid) LIKE '%scrip_backup_reader()%'
                 AND (p.polroles = '{0}' OR EXISTS (
                   SELECT 1 FROM unnest(p.polroles) AS ro(oid)
                    WHERE pg_has_role(current_user, ro.oid, 'USAGE'))))
            OR EXISTS (
              SELECT 1 FROM pg_policy p
               WHERE p.polrelid = c.oid AND NOT p.polpermissive AND p.polcmd IN ('r', '*')
                 AND pg_get_expr(p.polqual, p.polrelid) NOT LIKE '%scrip_backup_reader()%'))
     ORDER BY c.relname`);
  return rows.map((r) => r.name);
}

/** Output settings that make every type's text form exact and independent of the server. */
export const TEXT_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, YMD',
  IntervalStyle: 'postgres',
  extra_float_digits: '3',
  bytea_output: 'hex',
};

export async function applyTextSettings(client: pg.ClientBase): Promise<void> {
  for (const [name, value] of Object.entries(TEXT_SETTINGS)) {
    await client.query('SELECT set_config($1, $2, true)', [name, value]);
  }
}

export interface ExportOptions {
  /** Rows per FETCH from the server-side cursor (memory stays bounded by one batch). */
  readonly batchSize?: number;
  readonly onDone?: (summary: SnapshotSummary) => void;
}

/**
 * Streams a consistent snapshot as the owner: one REPEATABLE READ READ ONLY transaction (a
 * single MVCC snapshot, PostgreSQL docs §13.2.2) with ACCESS SHARE locks against concurrent DDL,
 * rows fetched through a server-side cursor. The transaction is rolled back if the consumer
 * stops early, committed (read-only) at the end.
 */
export async function* exportSnapshot(
  client: pg.ClientBase,
  options: ExportOptions = {},
): AsyncGenerator<Buffer> {
  const batchSize = options.batchSize ?? 1000;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let open = true;
  try {
    await applyTextSettings(client);
    await client.query("SELECT set_config('scrip.backup_reader', 'on', true)");
    const tables = (await listTables(client)).map((t) => t.name);
    const hidden = await hiddenTables(client);
    if (hidden.length > 0) {
      throw new AppError(
        'config_invalid',
        `row-level security would hide rows of ${hidden.join(', ')} from the backup; add CREATE POLICY backup_read ON <table> FOR SELECT TO CURRENT_USER USING (scrip_backup_reader()) in a migration (see 0004_backup.sql)`,
      );
    }
    if (tables.length > 0) {
      const list = tables.map((t) => `public.${client.escapeIdentifier(t)}`).join(', ');
      await client.query(`LOCK TABLE ${list} IN ACCESS SHARE MODE`);
    }
    const meta = await client.query<{ created: string; version: string }>(
      `SELECT now()::text AS created, current_setting('server_version') AS version`,
    );
    const migrations = tables.includes('scrip_migrations')
      ? (
          await client.query<MigrationEntry>(
            'SELECT version, name, checksum FROM scrip_migrations ORDER BY version',
          )
        ).rows
      : [];
    yield encodeRecord({
      t: 'header',
      format: SNAPSHOT_FORMAT,
      createdAt: meta.rows[0]?.created ?? '',
      serverVersion: meta.rows[0]?.version ?? '',
      migrations,
    });
    let total = 0;
    for (const table of await dependencyOrder(client, tables)) {
      const columns = await tableColumns(client, table);
      yield encodeRecord({ t: 'table', name: table, columns });
      const select = columns
        .map((c) => {
          const id = client.escapeIdentifier(c.name);
          return c.encoding === 'base64' ? `encode(${id}, 'base64')` : `${id}::text`;
        })
        .join(', ');
      const pk = (await primaryKey(client, table)).map((c) => client.escapeIdentifier(c));
      const orderBy = pk.length > 0 ? ` ORDER BY ${pk.join(', ')}` : '';
      await client.query(
        `DECLARE scrip_backup NO SCROLL CURSOR FOR SELECT ${select || 'NULL'} FROM public.${client.escapeIdentifier(table)}${orderBy}`,
      );
      let rows = 0;
      for (;;) {
        const batch = await client.query<(string | null)[]>({
          text: `FETCH ${batchSize} FROM scrip_backup`,
          rowMode: 'array',
        });
        if (batch.rows.length > 0) {
          yield Buffer.concat(
            batch.rows.map((row) => encodeRecord(columns.length === 0 ? [] : row)),
          );
        }
        rows += batch.rows.length;
        if (batch.rows.length < batchSize) break;
      }
      await client.query('CLOSE scrip_backup');
      yield encodeRecord({ t: 'end_table', rows });
      total += rows;
    }
    const sequences = await client.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class
        WHERE relnamespace = 'public'::regnamespace AND relkind = 'S' ORDER BY relname`,
    );
    for (const { name } of sequences.rows) {
      const state = await client.query<{ last: string; called: boolean }>(
        `SELECT last_value::text AS last, is_called AS called FROM public.${client.escapeIdentifier(name)}`,
      );
      const s = state.rows[0];
      if (s !== undefined) {
        yield encodeRecord({ t: 'sequence', name, lastValue: s.last, isCalled: s.called });
      }
    }
    yield encodeRecord({ t: 'end', tables: tables.length, rows: total });
    await client.query('COMMIT');
    open = false;
    options.onDone?.({ tables: tables.length, rows: total });
  } finally {
    if (open) await client.query('ROLLBACK').catch(() => undefined);
  }
}
