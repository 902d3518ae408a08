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
import type { Keyring } from '../crypto/keyring.js';
import type { Database } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import {
  BREACH_FACTOR_KEYS,
  checkAssessment,
  type BreachAssessment,
  type BreachAssessmentInput,
  type BreachNotice,
} from './breach-assessment.js';
import { affectedTotal, type DeadlineStatus, type NoticeRecipient } from './breach-clock.js';
import { draftBreachLetter, missingElements, type DraftLetter } from './breach-letter.js';
import {
  ASSESSMENT_COLUMNS,
  clockOf,
  currentAssessment,
  readNotices,
  toAssessment,
  toNotice,
  type AssessmentRow,
  type NoticeRow,
} from './breach-store.js';
import { checkDate, utcDay } from './dates.js';
import {
  BREACH_ASSESSMENTS_SEALED,
  narrativeCipher,
  type Narrative,
} from './incident-narrative.js';
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

export { breachClocks, clockOf, currentAssessment, readNotices } from './breach-store.js';

export interface BreachClockView {
  readonly assessment: BreachAssessment | null;
  readonly deadlines: readonly DeadlineStatus[];
  readonly notices: readonly BreachNotice[];
  /** 164.404(c) elements still missing from the notice content (breaches only). */
  readonly missingNoticeElements: readonly string[];
}

export class BreachService {
  readonly #narrative: Narrative;

  constructor(
    private readonly db: Database,
    keyring: Keyring,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {
    this.#narrative = narrativeCipher(keyring);
  }

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
      const cur = await currentAssessment(tx, this.#narrative, actor.tenantId, incidentId);
      const version = cur?.version ?? 0;
      if (version !== baseVersion) throw staleVersion('breach assessment', version);
      const total = affectedTotal(a);
      const rowId = this.random.uuid();
      const { version: dek, sealed } = await this.#narrative.seal(
        tx,
        actor.tenantId,
        BREACH_ASSESSMENTS_SEALED,
        rowId,
        { rationale: a.rationale, notice: a.notice === null ? null : JSON.stringify(a.notice) },
      );
      await tx.query(
        `INSERT INTO compliance_breach_assessments (id, tenant_id, incident_id, version, factors,
           decision, exception, rationale, role, discovered_on, occurred_from, occurred_to,
           affected_by_jurisdiction, affected_total, phi_types, notice, assessed_by, assessed_at,
           dek_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                 $19)`,
        [
          rowId,
          actor.tenantId,
          incidentId,
          version + 1,
          JSON.stringify(a.factors),
          a.decision,
          a.exception,
          sealed.rationale,
          a.role,
          a.discoveredOn,
          a.occurredFrom,
          a.occurredTo,
          JSON.stringify(a.affectedByJurisdiction),
          total,
          a.phiTypes,
          sealed.notice,
          actor.userId,
          now,
          dek,
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
        this.#narrative,
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
      const a = await currentAssessment(tx, this.#narrative, tenantId, incidentId);
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
      const out: BreachAssessment[] = [];
      for (const r of rows) out.push(await toAssessment(tx, this.#narrative, tenantId, r));
      return out;
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
      const a = await currentAssessment(tx, this.#narrative, actor.tenantId, incidentId);
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
        this.#narrative,
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
      const a = await currentAssessment(tx, this.#narrative, tenantId, incidentId);
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
