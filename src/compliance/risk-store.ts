/**
 * Reading the risk register tables: the current version of each risk and the reassessment tasks.
 * Shared by the register, the reassessment trigger, the checks and the program evidence.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { ReassessmentTask, RiskStatus, RiskVersion, Treatment } from './risk-model.js';

export interface RiskRow {
  risk_id: string;
  version: number;
  title: string;
  asset_refs: string[];
  threat: string;
  vulnerability: string;
  likelihood: number;
  impact: number;
  inherent_score: number;
  residual_likelihood: number;
  residual_impact: number;
  residual_score: number;
  owner_id: string;
  treatment: Treatment;
  control_ids: string[];
  acceptance_criteria: string;
  due_date: string | null;
  status: RiskStatus;
  reason: string;
  task_id: string | null;
  changed_by: string;
  changed_at: Date;
}

export const RISK_COLUMNS = `risk_id, version, title, asset_refs, threat, vulnerability, likelihood, impact,
  inherent_score, residual_likelihood, residual_impact, residual_score, owner_id, treatment,
  control_ids, acceptance_criteria, due_date::text AS due_date, status, reason, task_id,
  changed_by, changed_at`;

/** The current (newest) version of each risk of the tenant. */
export const CURRENT = `SELECT DISTINCT ON (risk_id) ${RISK_COLUMNS} FROM compliance_risk_versions
  WHERE tenant_id = $1 ORDER BY risk_id, version DESC`;

export function toRisk(r: RiskRow): RiskVersion {
  return {
    riskId: r.risk_id,
    version: r.version,
    title: r.title,
    assetRefs: r.asset_refs,
    threat: r.threat,
    vulnerability: r.vulnerability,
    likelihood: r.likelihood,
    impact: r.impact,
    inherentScore: r.inherent_score,
    residualLikelihood: r.residual_likelihood,
    residualImpact: r.residual_impact,
    residualScore: r.residual_score,
    ownerId: r.owner_id,
    treatment: r.treatment,
    controlIds: r.control_ids,
    acceptanceCriteria: r.acceptance_criteria,
    dueDate: r.due_date,
    status: r.status,
    reason: r.reason,
    taskId: r.task_id,
    changedBy: r.changed_by,
    changedAt: r.changed_at.toISOString(),
  };
}

export interface TaskRow {
  id: string;
  risk_id: string;
  asset_ref: string;
  cause: string;
  opened_at: Date;
  due_date: string;
  status: 'open' | 'done';
  completed_by: string | null;
  completed_at: Date | null;
  risk_version: number | null;
}

export const TASK_COLUMNS = `id, risk_id, asset_ref, cause, opened_at, due_date::text AS due_date, status,
  completed_by, completed_at, risk_version`;

export function toTask(r: TaskRow): ReassessmentTask {
  return {
    id: r.id,
    riskId: r.risk_id,
    assetRef: r.asset_ref,
    cause: r.cause,
    openedAt: r.opened_at.toISOString(),
    dueDate: r.due_date,
    status: r.status,
    completedBy: r.completed_by,
    completedAt: r.completed_at?.toISOString() ?? null,
    riskVersion: r.risk_version,
  };
}

/** The current version of every risk of the tenant, highest residual score first. */
export async function currentRisks(tx: Tx, tenantId: TenantId): Promise<RiskVersion[]> {
  const { rows } = await tx.query<RiskRow>(
    `SELECT * FROM (${CURRENT}) cur ORDER BY residual_score DESC, inherent_score DESC, risk_id`,
    [tenantId],
  );
  return rows.map(toRisk);
}

/** Reassessment tasks of the tenant by status, oldest first. */
export async function listTasks(
  tx: Tx,
  tenantId: TenantId,
  status: 'open' | 'done' | 'all',
): Promise<ReassessmentTask[]> {
  const { rows } = await tx.query<TaskRow>(
    `SELECT ${TASK_COLUMNS} FROM compliance_reassessment_tasks
      WHERE tenant_id = $1 AND ($2::text = 'all' OR status = $2)
      ORDER BY opened_at, id LIMIT 1000`,
    [tenantId, status],
  );
  return rows.map(toTask);
}
