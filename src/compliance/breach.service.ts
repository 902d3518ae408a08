/**
 * Breach risk assessment and notices (45 CFR 164.402-164.410). An impermissible use or disclosure
 * of PHI is presumed a breach unless an exception of 164.402(1) applies or the entity shows a low
 * probability that the PHI has been compromised, based on at least the four factors of
 * 164.402(2). The assessment records each factor with its rating and rationale, the decision and
 * its rationale; for a breach, the clock (breach-clock.ts) runs from the discovery date over the
 * affected counts per State. Notices sent are recorded against the deadlines; a draft letter holds
 * the 164.404(c) elements (breach-letter.ts). Assessments are versioned; notices are append-only.
 */
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import {
  BREACH_FACTOR_KEYS,
  checkAssessment,
  type BreachAssessment,
  type BreachAssessmentInput,
  type BreachDecision,
  type BreachException,
  type BreachFactor,
  type BreachNotice,
  type FactorAssessment,
} from './breach-assessment.js';
import {
  affectedTotal,
  deadlineStatus,
  noticeDeadlines,
  type BreachRole,
  type DeadlineStatus,
  type NoticeRecipient,
  type SentNotice,
} from './breach-clock.js';
import {
  draftBreachLetter,
  missingElements,
  type DraftLetter,
  type NoticeContent,
  type PhiType,
} from './breach-letter.js';
import { checkDate, utcDay } from './dates.js';
import { appendTimeline, lockIncident } from './incident-timeline.js';
import {
  auditProgram,
  checkId,
  checkInt,
  checkText,
  notFound,
  staleVersion,
  type ProgramActor,
} from './program-common.js';

export {
  BREACH_DECISIONS,
  BREACH_EXCEPTIONS,
  BREACH_FACTORS,
  BREACH_FACTOR_KEYS,
  FACTOR_RATINGS,
  checkAssessment,
  type BreachAssessment,
  type BreachAssessmentInput,
  type BreachDecision,
  type BreachException,
  type BreachFactor,
  type BreachNotice,
  type FactorAssessment,
  type FactorRating,
} from './breach-assessment.js';

interface AssessmentRow {
  incident_id: string;
  version: number;
  factors: Record<BreachFactor, FactorAssessment>;
  decision: BreachDecision;
  exception: BreachException | null;
  rationale: string;
  role: BreachRole;
  discovered_on: string;
  occurred_from: string | null;
  occurred_to: string | null;
  affected_by_jurisdiction: Record<string, number>;
  affected_total: number;
  phi_types: PhiType[];
  notice: NoticeContent | null;
  assessed_by: string;
  assessed_at: Date;
}

const ASSESSMENT_COLUMNS = `incident_id, version, factors, decision, exception, rationale, role,
  discovered_on::text AS discovered_on, occurred_from::text AS occurred_from,
  occurred_to::text AS occurred_to, affected_by_jurisdiction, affected_total, phi_types, notice,
  assessed_by, assessed_at`;

function toAssessment(r: AssessmentRow): BreachAssessment {
  return {
    incidentId: r.incident_id,
    version: r.version,
    factors: r.factors,
    decision: r.decision,
    exception: r.exception,
    rationale: r.rationale,
    role: r.role,
    discoveredOn: r.discovered_on,
    occurredFrom: r.occurred_from,
    occurredTo: r.occurred_to,
    affectedByJurisdiction: r.affected_by_jurisdiction,
    affectedTotal: r.affected_total,
    phiTypes: r.phi_types,
    notice: r.notice,
    assessedBy: r.assessed_by,
    assessedAt: r.assessed_at.toISOString(),
  };
}

interface NoticeRow {
  id: string;
  recipient: NoticeRecipient;
  jurisdiction: string | null;
  sent_on: string;
  method: string;
  recipients_count: number | null;
  recorded_by: string;
  recorded_at: Date;
}

function toNotice(r: NoticeRow): BreachNotice {
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
  tenantId: TenantId,
  incidentId: string,
): Promise<BreachAssessment | null> {
  const { rows } = await tx.query<AssessmentRow>(
    `SELECT ${ASSESSMENT_COLUMNS} FROM compliance_breach_assessments
      WHERE tenant_id = $1 AND incident_id = $2 ORDER BY version DESC LIMIT 1`,
    [tenantId, incidentId],
  );
  return rows[0] === undefined ? null : toAssessment(rows[0]);
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

export interface BreachClockView {
  readonly assessment: BreachAssessment | null;
  readonly deadlines: readonly DeadlineStatus[];
  readonly notices: readonly BreachNotice[];
  /** 164.404(c) elements still missing from the notice content (breaches only). */
  readonly missingNoticeElements: readonly string[];
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
    const a = toAssessment(r);
    out.push({
      incidentId: a.incidentId,
      deadlines: clockOf(a, await readNotices(tx, tenantId, a.incidentId), today),
    });
  }
  return out;
}

export class BreachService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {}

  /** Records a (new version of the) four-factor assessment; `baseVersion` 0 for the first. */
  async assess(
    actor: ProgramActor,
    incidentId: string,
    baseVersion: number,
    input: BreachAssessmentInput,
  ): Promise<BreachClockView> {
    const now = this.clock.now();
    const a = checkAssessment(input, utcDay(now));
    await this.db.withTenant(actor.tenantId, async (tx) => {
      await lockIncident(tx, actor.tenantId, incidentId);
      const cur = await currentAssessment(tx, actor.tenantId, incidentId);
      const version = cur?.version ?? 0;
      if (version !== baseVersion) throw staleVersion('breach assessment', version);
      const total = affectedTotal(a);
      await tx.query(
        `INSERT INTO compliance_breach_assessments (tenant_id, incident_id, version, factors,
           decision, exception, rationale, role, discovered_on, occurred_from, occurred_to,
           affected_by_jurisdiction, affected_total, phi_types, notice, assessed_by, assessed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
        [
          actor.tenantId,
          incidentId,
          version + 1,
          JSON.stringify(a.factors),
          a.decision,
          a.exception,
          a.rationale,
          a.role,
          a.discoveredOn,
          a.occurredFrom,
          a.occurredTo,
          JSON.stringify(a.affectedByJurisdiction),
          total,
          a.phiTypes,
          a.notice === null ? null : JSON.stringify(a.notice),
          actor.userId,
          now,
        ],
      );
      const details = {
        version: version + 1,
        decision: a.decision,
        exception: a.exception,
        role: a.role,
        discoveredOn: a.discoveredOn,
        affectedTotal: total,
        ...Object.fromEntries(BREACH_FACTOR_KEYS.map((k) => [`factor.${k}`, a.factors[k].rating])),
      };
      const entry = await appendTimeline(
        tx,
        actor.tenantId,
        incidentId,
        { kind: 'assessment', actorUserId: actor.userId, details },
        now,
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_BREACH_ASSESS,
        [{ type: 'incident', id: incidentId }],
        { ...details, entry: entry.entry },
      );
    });
    return this.view(actor.tenantId, incidentId);
  }

  /** The current assessment, the clock as of today, and the notices recorded. */
  async view(tenantId: TenantId, incidentId: string): Promise<BreachClockView> {
    checkId('incident', incidentId);
    const today = utcDay(this.clock.now());
    return this.db.withTenant(tenantId, async (tx) => {
      const exists = await tx.query(
        'SELECT 1 FROM compliance_incidents WHERE tenant_id = $1 AND id = $2',
        [tenantId, incidentId],
      );
      if (exists.rows.length === 0) throw notFound('incident');
      const a = await currentAssessment(tx, tenantId, incidentId);
      const notices = await readNotices(tx, tenantId, incidentId);
      return {
        assessment: a,
        deadlines: clockOf(a, notices, today),
        notices,
        missingNoticeElements:
          a?.decision === 'breach' && a.role === 'covered_entity'
            ? missingElements({ ...a, organisation: '-' })
            : [],
      };
    });
  }

  /** Every version of the assessment, oldest first. */
  async history(tenantId: TenantId, incidentId: string): Promise<BreachAssessment[]> {
    checkId('incident', incidentId);
    return this.db.withTenant(tenantId, async (tx) => {
      // Another tenant's incident answers like a missing one, not as an empty history.
      const exists = await tx.query(
        'SELECT 1 FROM compliance_incidents WHERE tenant_id = $1 AND id = $2',
        [tenantId, incidentId],
      );
      if (exists.rows.length === 0) throw new AppError('not_found', 'no such incident');
      const { rows } = await tx.query<AssessmentRow>(
        `SELECT ${ASSESSMENT_COLUMNS} FROM compliance_breach_assessments
          WHERE tenant_id = $1 AND incident_id = $2 ORDER BY version`,
        [tenantId, incidentId],
      );
      return rows.map(toAssessment);
    });
  }

  /** Records a notice sent for one of the current clock's deadlines. */
  async recordNotice(
    actor: ProgramActor,
    incidentId: string,
    input: {
      readonly recipient: NoticeRecipient;
      readonly jurisdiction: string | null;
      readonly sentOn: string;
      readonly method: string;
      readonly recipientsCount: number | null;
    },
  ): Promise<BreachNotice> {
    const now = this.clock.now();
    const today = utcDay(now);
    const sentOn = checkDate('sentOn', input.sentOn);
    if (sentOn > today) {
      throw new AppError('validation_failed', 'record a notice once it is sent', {
        detail: 'sentOn',
      });
    }
    const method = checkText('method', input.method, 1, 200);
    const count =
      input.recipientsCount === null
        ? null
        : checkInt('recipientsCount', input.recipientsCount, 0, 1_000_000_000);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await lockIncident(tx, actor.tenantId, incidentId);
      const a = await currentAssessment(tx, actor.tenantId, incidentId);
      const due = clockOf(a, [], today).find(
        (d) => d.recipient === input.recipient && d.jurisdiction === input.jurisdiction,
      );
      if (a === null || due === undefined) {
        throw new AppError('conflict', 'the current assessment requires no such notice', {
          detail: 'recipient',
        });
      }
      if (sentOn < a.discoveredOn) {
        throw new AppError('validation_failed', 'a notice cannot precede the discovery', {
          detail: 'sentOn',
        });
      }
      const id = this.random.uuid();
      const { rows } = await tx.query<NoticeRow>(
        `INSERT INTO compliance_breach_notices (id, tenant_id, incident_id, recipient, jurisdiction,
           sent_on, method, recipients_count, recorded_by, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING id, recipient, jurisdiction, sent_on::text AS sent_on, method, recipients_count,
                   recorded_by, recorded_at`,
        [
          id,
          actor.tenantId,
          incidentId,
          input.recipient,
          input.jurisdiction,
          sentOn,
          method,
          count,
          actor.userId,
          now,
        ],
      );
      if (rows[0] === undefined) throw new AppError('internal', 'notice insert returned no row');
      const details = {
        noticeId: id,
        recipient: input.recipient,
        jurisdiction: input.jurisdiction,
        sentOn,
        dueOn: due.dueOn,
        late: sentOn > due.dueOn,
      };
      const entry = await appendTimeline(
        tx,
        actor.tenantId,
        incidentId,
        { kind: 'notice', actorUserId: actor.userId, details },
        now,
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_BREACH_NOTICE,
        [{ type: 'incident', id: incidentId }],
        { ...details, entry: entry.entry },
      );
      return toNotice(rows[0]);
    });
  }

  /**
   * The draft individual notice (covered entity, decision `breach`); `conflict` naming what is
   * missing otherwise. The draft is returned, never stored or logged.
   */
  async letter(tenantId: TenantId, incidentId: string): Promise<DraftLetter> {
    checkId('incident', incidentId);
    return this.db.withTenant(tenantId, async (tx) => {
      const exists = await tx.query<{ name: string }>(
        `SELECT t.name FROM compliance_incidents i JOIN tenants t ON t.id = i.tenant_id
          WHERE i.tenant_id = $1 AND i.id = $2`,
        [tenantId, incidentId],
      );
      const organisation = exists.rows[0]?.name;
      if (organisation === undefined) throw notFound('incident');
      const a = await currentAssessment(tx, tenantId, incidentId);
      if (a?.decision !== 'breach') {
        throw new AppError('conflict', 'only a breach decision calls for a notice', {
          detail: 'decision',
        });
      }
      if (a.role !== 'covered_entity') {
        throw new AppError(
          'conflict',
          'a business associate notifies the covered entity (164.410(c)), not individuals',
          { detail: 'role' },
        );
      }
      return draftBreachLetter({ ...a, organisation });
    });
  }
}
