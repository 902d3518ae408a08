/**
 * The periodic compliance checks (45 CFR 164.308(a)(1)(ii)(B), (a)(5), (a)(6), 164.316(b)(2)(iii),
 * 164.404-410, 164.308(b)): overdue risk treatments and reassessments, policy reviews due,
 * acknowledgements missing, training expired, vendor remediation items past their due date, and
 * the breach-notice countdown. Each condition is reported once:
 * a mark row per condition and an audit record (`compliance.overdue`,
 * `compliance.breach.deadline`) in the same transaction. The monitoring detector turns those
 * records into deduplicated alerts (rules `compliance_overdue`, `breach_deadline`) and delivers
 * them through the alert sinks, like every other alert.
 */
import { asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { AuditDetailValue } from '../audit/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { COUNTDOWN_DAYS, dueCountdownAlerts } from './breach-clock.js';
import { breachClocks } from './breach.service.js';
import { addDays, daysBetween, utcDay } from './dates.js';
import { policySummaries } from './policy.service.js';
import { auditProgram } from './program-common.js';
import { currentRisks, listTasks } from './risk-register.service.js';
import { isRiskOverdue } from './risk-report.js';
import { currentTraining } from './training.service.js';
import { currentRemediation } from './vendor.service.js';

export const OVERDUE_KINDS = [
  'risk_due',
  'reassessment_due',
  'policy_review_due',
  'acknowledgement_missing',
  'training_expired',
  'remediation_due',
] as const;
export type OverdueKind = (typeof OVERDUE_KINDS)[number];

export interface RaisedAlert {
  readonly kind: OverdueKind | 'breach_deadline';
  /** The condition's dedup key (one report per key, ever). */
  readonly key: string;
  readonly subject: { readonly type: string; readonly id: string };
  readonly details: Readonly<Record<string, AuditDetailValue>>;
}

export interface ComplianceCheckOptions {
  /** Countdown steps before a breach-notice deadline (default 30, 14, 7, 1 days). */
  readonly countdownDays?: readonly number[];
}

async function findConditions(
  tx: Tx,
  tenantId: TenantId,
  today: string,
  raised: ReadonlySet<string>,
  options: ComplianceCheckOptions,
): Promise<RaisedAlert[]> {
  const out: RaisedAlert[] = [];
  for (const r of await currentRisks(tx, tenantId)) {
    if (!isRiskOverdue(r, today) || r.dueDate === null) continue;
    out.push({
      kind: 'risk_due',
      key: `risk_due:${r.riskId}:${r.dueDate}`,
      subject: { type: 'risk', id: r.riskId },
      details: {
        dueDate: r.dueDate,
        daysOverdue: daysBetween(r.dueDate, today),
        ownerId: r.ownerId,
        residualScore: r.residualScore,
      },
    });
  }
  for (const t of await listTasks(tx, tenantId, 'open')) {
    if (t.dueDate >= today) continue;
    out.push({
      kind: 'reassessment_due',
      key: `reassessment_due:${t.id}`,
      subject: { type: 'reassessment_task', id: t.id },
      details: { riskId: t.riskId, dueDate: t.dueDate, daysOverdue: daysBetween(t.dueDate, today) },
    });
  }
  for (const { summary: p, missing } of await policySummaries(tx, tenantId, today)) {
    const v = p.effective;
    if (v === null) continue;
    if (p.reviewDue && p.nextReview !== null) {
      out.push({
        kind: 'policy_review_due',
        key: `policy_review_due:${p.id}:${String(v.version)}:${p.nextReview}`,
        subject: { type: 'policy', id: p.id },
        details: { key: p.key, version: v.version, nextReview: p.nextReview },
      });
    }
    const ackBy = addDays(v.effectiveDate, v.acknowledgementDays);
    if (ackBy < today && missing.length > 0) {
      out.push({
        kind: 'acknowledgement_missing',
        key: `acknowledgement_missing:${p.id}:${String(v.version)}`,
        subject: { type: 'policy', id: p.id },
        details: { key: p.key, version: v.version, dueOn: ackBy, missing: missing.length },
      });
    }
  }
  for (const t of await currentTraining(tx, tenantId, today)) {
    if (t.state !== 'expired' || t.expiresOn === null) continue;
    out.push({
      kind: 'training_expired',
      key: `training_expired:${t.id}`,
      subject: { type: 'training_record', id: t.id },
      details: { userId: t.userId, course: t.course, expiresOn: t.expiresOn },
    });
  }
  for (const item of await currentRemediation(tx)) {
    if (item.status === 'done' || item.status === 'risk_accepted' || item.dueDate >= today) {
      continue;
    }
    out.push({
      kind: 'remediation_due',
      // A new due date is a new commitment: it alerts again when that one passes.
      key: `remediation_due:${item.id}:${item.dueDate}`,
      subject: { type: 'remediation_item', id: item.id },
      details: {
        vendorId: item.vendorId,
        dueDate: item.dueDate,
        daysOverdue: daysBetween(item.dueDate, today),
        status: item.status,
      },
    });
  }
  for (const clock of await breachClocks(tx, tenantId, today)) {
    const prefix = `breach:${clock.incidentId}:`;
    const earlier = new Set(
      [...raised].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
    );
    for (const a of dueCountdownAlerts(
      clock.deadlines,
      earlier,
      options.countdownDays ?? COUNTDOWN_DAYS,
    )) {
      out.push({
        kind: 'breach_deadline',
        key: prefix + a.key,
        subject: { type: 'incident', id: clock.incidentId },
        details: {
          recipient: a.deadline.recipient,
          jurisdiction: a.deadline.jurisdiction,
          dueOn: a.deadline.dueOn,
          daysLeft: a.deadline.daysLeft,
          step: String(a.step),
          citation: a.deadline.citation,
        },
      });
    }
  }
  return out;
}

/**
 * Runs every check for one tenant as of `clock`'s date and reports each new condition once.
 * Returns the conditions reported by this run (none when all were reported before).
 */
export async function runComplianceChecks(
  db: Database,
  tenantId: TenantId,
  clock: Clock,
  options: ComplianceCheckOptions = {},
): Promise<RaisedAlert[]> {
  const now = clock.now();
  const today = utcDay(now);
  return db.withTenant(tenantId, async (tx) => {
    const marks = await tx.query<{ key: string }>(
      'SELECT key FROM compliance_alert_marks WHERE tenant_id = $1',
      [tenantId],
    );
    const raised = new Set(marks.rows.map((r) => r.key));
    const fresh: RaisedAlert[] = [];
    for (const c of await findConditions(tx, tenantId, today, raised, options)) {
      const inserted = await tx.query(
        `INSERT INTO compliance_alert_marks (tenant_id, key, raised_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING`,
        [tenantId, c.key, now],
      );
      if (inserted.rowCount !== 1) continue;
      fresh.push(c);
    }
    // Audit records last: appends hold the log's append lock until commit.
    for (const c of fresh) {
      await auditProgram(
        tx,
        clock,
        { tenantId, system: true },
        c.kind === 'breach_deadline'
          ? MonitoringActions.COMPLIANCE_BREACH_DEADLINE
          : MonitoringActions.COMPLIANCE_OVERDUE,
        [c.subject],
        c.kind === 'breach_deadline' ? c.details : { kind: c.kind, ...c.details },
      );
    }
    return fresh;
  });
}

/** {@link runComplianceChecks} for every tenant; a failing tenant does not stop the others. */
export async function runComplianceChecksForAll(
  db: Database,
  clock: Clock,
  options: ComplianceCheckOptions = {},
): Promise<{ raised: number; failures: { tenantId: string; error: unknown }[] }> {
  const ids = await db.withoutTenant(async (tx) =>
    (await tx.query<{ id: string }>('SELECT scrip_tenant_ids() AS id')).rows.map((r) => r.id),
  );
  let raised = 0;
  const failures: { tenantId: string; error: unknown }[] = [];
  for (const id of ids) {
    try {
      raised += (await runComplianceChecks(db, asTenantId(id), clock, options)).length;
    } catch (error) {
      failures.push({ tenantId: id, error });
    }
  }
  return { raised, failures };
}
