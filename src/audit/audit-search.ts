import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { appendAudit } from './audit-log.js';
import type { AuditActor, AuditEvent, AuditRecord } from './audit-record.js';

/**
 * Audit search for people (45 CFR 164.308(a)(1)(ii)(D) information system activity review):
 * by time range, actor, patient, action and outcome, within the searcher's tenant (row-level
 * security), newest first, keyset-paginated by sequence number. The search itself is audited
 * before any result leaves the server.
 */
export interface AuditQuery {
  readonly from?: Date;
  readonly to?: Date;
  readonly actorUserId?: string;
  readonly patientId?: string;
  /** Exact action, or a prefix ending in `.` (e.g. `auth.`). */
  readonly action?: string;
  readonly outcome?: 'success' | 'failure' | 'denied';
  /** Return records with seq below this (the previous page's `nextBefore`). */
  readonly before?: number;
  readonly limit?: number;
}

export interface AuditPage {
  readonly records: AuditRecord[];
  readonly nextBefore: number | null;
}

const MAX_LIMIT = 200;

/** Runs `query` for `searcher` in `tenantId`, recording the search (action `audit.search`). */
export async function searchAudit(
  db: Database,
  tenantId: TenantId,
  searcher: AuditActor,
  query: AuditQuery,
  clock: Clock,
  context: { requestId?: string; action?: 'audit.search' | 'audit.export' } = {},
): Promise<AuditPage> {
  const limit = Math.min(query.limit ?? 50, MAX_LIMIT);
  if (!Number.isInteger(limit) || limit < 1)
    throw new AppError('validation_failed', 'limit must be 1..200', { detail: 'limit' });
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown): void => {
    params.push(value);
    where.push(sql.replace('?', `$${String(params.length)}`));
  };
  // Row-level security already confines the rows; this equality lets the planner use the
  // (tenant_id, …) indexes of migration 0026, which the RLS predicate cannot.
  add('tenant_id = ?', tenantId);
  if (query.from !== undefined) add('time >= ?', query.from);
  if (query.to !== undefined) add('time < ?', query.to);
  if (query.actorUserId !== undefined) add('actor_user_id = ?', query.actorUserId);
  if (query.patientId !== undefined)
    add(`subjects @> ?::jsonb`, JSON.stringify([{ type: 'patient', id: query.patientId }]));
  if (query.action !== undefined) {
    if (query.action.endsWith('.')) add(`starts_with(action, ?)`, query.action);
    else add('action = ?', query.action);
  }
  if (query.outcome !== undefined) add('outcome = ?', query.outcome);
  if (query.before !== undefined) add('seq < ?', query.before);
  params.push(limit + 1);
  const sql = `SELECT record FROM audit_log WHERE ${where.join(' AND ')}
               ORDER BY seq DESC LIMIT $${String(params.length)}`;
  const recorded = (outcome: 'success' | 'failure'): AuditEvent => ({
    tenantId,
    actor: searcher,
    action: context.action ?? 'audit.search',
    outcome,
    subjects: query.patientId === undefined ? [] : [{ type: 'patient', id: query.patientId }],
    ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
    details: {
      from: query.from?.toISOString() ?? null,
      to: query.to?.toISOString() ?? null,
      actorUserId: query.actorUserId ?? null,
      action: query.action ?? null,
      outcome: query.outcome ?? null,
    },
  });
  try {
    return await db.withTenant(tenantId, async (tx) => {
      // The search runs first and the record is appended after it, in the same transaction:
      // appending takes the global append lock until commit, and a search under that lock would
      // stall every append in every tenant. The record still commits before any result leaves.
      const { rows } = await tx.query<{ record: string }>(sql, params);
      await appendAudit(tx, recorded('success'), clock);
      const records = rows.slice(0, limit).map((r) => JSON.parse(r.record) as AuditRecord);
      const last = records[records.length - 1];
      return { records, nextBefore: rows.length > limit && last !== undefined ? last.seq : null };
    });
  } catch (err) {
    // A search that failed is part of the trail too; the original error is what the caller sees.
    await db
      .withTenant(tenantId, (tx) => appendAudit(tx, recorded('failure'), clock))
      .catch(() => undefined);
    throw err;
  }
}
