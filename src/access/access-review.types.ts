/** Access-review campaigns and items as the services return them (see access-review.service.ts). */
export type CampaignStatus = 'draft' | 'open' | 'closed';
export type ReviewDecision = 'keep' | 'revoke';
export type ItemOutcome = 'kept' | 'revoked' | 'unreviewed' | 'already_gone';

export interface ReviewItem {
  readonly id: string;
  readonly userId: string;
  /** The roles under review, as snapshotted when the campaign opened. */
  readonly roles: readonly string[];
  readonly decision: ReviewDecision | null;
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly note: string | null;
  readonly outcome: ItemOutcome | null;
  readonly appliedAt: Date | null;
}

export interface Campaign {
  readonly id: string;
  readonly name: string;
  readonly scope: 'all' | 'roles';
  readonly scopeRoles: readonly string[];
  readonly reviewers: readonly string[];
  readonly dueAt: Date;
  readonly status: CampaignStatus;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly openedAt: Date | null;
  readonly escalatedAt: Date | null;
  readonly closedBy: string | null;
  readonly closedAt: Date | null;
  readonly unreviewedAtClose: number | null;
}

export interface CampaignRow {
  id: string;
  name: string;
  scope: 'all' | 'roles';
  scope_roles: string[];
  reviewers: string[];
  due_at: Date;
  status: CampaignStatus;
  created_by: string;
  created_at: Date;
  opened_at: Date | null;
  escalated_at: Date | null;
  closed_by: string | null;
  closed_at: Date | null;
  unreviewed_at_close: number | null;
}

export interface ItemRow {
  id: string;
  user_id: string;
  roles: string[];
  decision: ReviewDecision | null;
  decided_by: string | null;
  decided_at: Date | null;
  note: string | null;
  outcome: ItemOutcome | null;
  applied_at: Date | null;
}

export const CAMPAIGN_COLUMNS =
  'id, name, scope, scope_roles, reviewers, due_at, status, created_by, created_at, opened_at, escalated_at, closed_by, closed_at, unreviewed_at_close';
export const ITEM_COLUMNS =
  'id, user_id, roles, decision, decided_by, decided_at, note, outcome, applied_at';

export function toCampaign(r: CampaignRow): Campaign {
  return {
    id: r.id,
    name: r.name,
    scope: r.scope,
    scopeRoles: r.scope_roles,
    reviewers: r.reviewers,
    dueAt: r.due_at,
    status: r.status,
    createdBy: r.created_by,
    createdAt: r.created_at,
    openedAt: r.opened_at,
    escalatedAt: r.escalated_at,
    closedBy: r.closed_by,
    closedAt: r.closed_at,
    unreviewedAtClose: r.unreviewed_at_close,
  };
}

export function toItem(r: ItemRow): ReviewItem {
  return {
    id: r.id,
    userId: r.user_id,
    roles: r.roles,
    decision: r.decision,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    note: r.note,
    outcome: r.outcome,
    appliedAt: r.applied_at,
  };
}
