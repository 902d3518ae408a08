/**
 * Stored alerts (45 CFR 164.308(a)(1)(ii)(D), 164.308(a)(6)(ii) response and reporting):
 * deduplicated on (tenant, rule + subject + time bucket), acknowledged or closed by a person, each
 * decision audited (45 CFR 164.312(b)) in the transaction that records it.
 */
import { AppError, isUuid, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit, type AuditDetailValue } from '../audit/index.js';
import { ALERT_ACKNOWLEDGE, ALERT_CLOSE } from './actions.js';
import type { AlertCandidate } from './evaluate.js';
import type { RuleId, Severity } from './rules.js';
import type { AlertNotice } from './sinks.js';

export type AlertStatus = 'open' | 'acknowledged' | 'closed';

export interface Alert {
  readonly id: string;
  readonly tenantId: string | null;
  readonly rule: RuleId;
  readonly severity: Severity;
  readonly dedupKey: string;
  readonly subject: string | null;
  readonly details: Readonly<Record<string, AuditDetailValue>>;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** How many triggering records were merged into this alert. */
  readonly count: number;
  readonly status: AlertStatus;
  readonly acknowledgedBy: string | null;
  readonly acknowledgedAt: Date | null;
  readonly note: string | null;
  readonly closedBy: string | null;
  readonly closedAt: Date | null;
}

interface AlertDb {
  id: string;
  tenant_id: string | null;
  rule: RuleId;
  severity: Severity;
  dedup_key: string;
  subject: string | null;
  details: Record<string, AuditDetailValue>;
  first_seen: Date;
  last_seen: Date;
  first_seq: string;
  last_seq: string;
  count: number;
  status: AlertStatus;
  acknowledged_by: string | null;
  acknowledged_at: Date | null;
  note: string | null;
  closed_by: string | null;
  closed_at: Date | null;
}

const COLUMNS =
  'id, tenant_id, rule, severity, dedup_key, subject, details, first_seen, last_seen, first_seq, last_seq, count, status, acknowledged_by, acknowledged_at, note, closed_by, closed_at';

function toAlert(r: AlertDb): Alert {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    rule: r.rule,
    severity: r.severity,
    dedupKey: r.dedup_key,
    subject: r.subject,
    details: r.details,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    firstSeq: Number(r.first_seq),
    lastSeq: Number(r.last_seq),
    count: r.count,
    status: r.status,
    acknowledgedBy: r.acknowledged_by,
    acknowledgedAt: r.acknowledged_at,
    note: r.note,
    closedBy: r.closed_by,
    closedAt: r.closed_at,
  };
}

/** What a sink may see of an alert: identifiers, codes and counts. */
export function noticeOf(alert: Alert): AlertNotice {
  return {
    alertId: alert.id,
    tenantId: alert.tenantId,
    rule: alert.rule,
    severity: alert.severity,
    subject: alert.subject,
    count: alert.count,
    firstSeen: alert.firstSeen.toISOString(),
    lastSeen: alert.lastSeen.toISOString(),
  };
}

/**
 * Records `c` in the context `tx` is in (which must be `c.tenantId`'s): a new open alert, or, for
 * a dedup key already stored, one more occurrence (count, last_seen, latest details).
 */
export async function upsertAlert(
  tx: Tx,
  c: AlertCandidate,
  random: Random,
): Promise<{ alert: Alert; created: boolean }> {
  const { rows } = await tx.query<AlertDb & { created: boolean }>(
    `INSERT INTO alerts (id, tenant_id, rule, severity, dedup_key, subject, details, first_seen,
       last_seen, first_seq, last_seq, count, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $9, 1, 'open')
     ON CONFLICT (tenant_id, dedup_key) DO UPDATE
       SET count = alerts.count + 1,
           last_seen = GREATEST(alerts.last_seen, EXCLUDED.last_seen),
           last_seq = GREATEST(alerts.last_seq, EXCLUDED.last_seq),
           details = EXCLUDED.details
     RETURNING ${COLUMNS}, (xmax = 0) AS created`,
    [
      random.uuid(),
      c.tenantId,
      c.rule,
      c.severity,
      c.dedupKey,
      c.subject,
      JSON.stringify(c.details),
      c.at,
      c.seq,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new AppError('internal', 'alert upsert returned no row');
  return { alert: toAlert(row), created: row.created };
}

/**
 * Alerts of `tenantId` opened by one of the records `seqs` (first_seq), whatever raised them: the
 * detector, or a domain in the record's own transaction (immediate-alert.ts). `tx` must be in
 * that tenant's context.
 */
export async function alertsOpenedBy(
  tx: Tx,
  tenantId: string | null,
  seqs: readonly number[],
): Promise<Alert[]> {
  if (seqs.length === 0) return [];
  const { rows } = await tx.query<AlertDb>(
    `SELECT ${COLUMNS} FROM alerts
      WHERE tenant_id IS NOT DISTINCT FROM $1 AND first_seq = ANY($2::bigint[])
      ORDER BY first_seq, id`,
    [tenantId, seqs],
  );
  return rows.map(toAlert);
}

export interface ListAlertsOptions {
  readonly status?: AlertStatus;
  readonly rule?: RuleId;
  readonly limit?: number;
}

function run<T>(db: Database, tenantId: TenantId | null, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return tenantId === null ? db.withoutTenant(fn) : db.withTenant(tenantId, fn);
}

/** Alerts of a tenant (or the platform's, `null`), newest activity first. */
export async function listAlerts(
  db: Database,
  tenantId: TenantId | null,
  options: ListAlertsOptions = {},
): Promise<Alert[]> {
  return run(db, tenantId, async (tx) => {
    const { rows } = await tx.query<AlertDb>(
      `SELECT ${COLUMNS} FROM alerts
        WHERE tenant_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR status = $2)
          AND ($3::text IS NULL OR rule = $3)
        ORDER BY last_seen DESC, id LIMIT $4`,
      [
        tenantId,
        options.status ?? null,
        options.rule ?? null,
        Math.min(options.limit ?? 100, 1000),
      ],
    );
    return rows.map(toAlert);
  });
}

export interface AlertDecision {
  readonly tenantId: TenantId | null;
  readonly alertId: string;
  /** The person deciding (a user id). */
  readonly userId: string;
  /** Free text for the reviewer; kept on the alert, never copied into the audit record. */
  readonly note?: string;
}

async function decide(
  db: Database,
  d: AlertDecision,
  clock: Clock,
  kind: 'acknowledge' | 'close',
): Promise<Alert> {
  if (d.note !== undefined && d.note.length > 1000) {
    throw new AppError('validation_failed', 'note is longer than 1000 characters', {
      detail: 'note',
    });
  }
  return run(db, d.tenantId, async (tx) => {
    const now = clock.now();
    const sql =
      kind === 'acknowledge'
        ? `UPDATE alerts SET status = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3,
             note = coalesce($4, note)
            WHERE id = $1 AND status = 'open' RETURNING ${COLUMNS}`
        : `UPDATE alerts SET status = 'closed', closed_by = $2, closed_at = $3, note = coalesce($4, note)
            WHERE id = $1 AND status <> 'closed' RETURNING ${COLUMNS}`;
    const { rows } = await tx.query<AlertDb>(sql, [d.alertId, d.userId, now, d.note ?? null]);
    const row = rows[0];
    if (row === undefined) {
      const exists = await tx.query('SELECT 1 FROM alerts WHERE id = $1', [d.alertId]);
      if (exists.rowCount === 0) throw new AppError('not_found', 'alert not found');
      throw new AppError(
        'conflict',
        `alert is not ${kind === 'acknowledge' ? 'open' : 'open or acknowledged'}`,
      );
    }
    const alert = toAlert(row);
    await appendAudit(
      tx,
      {
        tenantId: d.tenantId,
        actor: { kind: 'user', userId: d.userId },
        action: kind === 'acknowledge' ? ALERT_ACKNOWLEDGE : ALERT_CLOSE,
        outcome: 'success',
        subjects: [{ type: 'alert', id: alert.id }],
        details: { rule: alert.rule, severity: alert.severity, count: alert.count },
      },
      clock,
    );
    return alert;
  });
}

/** A person acknowledges an open alert; audited in the same transaction. */
export function acknowledgeAlert(db: Database, d: AlertDecision, clock: Clock): Promise<Alert> {
  if (!isUuid(d.alertId)) return Promise.reject(new AppError('not_found', 'alert not found'));
  return decide(db, d, clock, 'acknowledge');
}

/** A person closes an open or acknowledged alert; audited in the same transaction. */
export function closeAlert(db: Database, d: AlertDecision, clock: Clock): Promise<Alert> {
  if (!isUuid(d.alertId)) return Promise.reject(new AppError('not_found', 'alert not found'));
  return decide(db, d, clock, 'close');
}
