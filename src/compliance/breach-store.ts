/**
 * The breach records as stored: assessments (their rationale and notice content sealed, see
 * incident-narrative.ts) and the notices sent, and the clock computed from them.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type {
  BreachAssessment,
  BreachDecision,
  BreachException,
  BreachFactor,
  BreachNotice,
  FactorAssessment,
} from './breach-assessment.js';
import {
  deadlineStatus,
  noticeDeadlines,
  type BreachRole,
  type DeadlineStatus,
  type NoticeRecipient,
  type SentNotice,
} from './breach-clock.js';
import type { NoticeContent, PhiType } from './breach-letter.js';
import {
  BREACH_ASSESSMENTS_SEALED,
  NARRATIVE_WITHHELD,
  parseSealedJson,
  type Narrative,
} from './incident-narrative.js';

export interface AssessmentRow {
  id: string;
  incident_id: string;
  version: number;
  factors: Record<BreachFactor, FactorAssessment>;
  decision: BreachDecision;
  exception: BreachException | null;
  /** Sealed, like `notice` (JSON text) (incident-narrative.ts). */
  rationale: Buffer;
  role: BreachRole;
  discovered_on: string;
  occurred_from: string | null;
  occurred_to: string | null;
  affected_by_jurisdiction: Record<string, number>;
  affected_total: number;
  phi_types: PhiType[];
  notice: Buffer | null;
  assessed_by: string;
  assessed_at: Date;
}

export const ASSESSMENT_COLUMNS = `id, incident_id, version, factors, decision, exception, rationale, role,
  discovered_on::text AS discovered_on, occurred_from::text AS occurred_from,
  occurred_to::text AS occurred_to, affected_by_jurisdiction, affected_total, phi_types, notice,
  assessed_by, assessed_at`;

export async function toAssessment(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  r: AssessmentRow,
): Promise<BreachAssessment> {
  const text = await narrative.open(tx, tenantId, BREACH_ASSESSMENTS_SEALED, r.id, {
    rationale: r.rationale,
    notice: r.notice,
  });
  return {
    incidentId: r.incident_id,
    version: r.version,
    factors: r.factors,
    decision: r.decision,
    exception: r.exception,
    rationale: text.rationale ?? '',
    role: r.role,
    discoveredOn: r.discovered_on,
    occurredFrom: r.occurred_from,
    occurredTo: r.occurred_to,
    affectedByJurisdiction: r.affected_by_jurisdiction,
    affectedTotal: r.affected_total,
    phiTypes: r.phi_types,
    notice: parseSealedJson(text.notice) as NoticeContent | null,
    assessedBy: r.assessed_by,
    assessedAt: r.assessed_at.toISOString(),
  };
}

export interface NoticeRow {
  id: string;
  recipient: NoticeRecipient;
  jurisdiction: string | null;
  sent_on: string;
  method: string;
  recipients_count: number | null;
  recorded_by: string;
  recorded_at: Date;
}

export function toNotice(r: NoticeRow): BreachNotice {
  return {
    id: r.id,
    recipient: r.recipient,
    jurisdiction: r.jurisdiction,
    sentOn: r.sent_on,
    method: r.method,
    recipientsCount: r.recipients_count,
    recordedBy: r.recorded_by,
    recordedAt: r.recorded_at.toISOString(),
  };
}

/** The current assessment of an incident, or null. */
export async function currentAssessment(
  tx: Tx,
  narrative: Narrative,
  tenantId: TenantId,
  incidentId: string,
): Promise<BreachAssessment | null> {
  const { rows } = await tx.query<AssessmentRow>(
    `SELECT ${ASSESSMENT_COLUMNS} FROM compliance_breach_assessments
      WHERE tenant_id = $1 AND incident_id = $2 ORDER BY version DESC LIMIT 1`,
    [tenantId, incidentId],
  );
  return rows[0] === undefined ? null : toAssessment(tx, narrative, tenantId, rows[0]);
}

export async function readNotices(
  tx: Tx,
  tenantId: TenantId,
  incidentId: string,
): Promise<BreachNotice[]> {
  const { rows } = await tx.query<NoticeRow>(
    `SELECT id, recipient, jurisdiction, sent_on::text AS sent_on, method, recipients_count,
            recorded_by, recorded_at
       FROM compliance_breach_notices WHERE tenant_id = $1 AND incident_id = $2
      ORDER BY sent_on, recorded_at, id`,
    [tenantId, incidentId],
  );
  return rows.map(toNotice);
}

/** The clock of one assessment: every required notice and its state as of `today`. */
export function clockOf(
  a: BreachAssessment | null,
  notices: readonly SentNotice[],
  today: string,
): DeadlineStatus[] {
  if (a?.decision !== 'breach') return [];
  return deadlineStatus(noticeDeadlines(a), notices, today);
}

/** Every incident with a current `breach` decision, with its clock (for the periodic checks). */
export async function breachClocks(
  tx: Tx,
  tenantId: TenantId,
  today: string,
): Promise<{ incidentId: string; deadlines: DeadlineStatus[] }[]> {
  const { rows } = await tx.query<AssessmentRow>(
    `SELECT * FROM (SELECT DISTINCT ON (incident_id) ${ASSESSMENT_COLUMNS}
                      FROM compliance_breach_assessments WHERE tenant_id = $1
                     ORDER BY incident_id, version DESC) cur
      WHERE decision = 'breach' ORDER BY incident_id`,
    [tenantId],
  );
  const out: { incidentId: string; deadlines: DeadlineStatus[] }[] = [];
  for (const r of rows) {
    // The clock needs dates and counts only: the narrative stays sealed.
    const a = await toAssessment(tx, NARRATIVE_WITHHELD, tenantId, r);
    out.push({
      incidentId: a.incidentId,
      deadlines: clockOf(a, await readNotices(tx, tenantId, a.incidentId), today),
    });
  }
  return out;
}
