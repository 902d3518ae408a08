/**
 * Reading the audit stream for monitoring: every tenant's records in seq order through the audit
 * domain's SECURITY DEFINER `audit_records_range` (records carry no PHI, by the audit contract),
 * parsed back from their canonical bytes; and switching the tenant context inside one transaction.
 */
import { AppError } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { AuditRecord } from '../audit/index.js';

/** Parses a stored record's canonical text; a malformed record is `AppError('integrity_error')`. */
export function parseAuditRecord(text: string): AuditRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AppError('integrity_error', 'audit record is not JSON', { cause: err });
  }
  const r = value as Partial<AuditRecord> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    r.v !== 1 ||
    typeof r.seq !== 'number' ||
    typeof r.time !== 'string' ||
    typeof r.action !== 'string' ||
    typeof r.actor !== 'object' ||
    !Array.isArray(r.subjects) ||
    typeof r.source !== 'object' ||
    typeof r.details !== 'object'
  ) {
    throw new AppError('integrity_error', 'audit record does not have the expected shape');
  }
  return r as AuditRecord;
}

/** Number of records by the highest seq (0 when empty). */
export async function auditHead(tx: Tx): Promise<number> {
  const { rows } = await tx.query<{ n: string }>('SELECT audit_head() AS n');
  return Number(rows[0]?.n ?? 0);
}

/** Records with from ≤ seq < to (to − from ≤ 10 000), all tenants, by seq. */
export async function readAuditRange(tx: Tx, from: number, to: number): Promise<AuditRecord[]> {
  if (to <= from) return [];
  const { rows } = await tx.query<{ seq: string; record: string }>(
    'SELECT seq, record FROM audit_records_range($1, $2)',
    [from, to],
  );
  return rows.map((row) => {
    const record = parseAuditRecord(row.record);
    if (record.seq !== Number(row.seq)) {
      throw new AppError('integrity_error', `audit record ${row.seq} carries another seq`);
    }
    return record;
  });
}

/**
 * Puts `tx` in the context of `tenantId` (`null`: no tenant, platform rows) until changed again
 * or the transaction ends (set_config is_local), so one transaction can write several tenants'
 * rows under row-level security.
 */
export async function useTenantContext(tx: Tx, tenantId: string | null): Promise<void> {
  await tx.query("SELECT set_config('scrip.tenant_id', $1, true)", [tenantId ?? '']);
}
