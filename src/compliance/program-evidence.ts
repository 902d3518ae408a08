/**
 * The program's evidence for the compliance bundle (45 CFR 164.316(b)(1): written records of
 * required actions, activities and assessments): the risk register, incidents and tabletop
 * exercises, policies, and training, as plain JSON for the evidence exporter.
 *
 * No PHI: identifiers, codes, ratings, counts, dates, titles, and the risk analysis text (threats,
 * vulnerabilities, acceptance criteria, reassessment causes), which describes systems. Free text
 * written about an event, the one place a person might describe a patient (incident summaries and
 * notes, breach rationales, lessons learned, notice content), stays in Scrip and is represented by
 * its presence or a count; policy bodies by their SHA-256. The bundle can travel to an auditor.
 */
import { systemClock, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { BREACH_FACTOR_KEYS, clockOf, currentAssessment, readNotices } from './breach.service.js';
import type { DeadlineStatus } from './breach-clock.js';
import { utcDay } from './dates.js';
import { NARRATIVE_WITHHELD } from './incident-narrative.js';
import { listIncidents } from './incident.service.js';
import { readTimeline } from './incident-timeline.js';
import { policySummaries } from './policy.service.js';
import { RETENTION_YEARS, retainUntil } from './program-common.js';
import { currentRisks, listTasks } from './risk-register.service.js';
import { buildRiskReport, type RiskReport } from './risk-report.js';
import { listTabletops } from './tabletop.service.js';
import { currentTraining, type TrainingRecord } from './training.service.js';

export interface ProgramEvidence {
  readonly risks: {
    readonly generatedAt: string;
    readonly report: RiskReport;
    readonly register: readonly Record<string, unknown>[];
    readonly reassessments: readonly Record<string, unknown>[];
  };
  readonly incidents: {
    readonly generatedAt: string;
    readonly incidents: readonly Record<string, unknown>[];
    readonly tabletopExercises: readonly Record<string, unknown>[];
  };
  readonly policies: {
    readonly generatedAt: string;
    readonly policies: readonly Record<string, unknown>[];
  };
  readonly training: {
    readonly generatedAt: string;
    readonly records: readonly TrainingRecord[];
  };
  readonly retention: { readonly years: number; readonly rule: string };
}

function deadlineJson(d: DeadlineStatus): Record<string, unknown> {
  return {
    recipient: d.recipient,
    jurisdiction: d.jurisdiction,
    dueOn: d.dueOn,
    citation: d.citation,
    state: d.state,
    sentOn: d.sentOn,
  };
}

/**
 * The tenant's program records as plain JSON, in the caller's transaction `tx` (in `tenantId`'s
 * context), as of `clock`'s date.
 */
export async function programEvidence(
  tx: Tx,
  tenantId: TenantId,
  clock: Clock = systemClock,
): Promise<ProgramEvidence> {
  const now = clock.now();
  const today = utcDay(now);
  const generatedAt = now.toISOString();
  const risks = await currentRisks(tx, tenantId);
  const tasks = await listTasks(tx, tenantId, 'all');
  const report = buildRiskReport(risks, tasks, { organisation: '', now, today }, risks.length);
  const versionCounts = await tx.query<{ risk_id: string; n: number; first: Date }>(
    `SELECT risk_id, count(*)::int AS n, min(changed_at) AS first FROM compliance_risk_versions
      WHERE tenant_id = $1 GROUP BY risk_id`,
    [tenantId],
  );
  const counts = new Map(versionCounts.rows.map((r) => [r.risk_id, r]));

  const incidents: Record<string, unknown>[] = [];
  // Structure, counts and ratings only: the sealed narrative is never opened here.
  for (const i of await listIncidents(tx, NARRATIVE_WITHHELD, tenantId)) {
    const timeline = await readTimeline(tx, NARRATIVE_WITHHELD, tenantId, i.id);
    const assessment = await currentAssessment(tx, NARRATIVE_WITHHELD, tenantId, i.id);
    const notices = await readNotices(tx, tenantId, i.id);
    incidents.push({
      id: i.id,
      category: i.category,
      title: i.current.title,
      severity: i.current.severity,
      status: i.current.status,
      discoveredAt: i.current.discoveredAt,
      createdAt: i.createdAt,
      version: i.current.version,
      roles: i.current.roles,
      playbookVersion: i.playbookVersion,
      checklist: i.checklist,
      lessonsLearnedRecorded: i.current.lessonsLearned !== null,
      timelineEntries: timeline.length,
      containment: timeline
        .filter((e) => e.kind === 'containment')
        .map((e) => ({ at: e.at, by: e.actorUserId, ...e.details })),
      evidence: timeline
        .filter((e) => e.kind === 'evidence')
        .map((e) => ({ at: e.at, by: e.actorUserId, ...e.details })),
      breach:
        assessment === null
          ? null
          : {
              version: assessment.version,
              decision: assessment.decision,
              exception: assessment.exception,
              factorRatings: Object.fromEntries(
                BREACH_FACTOR_KEYS.map((k) => [k, assessment.factors[k].rating]),
              ),
              role: assessment.role,
              discoveredOn: assessment.discoveredOn,
              affectedTotal: assessment.affectedTotal,
              affectedByJurisdiction: assessment.affectedByJurisdiction,
              phiTypes: assessment.phiTypes,
              assessedBy: assessment.assessedBy,
              assessedAt: assessment.assessedAt,
              deadlines: clockOf(assessment, notices, today).map(deadlineJson),
              notices: notices.map((n) => ({
                recipient: n.recipient,
                jurisdiction: n.jurisdiction,
                sentOn: n.sentOn,
                recipientsCount: n.recipientsCount,
              })),
            },
      retainUntil: retainUntil(i.createdAt.slice(0, 10), i.current.changedAt.slice(0, 10)),
    });
  }
  const tabletops = (await listTabletops(tx, tenantId)).map((t) => ({
    id: t.id,
    version: t.version,
    heldOn: t.heldOn,
    title: t.title,
    category: t.category,
    participants: t.participants.length,
    actionItems: t.actionItems.map((a) => ({ ownerId: a.ownerId, dueDate: a.dueDate })),
    recordedBy: t.changedBy,
    recordedAt: t.changedAt,
  }));

  const policies = (await policySummaries(tx, tenantId, today)).map(({ summary: p, missing }) => ({
    id: p.id,
    key: p.key,
    title: p.latest.title,
    latestVersion: {
      version: p.latest.version,
      bodySha256: p.latest.bodySha256,
      authorId: p.latest.authorId,
      approvedBy: p.latest.approvedBy,
      approvedAt: p.latest.approvedAt,
      effectiveDate: p.latest.effectiveDate,
    },
    inForce:
      p.effective === null
        ? null
        : {
            version: p.effective.version,
            bodySha256: p.effective.bodySha256,
            authorId: p.effective.authorId,
            approvedBy: p.effective.approvedBy,
            approvedAt: p.effective.approvedAt,
            effectiveDate: p.effective.effectiveDate,
            reviewCycleMonths: p.effective.reviewCycleMonths,
          },
    nextReview: p.nextReview,
    reviewDue: p.reviewDue,
    acknowledgements: p.acknowledgements,
    missingAcknowledgements: missing,
    retainUntil: retainUntil(p.createdAt.slice(0, 10), p.effective?.effectiveDate ?? null),
  }));

  return {
    risks: {
      generatedAt,
      report,
      register: risks.map((r) => ({
        riskId: r.riskId,
        version: r.version,
        versions: counts.get(r.riskId)?.n ?? 1,
        title: r.title,
        assetRefs: r.assetRefs,
        threat: r.threat,
        vulnerability: r.vulnerability,
        acceptanceCriteria: r.acceptanceCriteria,
        likelihood: r.likelihood,
        impact: r.impact,
        inherentScore: r.inherentScore,
        residualLikelihood: r.residualLikelihood,
        residualImpact: r.residualImpact,
        residualScore: r.residualScore,
        ownerId: r.ownerId,
        treatment: r.treatment,
        controlIds: r.controlIds,
        dueDate: r.dueDate,
        status: r.status,
        changedBy: r.changedBy,
        changedAt: r.changedAt,
        retainUntil: retainUntil(
          utcDay(counts.get(r.riskId)?.first ?? new Date(r.changedAt)),
          r.changedAt.slice(0, 10),
        ),
      })),
      reassessments: tasks.map((t) => ({
        id: t.id,
        riskId: t.riskId,
        assetRef: t.assetRef,
        cause: t.cause,
        openedAt: t.openedAt,
        dueDate: t.dueDate,
        status: t.status,
        completedBy: t.completedBy,
        completedAt: t.completedAt,
        riskVersion: t.riskVersion,
      })),
    },
    incidents: { generatedAt, incidents, tabletopExercises: tabletops },
    policies: { generatedAt, policies },
    training: { generatedAt, records: await currentTraining(tx, tenantId, today) },
    retention: {
      years: RETENTION_YEARS,
      rule: '45 CFR 164.316(b)(2)(i): kept six years from creation or last effective date; program records are never deleted, only superseded',
    },
  };
}
