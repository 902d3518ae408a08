/**
 * The risk register (45 CFR 164.308(a)(1)(ii)(A) risk analysis, (B) risk management): risks tied
 * to inventory assets, scored for likelihood and impact (1-5) before and after controls, with an
 * owner, a treatment and a due date. Every change is a new version (the register keeps its whole
 * history, 164.316(b)(2)) audited in the same transaction. A change to the inventory opens a
 * reassessment task for each risk linked to the changed asset ({@link openReassessment}).
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { checkDate, utcDay } from './dates.js';
import { buildRiskReport, type RiskReport } from './risk-report.js';
import {
  RISK_COLUMNS,
  TASK_COLUMNS,
  currentRisks,
  listTasks,
  toRisk,
  toTask,
  type RiskRow,
  type TaskRow,
} from './risk-store.js';
import {
  RISK_STATUSES,
  TREATMENTS,
  type ReassessmentTask,
  type RiskInput,
  type RiskVersion,
} from './risk-model.js';
import {
  assertInventoryAssets,
  assertMember,
  auditProgram,
  checkId,
  checkInt,
  checkOneOf,
  checkRefs,
  checkText,
  lockRecord,
  notFound,
  staleVersion,
  type ProgramActor,
} from './program-common.js';

export {
  REASSESSMENT_DUE_DAYS,
  openReassessment,
  type OpenReassessmentOptions,
} from './reassessment.js';
export { currentRisks, listTasks } from './risk-store.js';
export {
  RISK_STATUSES,
  TREATMENTS,
  type ReassessmentTask,
  type RiskInput,
  type RiskStatus,
  type RiskVersion,
  type Treatment,
} from './risk-model.js';

/** Checks and normalises a risk statement; throws `validation_failed` naming the field. */
export function checkRiskInput(input: RiskInput): RiskInput {
  const score = (f: string, v: number) => checkInt(f, v, 1, 5);
  const out: RiskInput = {
    title: checkText('title', input.title, 1, 200),
    // Inventory record ids (UUIDs, stored lower-case), checked against the inventory in the write.
    assetRefs: checkRefs(
      'assetRefs',
      input.assetRefs.map((a) => a.toLowerCase()),
    ),
    threat: checkText('threat', input.threat, 1, 2000),
    vulnerability: checkText('vulnerability', input.vulnerability, 1, 2000),
    likelihood: score('likelihood', input.likelihood),
    impact: score('impact', input.impact),
    residualLikelihood: score('residualLikelihood', input.residualLikelihood),
    residualImpact: score('residualImpact', input.residualImpact),
    ownerId: input.ownerId,
    treatment: checkOneOf('treatment', input.treatment, TREATMENTS),
    controlIds: checkRefs('controlIds', input.controlIds),
    acceptanceCriteria: checkText('acceptanceCriteria', input.acceptanceCriteria, 0, 2000),
    dueDate: input.dueDate === null ? null : checkDate('dueDate', input.dueDate),
    status: checkOneOf('status', input.status, RISK_STATUSES),
  };
  if (out.residualLikelihood * out.residualImpact > out.likelihood * out.impact) {
    throw new AppError('validation_failed', 'the residual score cannot exceed the inherent score', {
      detail: 'residualImpact',
    });
  }
  if (out.treatment === 'accept' && out.acceptanceCriteria === '') {
    throw new AppError('validation_failed', 'accepting a risk needs acceptance criteria', {
      detail: 'acceptanceCriteria',
    });
  }
  if (out.status === 'accepted' && out.treatment !== 'accept') {
    throw new AppError('validation_failed', 'only a risk treated by acceptance can be accepted', {
      detail: 'status',
    });
  }
  return out;
}

async function insertVersion(
  tx: Tx,
  tenantId: TenantId,
  riskId: string,
  version: number,
  r: RiskInput,
  reason: string,
  taskId: string | null,
  actor: ProgramActor,
  now: Date,
): Promise<RiskVersion> {
  const { rows } = await tx.query<RiskRow>(
    `INSERT INTO compliance_risk_versions (tenant_id, risk_id, version, title, asset_refs, threat,
       vulnerability, likelihood, impact, residual_likelihood, residual_impact, owner_id, treatment,
       control_ids, acceptance_criteria, due_date, status, reason, task_id, changed_by, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
             $20, $21)
     RETURNING ${RISK_COLUMNS}`,
    [
      tenantId,
      riskId,
      version,
      r.title,
      r.assetRefs,
      r.threat,
      r.vulnerability,
      r.likelihood,
      r.impact,
      r.residualLikelihood,
      r.residualImpact,
      r.ownerId,
      r.treatment,
      r.controlIds,
      r.acceptanceCriteria,
      r.dueDate,
      r.status,
      reason,
      taskId,
      actor.userId,
      now,
    ],
  );
  const row = rows[0];
  if (row === undefined) throw new AppError('internal', 'risk insert returned no row');
  return toRisk(row);
}

function riskDetails(r: RiskVersion) {
  return {
    version: r.version,
    likelihood: r.likelihood,
    impact: r.impact,
    inherentScore: r.inherentScore,
    residualScore: r.residualScore,
    treatment: r.treatment,
    status: r.status,
    dueDate: r.dueDate,
  };
}

export class RiskRegisterService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {}

  /** Records a new risk (version 1). */
  async create(actor: ProgramActor, input: RiskInput, reason = 'identified'): Promise<RiskVersion> {
    const r = checkRiskInput(input);
    const why = checkText('reason', reason, 1, 1000);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await assertMember(tx, actor.tenantId, 'ownerId', r.ownerId);
      await assertInventoryAssets(tx, actor.tenantId, 'assetRefs', r.assetRefs);
      const risk = await insertVersion(
        tx,
        actor.tenantId,
        this.random.uuid(),
        1,
        r,
        why,
        null,
        actor,
        this.clock.now(),
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_RISK_CREATE,
        [{ type: 'risk', id: risk.riskId }],
        riskDetails(risk),
      );
      return risk;
    });
  }

  /** A new version of a risk, made from `baseVersion` (conflict when that is no longer current). */
  async revise(
    actor: ProgramActor,
    riskId: string,
    baseVersion: number,
    input: RiskInput,
    reason: string,
  ): Promise<RiskVersion> {
    checkId('risk', riskId);
    const r = checkRiskInput(input);
    const why = checkText('reason', reason, 1, 1000);
    return this.db.withTenant(actor.tenantId, (tx) =>
      this.#revise(tx, actor, riskId, baseVersion, r, why, null),
    );
  }

  async #revise(
    tx: Tx,
    actor: ProgramActor,
    riskId: string,
    baseVersion: number,
    r: RiskInput,
    reason: string,
    taskId: string | null,
  ): Promise<RiskVersion> {
    await lockRecord(tx, 'risk', riskId);
    const current = await currentVersion(tx, actor.tenantId, riskId);
    if (current === undefined) throw notFound('risk');
    if (current.version !== baseVersion) throw staleVersion('risk', current.version);
    await assertMember(tx, actor.tenantId, 'ownerId', r.ownerId);
    await assertInventoryAssets(tx, actor.tenantId, 'assetRefs', r.assetRefs, current.assetRefs);
    const risk = await insertVersion(
      tx,
      actor.tenantId,
      riskId,
      current.version + 1,
      r,
      reason,
      taskId,
      actor,
      this.clock.now(),
    );
    await auditProgram(
      tx,
      this.clock,
      actor,
      MonitoringActions.COMPLIANCE_RISK_REVISE,
      [{ type: 'risk', id: riskId }],
      { ...riskDetails(risk), previousVersion: current.version },
    );
    return risk;
  }

  /** The current version of every risk, highest residual score first. */
  async list(tenantId: TenantId): Promise<RiskVersion[]> {
    return this.db.withTenant(tenantId, (tx) => currentRisks(tx, tenantId));
  }

  /** A risk's current version, its full history (oldest first) and its reassessment tasks. */
  async get(
    tenantId: TenantId,
    riskId: string,
  ): Promise<{ current: RiskVersion; history: RiskVersion[]; tasks: ReassessmentTask[] }> {
    checkId('risk', riskId);
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<RiskRow>(
        `SELECT ${RISK_COLUMNS} FROM compliance_risk_versions
          WHERE tenant_id = $1 AND risk_id = $2 ORDER BY version`,
        [tenantId, riskId],
      );
      const history = rows.map(toRisk);
      const current = history.at(-1);
      if (current === undefined) throw notFound('risk');
      const tasks = await tx.query<TaskRow>(
        `SELECT ${TASK_COLUMNS} FROM compliance_reassessment_tasks
          WHERE tenant_id = $1 AND risk_id = $2 ORDER BY opened_at, id`,
        [tenantId, riskId],
      );
      return { current, history, tasks: tasks.rows.map(toTask) };
    });
  }

  /** The leadership report as of today (JSON; `renderRiskReportHtml` renders it). */
  async report(tenantId: TenantId): Promise<RiskReport> {
    const now = this.clock.now();
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ name: string }>('SELECT name FROM tenants WHERE id = $1', [
        tenantId,
      ]);
      return buildRiskReport(
        await currentRisks(tx, tenantId),
        await listTasks(tx, tenantId, 'open'),
        {
          organisation: rows[0]?.name ?? '',
          now,
          today: utcDay(now),
        },
      );
    });
  }

  /** Reassessment tasks of the tenant (open ones by default), oldest first. */
  async tasks(tenantId: TenantId, status: 'open' | 'done' | 'all' = 'open') {
    return this.db.withTenant(tenantId, async (tx) => listTasks(tx, tenantId, status));
  }

  /**
   * Completes a reassessment task with the reassessed risk (a new version, which may state that
   * nothing changed), in one transaction.
   */
  async completeReassessment(
    actor: ProgramActor,
    taskId: string,
    baseVersion: number,
    input: RiskInput,
    reason: string,
  ): Promise<{ task: ReassessmentTask; risk: RiskVersion }> {
    checkId('reassessment task', taskId);
    const r = checkRiskInput(input);
    const why = checkText('reason', reason, 1, 1000);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const found = await tx.query<{ risk_id: string; status: string }>(
        'SELECT risk_id, status FROM compliance_reassessment_tasks WHERE tenant_id = $1 AND id = $2',
        [actor.tenantId, taskId],
      );
      const t = found.rows[0];
      if (t === undefined) throw notFound('reassessment task');
      if (t.status !== 'open') throw new AppError('conflict', 'the task is already done');
      const risk = await this.#revise(tx, actor, t.risk_id, baseVersion, r, why, taskId);
      const { rows } = await tx.query<TaskRow>(
        `UPDATE compliance_reassessment_tasks
            SET status = 'done', completed_by = $3, completed_at = $4, risk_version = $5
          WHERE tenant_id = $1 AND id = $2 AND status = 'open' RETURNING ${TASK_COLUMNS}`,
        [actor.tenantId, taskId, actor.userId, this.clock.now(), risk.version],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('conflict', 'the task is already done');
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_REASSESSMENT_COMPLETE,
        [
          { type: 'reassessment_task', id: taskId },
          { type: 'risk', id: risk.riskId },
        ],
        { riskVersion: risk.version, residualScore: risk.residualScore },
      );
      return { task: toTask(row), risk };
    });
  }
}

async function currentVersion(
  tx: Tx,
  tenantId: TenantId,
  riskId: string,
): Promise<RiskVersion | undefined> {
  const { rows } = await tx.query<RiskRow>(
    `SELECT ${RISK_COLUMNS} FROM compliance_risk_versions
      WHERE tenant_id = $1 AND risk_id = $2 ORDER BY version DESC LIMIT 1`,
    [tenantId, riskId],
  );
  return rows[0] === undefined ? undefined : toRisk(rows[0]);
}
