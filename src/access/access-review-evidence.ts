/**
 * What access reviews leave behind (45 CFR 164.308(a)(1)(ii)(D), 164.308(a)(4)(ii)(C),
 * 164.316(b)(1) documentation): escalation of overdue campaigns, the JSON evidence of closed
 * campaigns (immutable after close, enforced by triggers in 0013_access_reviews.sql), and the
 * last completed review for the compliance control check.
 */
import type { Clock, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { ACCESS_REVIEW_ESCALATED } from '../monitoring/actions.js';
import { auditAccess, type AccessActor } from './access-audit.js';
import {
  CAMPAIGN_COLUMNS,
  ITEM_COLUMNS,
  toCampaign,
  toItem,
  type CampaignRow,
  type ItemRow,
} from './access-review.types.js';

/** Undecided items of a campaign. */
export async function unreviewedCount(tx: Tx, campaignId: string): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM access_review_items WHERE campaign_id = $1 AND decision IS NULL',
    [campaignId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Escalates, once each, the open campaigns of `tenantId` past their due date with undecided
 * items: an `access.review.escalated` audit record, on which the monitoring rule
 * `access_review_overdue` alerts. Idempotent; run it on a schedule (and before a close).
 */
export async function escalateOverdueReviews(
  db: Database,
  clock: Clock,
  tenantId: TenantId,
  actor: AccessActor = 'system',
): Promise<{ campaignId: string; unreviewed: number }[]> {
  return db.withTenant(tenantId, (tx) => escalateIn(tx, clock, tenantId, actor));
}

/** {@link escalateOverdueReviews} for every tenant (the scheduled job); failures are collected. */
export async function escalateAllOverdueReviews(
  db: Database,
  clock: Clock,
): Promise<{
  escalated: { tenantId: TenantId; campaignId: string; unreviewed: number }[];
  failures: { tenantId: TenantId; error: unknown }[];
}> {
  const ids = await db.withoutTenant(
    async (tx) => (await tx.query<{ id: TenantId }>('SELECT scrip_tenant_ids() AS id')).rows,
  );
  const escalated: { tenantId: TenantId; campaignId: string; unreviewed: number }[] = [];
  const failures: { tenantId: TenantId; error: unknown }[] = [];
  for (const { id } of ids) {
    try {
      for (const e of await escalateOverdueReviews(db, clock, id)) {
        escalated.push({ tenantId: id, ...e });
      }
    } catch (error) {
      failures.push({ tenantId: id, error });
    }
  }
  return { escalated, failures };
}

export async function escalateIn(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  actor: AccessActor,
  only?: string,
): Promise<{ campaignId: string; unreviewed: number }[]> {
  const now = clock.now();
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM access_review_campaigns
      WHERE tenant_id = $1 AND status = 'open' AND due_at <= $2 AND escalated_at IS NULL
        AND ($3::uuid IS NULL OR id = $3)
      ORDER BY due_at, id FOR UPDATE`,
    [tenantId, now, only ?? null],
  );
  const out: { campaignId: string; unreviewed: number }[] = [];
  for (const { id } of rows) {
    const unreviewed = await unreviewedCount(tx, id);
    if (unreviewed === 0) continue;
    await tx.query('UPDATE access_review_campaigns SET escalated_at = $2 WHERE id = $1', [id, now]);
    await auditAccess(tx, clock, {
      tenantId,
      actor,
      action: ACCESS_REVIEW_ESCALATED,
      outcome: 'success',
      subjects: [{ type: 'access_review', id }],
      details: { unreviewed },
    });
    out.push({ campaignId: id, unreviewed });
  }
  return out;
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/**
 * Evidence of the tenant's closed access reviews, as JSON-ready data: each campaign with its
 * scope, reviewers, dates, and every item's roles, decision, decider and outcome. Identifiers
 * only (no names, no email addresses). For the compliance evidence export.
 */
export async function accessReviewEvidence(tx: Tx, tenantId: TenantId) {
  const { rows } = await tx.query<CampaignRow>(
    `SELECT ${CAMPAIGN_COLUMNS} FROM access_review_campaigns
      WHERE tenant_id = $1 AND status = 'closed' ORDER BY closed_at, id`,
    [tenantId],
  );
  const campaigns = [];
  for (const row of rows) {
    const c = toCampaign(row);
    const items = await tx.query<ItemRow>(
      `SELECT ${ITEM_COLUMNS} FROM access_review_items WHERE campaign_id = $1 ORDER BY user_id`,
      [c.id],
    );
    campaigns.push({
      id: c.id,
      name: c.name,
      status: c.status,
      scope: c.scope,
      scopeRoles: [...c.scopeRoles],
      reviewers: [...c.reviewers],
      createdBy: c.createdBy,
      createdAt: c.createdAt.toISOString(),
      openedAt: iso(c.openedAt),
      dueAt: c.dueAt.toISOString(),
      escalatedAt: iso(c.escalatedAt),
      closedBy: c.closedBy,
      closedAt: iso(c.closedAt),
      unreviewedAtClose: c.unreviewedAtClose,
      items: items.rows.map(toItem).map((i) => ({
        userId: i.userId,
        roles: [...i.roles],
        decision: i.decision,
        decidedBy: i.decidedBy,
        decidedAt: iso(i.decidedAt),
        note: i.note,
        outcome: i.outcome,
        appliedAt: iso(i.appliedAt),
      })),
    });
  }
  return { kind: 'scrip.access-review-evidence', version: 1, tenantId, campaigns };
}

export type AccessReviewEvidence = Awaited<ReturnType<typeof accessReviewEvidence>>;

/** The most recently closed campaign of the tenant, or null (the compliance control check). */
export async function lastCompletedReview(
  tx: Tx,
  tenantId: TenantId,
): Promise<{
  campaignId: string;
  name: string;
  closedAt: Date;
  items: number;
  unreviewed: number;
} | null> {
  const { rows } = await tx.query<{
    id: string;
    name: string;
    closed_at: Date;
    unreviewed_at_close: number;
    items: number;
  }>(
    `SELECT c.id, c.name, c.closed_at, c.unreviewed_at_close,
            (SELECT count(*)::int FROM access_review_items i WHERE i.campaign_id = c.id) AS items
       FROM access_review_campaigns c
      WHERE c.tenant_id = $1 AND c.status = 'closed' ORDER BY c.closed_at DESC, c.id LIMIT 1`,
    [tenantId],
  );
  const r = rows[0];
  if (r === undefined) return null;
  return {
    campaignId: r.id,
    name: r.name,
    closedAt: r.closed_at,
    items: r.items,
    unreviewed: r.unreviewed_at_close,
  };
}
