/**
 * Versioned program records (45 CFR 164.316(b)(2)(i) retention; 164.316(b)(2)(iii) updates): a
 * change never rewrites a row. It inserts the next version and marks the previous one
 * superseded, in the caller's transaction, together with the change's audit record (45 CFR
 * 164.312(b)). The database refuses anything else (0014_compliance_evidence.sql).
 */
import { randomUUID } from 'node:crypto';
import { AppError, isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit, type AuditDetailValue } from '../audit/index.js';

/** Who makes a change: a signed-in person, the platform itself, or an operator at the CLI. */
export type ComplianceActor =
  | {
      readonly kind: 'user';
      readonly userId: string;
      readonly sessionId?: string | undefined;
      readonly requestId?: string | undefined;
    }
  | { readonly kind: 'system' }
  | { readonly kind: 'cli' };

export const SYSTEM_ACTOR: ComplianceActor = { kind: 'system' };
export const CLI_ACTOR: ComplianceActor = { kind: 'cli' };

/** The `changed_by` column and report field for an actor. */
export function actorLabel(actor: ComplianceActor): string {
  return actor.kind === 'user' ? actor.userId : actor.kind;
}

/** Columns every versioned table has, as read back. */
export interface VersionMeta {
  /** The record id, stable across versions. */
  readonly id: string;
  readonly version: number;
  /** The row id of this version. */
  readonly versionId: string;
  readonly createdAt: Date;
  readonly changedAt: Date;
  readonly changedBy: string;
  readonly changeReason: string | null;
  readonly supersededAt: Date | null;
}

export interface VersionRow {
  id: string;
  record_id: string;
  version: number;
  record_created_at: Date;
  changed_at: Date;
  changed_by: string;
  change_reason: string | null;
  superseded_at: Date | null;
}

export const META_COLUMNS =
  'id, record_id, version, record_created_at, changed_at, changed_by, change_reason, superseded_at';

export function metaOf(r: VersionRow): VersionMeta {
  return {
    id: r.record_id,
    version: r.version,
    versionId: r.id,
    createdAt: r.record_created_at,
    changedAt: r.changed_at,
    changedBy: r.changed_by,
    changeReason: r.change_reason,
    supersededAt: r.superseded_at,
  };
}

/** One versioned table: its name, its data columns (code constants, never input) and audit subject. */
export interface VersionedTable {
  readonly table: string;
  readonly columns: readonly string[];
  /** Audit subject type and action prefix, e.g. `compliance_asset` / `compliance.asset`. */
  readonly subject: string;
  readonly action: string;
  /** `date` columns, read back as YYYY-MM-DD text. */
  readonly dates?: readonly string[];
}

function selectList(spec: VersionedTable): string {
  return spec.columns
    .map((c) => (spec.dates?.includes(c) === true ? `${c}::text AS ${c}` : c))
    .join(', ');
}

/** The current version of `recordId`, locked for update, or undefined (also for a bad id). */
export async function currentRow<R extends VersionRow>(
  tx: Tx,
  spec: VersionedTable,
  recordId: string,
  lock = false,
): Promise<R | undefined> {
  if (!isUuid(recordId)) return undefined;
  const { rows } = await tx.query<R>(
    `SELECT ${META_COLUMNS}, ${selectList(spec)} FROM ${spec.table}
      WHERE record_id = $1 AND superseded_at IS NULL${lock ? ' FOR UPDATE' : ''}`,
    [recordId],
  );
  return rows[0];
}

/** Every version of `recordId`, oldest first. */
export async function historyRows<R extends VersionRow>(
  tx: Tx,
  spec: VersionedTable,
  recordId: string,
): Promise<R[]> {
  if (!isUuid(recordId)) return [];
  const { rows } = await tx.query<R>(
    `SELECT ${META_COLUMNS}, ${selectList(spec)} FROM ${spec.table}
      WHERE record_id = $1 ORDER BY version`,
    [recordId],
  );
  return rows;
}

/** Current versions of every record in the tenant's context, oldest record first. */
export async function currentRows<R extends VersionRow>(
  tx: Tx,
  spec: VersionedTable,
  where = 'true',
  params: readonly unknown[] = [],
): Promise<R[]> {
  const { rows } = await tx.query<R>(
    `SELECT ${META_COLUMNS}, ${selectList(spec)} FROM ${spec.table}
      WHERE superseded_at IS NULL AND (${where}) ORDER BY record_created_at, record_id`,
    params,
  );
  return rows;
}

export interface WriteOptions {
  readonly actor: ComplianceActor;
  readonly reason?: string | undefined;
  /** The audit verb: create, update, retire, enable, suspend, ... */
  readonly verb: string;
  /** Identifiers and codes for the audit record; never PHI. */
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
}

/**
 * Writes the next version of a record: version 1 when `prev` is undefined (a new record id is
 * minted unless `recordId` is given), otherwise `prev.version + 1` after marking `prev`
 * superseded (a concurrent writer that superseded it first gets `conflict`). Appends the audit
 * record `<action>.<verb>` in the same transaction. Returns the record id and version.
 */
export async function writeVersion(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  spec: VersionedTable,
  prev: VersionRow | undefined,
  values: Readonly<Record<string, unknown>>,
  options: WriteOptions & { readonly recordId?: string },
): Promise<{ id: string; version: number; versionId: string }> {
  const now = clock.now();
  const versionId = randomUUID();
  const recordId = prev?.record_id ?? options.recordId ?? randomUUID();
  const version = (prev?.version ?? 0) + 1;
  if (prev !== undefined) {
    const updated = await tx.query(
      `UPDATE ${spec.table} SET superseded_at = $2, superseded_by = $3
        WHERE id = $1 AND superseded_at IS NULL`,
      [prev.id, now, versionId],
    );
    if (updated.rowCount !== 1) {
      throw new AppError('conflict', 'the record was changed concurrently; reload and retry');
    }
  }
  const columns = spec.columns.filter((c) => c in values);
  if (columns.length !== spec.columns.length) {
    throw new TypeError(`writeVersion: every column of ${spec.table} needs a value`);
  }
  const placeholders = columns.map((_, i) => `$${String(i + 9)}`).join(', ');
  await tx.query(
    `INSERT INTO ${spec.table} (id, tenant_id, record_id, version, record_created_at, changed_at,
                                changed_by, change_reason, ${columns.join(', ')})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, ${placeholders})`,
    [
      versionId,
      tenantId,
      recordId,
      version,
      prev?.record_created_at ?? now,
      now,
      actorLabel(options.actor),
      options.reason ?? null,
      ...columns.map((c) => values[c]),
    ],
  );
  await auditCompliance(tx, clock, tenantId, options.actor, `${spec.action}.${options.verb}`, {
    subjects: [{ type: spec.subject, id: recordId }],
    details: { version, ...(options.details ?? {}) },
    ...(options.reason === undefined ? {} : { reason: options.reason }),
  });
  return { id: recordId, version, versionId };
}

/** An audit record of the compliance program (actions `compliance.*`). */
export async function auditCompliance(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId | null,
  actor: ComplianceActor,
  action: string,
  extra: {
    readonly subjects?: readonly { type: string; id: string }[];
    readonly details?: Readonly<Record<string, AuditDetailValue>>;
    readonly reason?: string;
    readonly outcome?: 'success' | 'failure' | 'denied';
  } = {},
): Promise<void> {
  await appendAudit(
    tx,
    {
      tenantId,
      actor:
        actor.kind === 'user'
          ? {
              kind: 'user',
              userId: actor.userId,
              ...(actor.sessionId === undefined ? {} : { sessionId: actor.sessionId }),
            }
          : { kind: actor.kind },
      action,
      outcome: extra.outcome ?? 'success',
      ...(extra.subjects === undefined ? {} : { subjects: extra.subjects }),
      ...(extra.details === undefined ? {} : { details: extra.details }),
      ...(extra.reason === undefined ? {} : { reason: extra.reason.slice(0, 1000) }),
      ...(actor.kind === 'user' && actor.requestId !== undefined
        ? { requestId: actor.requestId }
        : {}),
    },
    clock,
  );
}

/** ISO date (YYYY-MM-DD, UTC) of a moment. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Validates a YYYY-MM-DD calendar date; `validation_failed` naming `field` otherwise. */
export function checkDate(value: string, field: string): string {
  const ok = DATE_RE.test(value) && new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  if (!ok) throw new AppError('validation_failed', `${field} is not a date`, { detail: field });
  return value;
}

/** Trims and bounds a text field; `validation_failed` naming `field` when out of bounds. */
export function text(value: string, field: string, min: number, max: number): string {
  const v = value.trim();
  if (v.length < min || v.length > max) {
    throw new AppError('validation_failed', `${field} must be ${min}..${max} characters`, {
      detail: field,
    });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(v)) {
    throw new AppError('validation_failed', `${field} contains a control character`, {
      detail: field,
    });
  }
  return v;
}
