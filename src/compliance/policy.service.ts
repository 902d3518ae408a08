/**
 * Policies and procedures (45 CFR 164.316(a)-(b)): documents with versions, each approved by
 * someone other than its author, effective from a date, reviewed on a cycle (164.316(b)(2)(iii)
 * periodic review), made available to and acknowledged by the workforce (164.316(b)(2)(ii)).
 * The version in force is the newest approved one whose effective date has come.
 */
import { createHash } from 'node:crypto';
import { AppError, cryptoRandom, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { MonitoringActions } from '../monitoring/index.js';
import { addDays, addMonths, checkDate, utcDay } from './dates.js';
import {
  REVIEW_OUTCOMES,
  VERSION_FROM,
  VERSION_SELECT,
  activeMembers,
  effectiveVersion,
  policyStates,
  policySummaries,
  summarise,
  type PolicyContent,
  type PolicyDetail,
  type PolicySummary,
  type VersionRow,
} from './policy-state.js';
import {
  auditProgram,
  checkId,
  checkInt,
  checkOneOf,
  checkText,
  lockRecord,
  notFound,
  staleVersion,
  type ProgramActor,
} from './program-common.js';

export {
  REVIEW_OUTCOMES,
  activeMembers,
  effectiveVersion,
  nextReviewOf,
  policySummaries,
  type PolicyContent,
  type PolicyDetail,
  type PolicyReview,
  type PolicySummary,
  type PolicyVersion,
} from './policy-state.js';

function checkContent(c: PolicyContent): PolicyContent {
  return {
    title: checkText('title', c.title, 1, 200),
    body: checkText('body', c.body, 1, 200_000),
    effectiveDate: checkDate('effectiveDate', c.effectiveDate),
    reviewCycleMonths: checkInt('reviewCycleMonths', c.reviewCycleMonths, 1, 36),
    acknowledgementDays: checkInt('acknowledgementDays', c.acknowledgementDays, 1, 365),
  };
}

export class PolicyService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random = cryptoRandom,
  ) {}

  /** A new policy with its first (draft) version, authored by `actor`. */
  async create(actor: ProgramActor, key: string, content: PolicyContent): Promise<PolicyDetail> {
    if (!/^[a-z][a-z0-9_-]{1,63}$/.test(key)) {
      throw new AppError(
        'validation_failed',
        'key must be 2-64 lower-case letters, digits, _ or -',
        {
          detail: 'key',
        },
      );
    }
    const c = checkContent(content);
    const id = this.random.uuid();
    await this.db.withTenant(actor.tenantId, async (tx) => {
      const taken = await tx.query(
        'SELECT 1 FROM compliance_policies WHERE tenant_id = $1 AND key = $2',
        [actor.tenantId, key],
      );
      if (taken.rows.length > 0) {
        throw new AppError('conflict', 'a policy with this key exists', { detail: 'key' });
      }
      await tx.query(
        `INSERT INTO compliance_policies (id, tenant_id, key, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [id, actor.tenantId, key, actor.userId, this.clock.now()],
      );
      await this.#insertVersion(tx, actor, id, 1, c, 'created');
    });
    return this.get(actor.tenantId, id);
  }

  /** A new draft version (made from `baseVersion`, the newest one), authored by `actor`. */
  async revise(
    actor: ProgramActor,
    policyId: string,
    baseVersion: number,
    content: PolicyContent,
    reason: string,
  ): Promise<PolicyDetail> {
    checkId('policy', policyId);
    const c = checkContent(content);
    const why = checkText('reason', reason, 1, 1000);
    await this.db.withTenant(actor.tenantId, async (tx) => {
      await lockRecord(tx, 'policy', policyId);
      const latest = await latestVersion(tx, actor.tenantId, policyId);
      if (latest !== baseVersion) throw staleVersion('policy', latest);
      await this.#insertVersion(tx, actor, policyId, latest + 1, c, why);
    });
    return this.get(actor.tenantId, policyId);
  }

  async #insertVersion(
    tx: Tx,
    actor: ProgramActor,
    policyId: string,
    version: number,
    c: PolicyContent,
    reason: string,
  ): Promise<void> {
    const sha = createHash('sha256').update(c.body, 'utf8').digest('hex');
    await tx.query(
      `INSERT INTO compliance_policy_versions (tenant_id, policy_id, version, title, body,
         body_sha256, author_id, effective_date, review_cycle_months, acknowledgement_days, reason,
         created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
        actor.tenantId,
        policyId,
        version,
        c.title,
        c.body,
        sha,
        actor.userId,
        c.effectiveDate,
        c.reviewCycleMonths,
        c.acknowledgementDays,
        reason,
        this.clock.now(),
      ],
    );
    await auditProgram(
      tx,
      this.clock,
      actor,
      MonitoringActions.COMPLIANCE_POLICY_VERSION,
      [{ type: 'policy', id: policyId }],
      { version, bodySha256: sha, effectiveDate: c.effectiveDate },
    );
  }

  /**
   * Approves the newest version. The approver must not be its author (separation of duties;
   * the database refuses it too); a refused self-approval is itself audited.
   */
  async approve(actor: ProgramActor, policyId: string, version: number): Promise<PolicyDetail> {
    checkId('policy', policyId);
    await this.db.withTenant(actor.tenantId, async (tx) => {
      await lockRecord(tx, 'policy', policyId);
      const { rows } = await tx.query<VersionRow>(
        `${VERSION_SELECT} ${VERSION_FROM} WHERE v.tenant_id = $1 AND v.policy_id = $2 AND v.version = $3`,
        [actor.tenantId, policyId, version],
      );
      const v = rows[0];
      if (v === undefined) throw notFound('policy version');
      if (v.approved_at !== null)
        throw new AppError('conflict', 'this version is already approved');
      if ((await latestVersion(tx, actor.tenantId, policyId)) !== version) {
        throw new AppError('conflict', 'a newer version exists; approve that one', {
          detail: 'version',
        });
      }
      if (v.author_id === actor.userId) {
        // Recorded in a transaction of its own: the refusal below rolls this one back.
        await this.db.withTenant(actor.tenantId, (t2) =>
          auditProgram(
            t2,
            this.clock,
            actor,
            MonitoringActions.COMPLIANCE_POLICY_APPROVE,
            [{ type: 'policy', id: policyId }],
            { version, reason: 'author_cannot_approve' },
            'denied',
          ),
        );
        throw new AppError('forbidden', 'the author of a policy version cannot approve it', {
          detail: 'author',
        });
      }
      await tx.query(
        `INSERT INTO compliance_policy_approvals (tenant_id, policy_id, version, author_id,
           approved_by, approved_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [actor.tenantId, policyId, version, v.author_id, actor.userId, this.clock.now()],
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_POLICY_APPROVE,
        [{ type: 'policy', id: policyId }],
        { version, authorId: v.author_id, effectiveDate: v.effective_date },
      );
    });
    return this.get(actor.tenantId, policyId);
  }

  /** Records the periodic review of the version in force; sets the next review date. */
  async review(
    actor: ProgramActor,
    policyId: string,
    input: { readonly outcome: string; readonly note: string | null; readonly reviewedOn?: string },
  ): Promise<PolicyDetail> {
    checkId('policy', policyId);
    const today = utcDay(this.clock.now());
    const outcome = checkOneOf('outcome', input.outcome, REVIEW_OUTCOMES);
    const note = input.note === null ? null : checkText('note', input.note, 1, 2000);
    const reviewedOn = checkDate('reviewedOn', input.reviewedOn ?? today);
    if (reviewedOn > today) {
      throw new AppError('validation_failed', 'reviewedOn cannot be in the future', {
        detail: 'reviewedOn',
      });
    }
    await this.db.withTenant(actor.tenantId, async (tx) => {
      await lockRecord(tx, 'policy', policyId);
      const [p] = await policyStates(tx, actor.tenantId, policyId);
      if (p === undefined) throw notFound('policy');
      const effective = effectiveVersion(p.versions, today);
      if (effective === null) {
        throw new AppError('conflict', 'no version of this policy is in force yet');
      }
      const next = addMonths(reviewedOn, effective.reviewCycleMonths);
      const id = this.random.uuid();
      await tx.query(
        `INSERT INTO compliance_policy_reviews (id, tenant_id, policy_id, version, reviewed_by,
           reviewed_on, outcome, note, next_review, recorded_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          id,
          actor.tenantId,
          policyId,
          effective.version,
          actor.userId,
          reviewedOn,
          outcome,
          note,
          next,
          this.clock.now(),
        ],
      );
      await auditProgram(
        tx,
        this.clock,
        actor,
        MonitoringActions.COMPLIANCE_POLICY_REVIEW,
        [{ type: 'policy', id: policyId }],
        { version: effective.version, outcome, reviewedOn, nextReview: next },
      );
    });
    return this.get(actor.tenantId, policyId);
  }

  /** The signed-in member acknowledges an approved version (idempotent). */
  async acknowledge(
    actor: ProgramActor,
    policyId: string,
    version: number,
  ): Promise<{ policyId: string; version: number; acknowledgedAt: string }> {
    checkId('policy', policyId);
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const approved = await tx.query(
        `SELECT 1 FROM compliance_policy_approvals
          WHERE tenant_id = $1 AND policy_id = $2 AND version = $3`,
        [actor.tenantId, policyId, version],
      );
      if (approved.rows.length === 0) throw notFound('approved policy version');
      const { rows } = await tx.query<{ acknowledged_at: Date; created: boolean }>(
        `WITH ins AS (
           INSERT INTO compliance_policy_acknowledgements (tenant_id, policy_id, version, user_id,
             acknowledged_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING acknowledged_at)
         SELECT acknowledged_at, true AS created FROM ins
         UNION ALL
         SELECT acknowledged_at, false FROM compliance_policy_acknowledgements
          WHERE tenant_id = $1 AND policy_id = $2 AND version = $3 AND user_id = $4`,
        [actor.tenantId, policyId, version, actor.userId, this.clock.now()],
      );
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'acknowledgement not stored');
      if (row.created) {
        await auditProgram(
          tx,
          this.clock,
          actor,
          MonitoringActions.COMPLIANCE_POLICY_ACKNOWLEDGE,
          [{ type: 'policy', id: policyId }],
          { version },
        );
      }
      return { policyId, version, acknowledgedAt: row.acknowledged_at.toISOString() };
    });
  }

  async list(tenantId: TenantId): Promise<PolicySummary[]> {
    const today = utcDay(this.clock.now());
    return this.db.withTenant(tenantId, async (tx) =>
      (await policySummaries(tx, tenantId, today)).map((s) => s.summary),
    );
  }

  async get(tenantId: TenantId, policyId: string): Promise<PolicyDetail> {
    checkId('policy', policyId);
    const today = utcDay(this.clock.now());
    return this.db.withTenant(tenantId, async (tx) => {
      const [p] = await policyStates(tx, tenantId, policyId);
      if (p === undefined) throw notFound('policy');
      const { summary, missing } = await summarise(
        tx,
        tenantId,
        p,
        await activeMembers(tx, tenantId),
        today,
      );
      const { rows } = await tx.query<{ version: number; body: string }>(
        `SELECT version, body FROM compliance_policy_versions
          WHERE tenant_id = $1 AND policy_id = $2 ORDER BY version`,
        [tenantId, policyId],
      );
      const bodies = new Map(rows.map((r) => [r.version, r.body]));
      return {
        ...summary,
        versions: p.versions.map((v) => ({ ...v, body: bodies.get(v.version) ?? '' })),
        reviews: p.reviews,
        missingAcknowledgements: missing,
      };
    });
  }

  /** The versions in force for the signed-in member, with whether they acknowledged each. */
  async mine(actor: ProgramActor): Promise<
    {
      policyId: string;
      key: string;
      version: number;
      title: string;
      body: string;
      effectiveDate: string;
      acknowledgeBy: string;
      acknowledgedAt: string | null;
    }[]
  > {
    const today = utcDay(this.clock.now());
    return this.db.withTenant(actor.tenantId, async (tx) => {
      const out = [];
      for (const p of await policyStates(tx, actor.tenantId)) {
        const v = effectiveVersion(p.versions, today);
        if (v === null) continue;
        const { rows } = await tx.query<{ body: string; acknowledged_at: Date | null }>(
          `SELECT v.body, a.acknowledged_at FROM compliance_policy_versions v
             LEFT JOIN compliance_policy_acknowledgements a
               ON a.tenant_id = v.tenant_id AND a.policy_id = v.policy_id AND a.version = v.version
              AND a.user_id = $4
            WHERE v.tenant_id = $1 AND v.policy_id = $2 AND v.version = $3`,
          [actor.tenantId, p.id, v.version, actor.userId],
        );
        out.push({
          policyId: p.id,
          key: p.key,
          version: v.version,
          title: v.title,
          body: rows[0]?.body ?? '',
          effectiveDate: v.effectiveDate,
          acknowledgeBy: addDays(v.effectiveDate, v.acknowledgementDays),
          acknowledgedAt: rows[0]?.acknowledged_at?.toISOString() ?? null,
        });
      }
      return out;
    });
  }
}

async function latestVersion(tx: Tx, tenantId: TenantId, policyId: string): Promise<number> {
  const { rows } = await tx.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM compliance_policy_versions
      WHERE tenant_id = $1 AND policy_id = $2`,
    [tenantId, policyId],
  );
  const v = rows[0]?.version ?? null;
  if (v === null) throw notFound('policy');
  return v;
}
