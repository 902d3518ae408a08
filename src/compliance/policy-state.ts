/**
 * The read model of policies (45 CFR 164.316(b)(2)): versions with their approvals, reviews, the
 * version in force, the next review date and who still has to acknowledge it. Shared by the
 * policy service, the periodic checks and the program evidence.
 */
import { AppError, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { addMonths } from './dates.js';

export interface PolicyContent {
  readonly title: string;
  readonly body: string;
  /** YYYY-MM-DD from which the version is in force (once approved). */
  readonly effectiveDate: string;
  readonly reviewCycleMonths: number;
  /** Days after the effective date by which every member acknowledges it. */
  readonly acknowledgementDays: number;
}

export interface PolicyVersion extends Omit<PolicyContent, 'body'> {
  readonly version: number;
  readonly bodySha256: string;
  readonly authorId: string;
  readonly reason: string;
  readonly createdAt: string;
  readonly approvedBy: string | null;
  readonly approvedAt: string | null;
}

export interface PolicyReview {
  readonly id: string;
  readonly version: number;
  readonly reviewedBy: string;
  readonly reviewedOn: string;
  readonly outcome: 'no_change' | 'revision_needed';
  readonly note: string | null;
  readonly nextReview: string;
}

export interface PolicySummary {
  readonly id: string;
  readonly key: string;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly latest: PolicyVersion;
  /** The version in force today, or null. */
  readonly effective: PolicyVersion | null;
  readonly nextReview: string | null;
  readonly reviewDue: boolean;
  /** For the version in force: active members, and how many of them acknowledged it. */
  readonly acknowledgements: { readonly required: number; readonly acknowledged: number } | null;
}

export interface PolicyDetail extends PolicySummary {
  readonly versions: readonly (PolicyVersion & { readonly body: string })[];
  readonly reviews: readonly PolicyReview[];
  /** Active members who have not acknowledged the version in force. */
  readonly missingAcknowledgements: readonly string[];
}

export const REVIEW_OUTCOMES = ['no_change', 'revision_needed'] as const;

export interface VersionRow {
  policy_id: string;
  version: number;
  title: string;
  body?: string;
  body_sha256: string;
  author_id: string;
  effective_date: string;
  review_cycle_months: number;
  acknowledgement_days: number;
  reason: string;
  created_at: Date;
  approved_by: string | null;
  approved_at: Date | null;
}

export const VERSION_SELECT = `SELECT v.policy_id, v.version, v.title, v.body_sha256, v.author_id,
  v.effective_date::text AS effective_date, v.review_cycle_months, v.acknowledgement_days, v.reason,
  v.created_at, a.approved_by, a.approved_at`;
export const VERSION_FROM = `FROM compliance_policy_versions v
  LEFT JOIN compliance_policy_approvals a
    ON a.tenant_id = v.tenant_id AND a.policy_id = v.policy_id AND a.version = v.version`;

function toVersion(r: VersionRow): PolicyVersion {
  return {
    version: r.version,
    title: r.title,
    bodySha256: r.body_sha256,
    authorId: r.author_id,
    effectiveDate: r.effective_date,
    reviewCycleMonths: r.review_cycle_months,
    acknowledgementDays: r.acknowledgement_days,
    reason: r.reason,
    createdAt: r.created_at.toISOString(),
    approvedBy: r.approved_by,
    approvedAt: r.approved_at?.toISOString() ?? null,
  };
}

interface ReviewRow {
  id: string;
  policy_id: string;
  version: number;
  reviewed_by: string;
  reviewed_on: string;
  outcome: 'no_change' | 'revision_needed';
  note: string | null;
  next_review: string;
}

function toReview(r: ReviewRow): PolicyReview {
  return {
    id: r.id,
    version: r.version,
    reviewedBy: r.reviewed_by,
    reviewedOn: r.reviewed_on,
    outcome: r.outcome,
    note: r.note,
    nextReview: r.next_review,
  };
}

/** The version in force on `today`: the newest approved one already effective. */
export function effectiveVersion(
  versions: readonly PolicyVersion[],
  today: string,
): PolicyVersion | null {
  const inForce = versions
    .filter((v) => v.approvedAt !== null && v.effectiveDate <= today)
    .sort((a, b) => b.version - a.version);
  return inForce[0] ?? null;
}

/**
 * When the version in force is next due for review: after its latest review, the date that review
 * set; before any, its effective date plus the review cycle.
 */
export function nextReviewOf(effective: PolicyVersion, reviews: readonly PolicyReview[]): string {
  const own = reviews.filter((r) => r.version === effective.version);
  const last = own.sort((a, b) => (a.reviewedOn < b.reviewedOn ? 1 : -1))[0];
  return last?.nextReview ?? addMonths(effective.effectiveDate, effective.reviewCycleMonths);
}

/** Active members of the tenant (the workforce that must acknowledge policies). */
export async function activeMembers(tx: Tx, tenantId: TenantId): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT u.id FROM memberships m JOIN users u ON u.id = m.user_id
      WHERE m.tenant_id = $1 AND u.status = 'active' ORDER BY u.id`,
    [tenantId],
  );
  return rows.map((r) => r.id);
}

export interface PolicyState {
  readonly id: string;
  readonly key: string;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly versions: PolicyVersion[];
  readonly reviews: PolicyReview[];
}

/** Every policy of the tenant with its versions (no bodies) and reviews. */
export async function policyStates(
  tx: Tx,
  tenantId: TenantId,
  policyId?: string,
): Promise<PolicyState[]> {
  const { rows: policies } = await tx.query<{
    id: string;
    key: string;
    created_by: string;
    created_at: Date;
  }>(
    `SELECT id, key, created_by, created_at FROM compliance_policies
      WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id = $2) ORDER BY key`,
    [tenantId, policyId ?? null],
  );
  const { rows: versions } = await tx.query<VersionRow>(
    `${VERSION_SELECT} ${VERSION_FROM}
      WHERE v.tenant_id = $1 AND ($2::uuid IS NULL OR v.policy_id = $2) ORDER BY v.version`,
    [tenantId, policyId ?? null],
  );
  const { rows: reviews } = await tx.query<ReviewRow>(
    `SELECT id, policy_id, version, reviewed_by, reviewed_on::text AS reviewed_on, outcome, note,
            next_review::text AS next_review
       FROM compliance_policy_reviews
      WHERE tenant_id = $1 AND ($2::uuid IS NULL OR policy_id = $2) ORDER BY reviewed_on, recorded_at`,
    [tenantId, policyId ?? null],
  );
  return policies.map((p) => ({
    id: p.id,
    key: p.key,
    createdBy: p.created_by,
    createdAt: p.created_at,
    versions: versions.filter((v) => v.policy_id === p.id).map(toVersion),
    reviews: reviews.filter((r) => r.policy_id === p.id).map(toReview),
  }));
}

async function acknowledgedBy(
  tx: Tx,
  tenantId: TenantId,
  policyId: string,
  version: number,
): Promise<Set<string>> {
  const { rows } = await tx.query<{ user_id: string }>(
    `SELECT user_id FROM compliance_policy_acknowledgements
      WHERE tenant_id = $1 AND policy_id = $2 AND version = $3`,
    [tenantId, policyId, version],
  );
  return new Set(rows.map((r) => r.user_id));
}

/** Summaries of every policy as of `today` (also the source of the periodic checks). */
export async function policySummaries(
  tx: Tx,
  tenantId: TenantId,
  today: string,
): Promise<{ summary: PolicySummary; missing: string[] }[]> {
  const members = await activeMembers(tx, tenantId);
  const out: { summary: PolicySummary; missing: string[] }[] = [];
  for (const p of await policyStates(tx, tenantId)) {
    out.push(await summarise(tx, tenantId, p, members, today));
  }
  return out;
}

export async function summarise(
  tx: Tx,
  tenantId: TenantId,
  p: PolicyState,
  members: readonly string[],
  today: string,
): Promise<{ summary: PolicySummary; missing: string[] }> {
  const latest = p.versions.at(-1);
  if (latest === undefined) throw new AppError('internal', 'a policy without versions');
  const effective = effectiveVersion(p.versions, today);
  const nextReview = effective === null ? null : nextReviewOf(effective, p.reviews);
  let acknowledgements: PolicySummary['acknowledgements'] = null;
  let missing: string[] = [];
  if (effective !== null) {
    const acked = await acknowledgedBy(tx, tenantId, p.id, effective.version);
    missing = members.filter((m) => !acked.has(m));
    acknowledgements = { required: members.length, acknowledged: members.length - missing.length };
  }
  return {
    summary: {
      id: p.id,
      key: p.key,
      createdBy: p.createdBy,
      createdAt: p.createdAt.toISOString(),
      latest,
      effective,
      nextReview,
      reviewDue: nextReview !== null && nextReview <= today,
      acknowledgements,
    },
    missing,
  };
}
