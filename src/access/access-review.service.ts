/**
 * Access reviews (recertification; 45 CFR 164.308(a)(3)(ii)(B) workforce clearance,
 * 164.308(a)(4)(ii)(C) access modification; OWASP ASVS V4). A campaign names its scope (every
 * membership of the tenant, or those holding selected roles), its reviewers and a due date.
 * Opening it snapshots the items (user, roles in scope); each reviewer attests keep or revoke
 * per item, never for their own account; closing applies the revocations (roles removed, the
 * membership ended when none remain, the user's sessions here ended) and freezes the results as
 * evidence. A campaign with undecided items closes only when told to, and reports them.
 */
import { AppError, isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { isRole, type RequestMeta, type SessionService } from '../identity/index.js';
import {
  ACCESS_REVIEW_CLOSED,
  ACCESS_REVIEW_CREATED,
  ACCESS_REVIEW_DECIDED,
  ACCESS_REVIEW_OPENED,
  ACCESS_REVIEW_REVOKED,
} from '../monitoring/actions.js';
import { auditAccess, auditRefusal } from './access-audit.js';
import type { AccessCaller } from './access-caller.js';
import { permissionsOf } from './role-catalog.js';
import { loadRoleCatalog } from './role-catalog.service.js';
import { escalateIn, unreviewedCount } from './access-review-evidence.js';
import {
  CAMPAIGN_COLUMNS,
  ITEM_COLUMNS,
  toCampaign,
  toItem,
  type Campaign,
  type CampaignRow,
  type ItemOutcome,
  type ItemRow,
  type ReviewDecision,
  type ReviewItem,
} from './access-review.types.js';

export interface CampaignInput {
  readonly name: string;
  /** Empty: every membership of the tenant; otherwise the memberships holding any of these. */
  readonly roles: readonly string[];
  readonly reviewers: readonly string[];
  readonly dueAt: Date;
}

export interface CloseResult {
  readonly campaign: Campaign;
  readonly revoked: number;
  readonly kept: number;
  readonly unreviewed: number;
  readonly endedSessions: number;
}

export class AccessReviewService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly uuid: () => string,
    private readonly sessions: SessionService,
  ) {}

  /** A draft campaign; every reviewer must be a member of the tenant holding `access.review`. */
  async create(caller: AccessCaller, input: CampaignInput, meta?: RequestMeta): Promise<Campaign> {
    const name = input.name.trim();
    if (name.length < 1 || name.length > 200) {
      throw new AppError('validation_failed', 'a name is required', { detail: 'name' });
    }
    const roles = [...new Set(input.roles)].sort();
    if (!roles.every(isRole)) {
      throw new AppError('validation_failed', 'unknown role', { detail: 'roles' });
    }
    const reviewers = [...new Set(input.reviewers)].sort();
    if (reviewers.length < 1 || reviewers.length > 20 || !reviewers.every(isUuid)) {
      throw new AppError('validation_failed', '1 to 20 reviewers', { detail: 'reviewers' });
    }
    const now = this.clock.now();
    if (Number.isNaN(input.dueAt.getTime()) || input.dueAt.getTime() <= now.getTime()) {
      throw new AppError('validation_failed', 'the due date must be in the future', {
        detail: 'dueAt',
      });
    }
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const { rows: members } = await tx.query<{ user_id: string; roles: string[] }>(
        'SELECT user_id, roles FROM memberships WHERE tenant_id = $1 AND user_id = ANY ($2)',
        [caller.tenantId, reviewers],
      );
      // The tenant's catalog in force (as sessions resolve it), not the built-in one.
      const { catalog } = await loadRoleCatalog(tx);
      const eligible = members.filter((m) => permissionsOf(catalog, m.roles).has('access.review'));
      if (eligible.length !== reviewers.length) {
        throw new AppError('validation_failed', 'every reviewer must hold access.review here', {
          detail: 'reviewers',
        });
      }
      const { rows } = await tx.query<CampaignRow>(
        `INSERT INTO access_review_campaigns (id, tenant_id, name, scope, scope_roles, reviewers,
           due_at, status, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9) RETURNING ${CAMPAIGN_COLUMNS}`,
        [
          this.uuid(),
          caller.tenantId,
          name,
          roles.length === 0 ? 'all' : 'roles',
          roles,
          reviewers,
          input.dueAt,
          caller.userId,
          now,
        ],
      );
      const c = toCampaign(rows[0] as CampaignRow);
      await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action: ACCESS_REVIEW_CREATED,
        outcome: 'success',
        subjects: [{ type: 'access_review', id: c.id }],
        details: { scope: c.scope, roles: roles.join(','), reviewers: reviewers.length },
        meta,
      });
      return c;
    });
  }

  /** Opens a draft: one item per membership in scope, with the roles under review. */
  async open(caller: AccessCaller, id: string, meta?: RequestMeta): Promise<Campaign> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const c = await this.#lock(tx, id);
      if (c.status !== 'draft')
        throw new AppError('conflict', 'already opened', { detail: c.status });
      const { rows: members } = await tx.query<{ user_id: string; roles: string[] }>(
        `SELECT user_id, roles FROM memberships
          WHERE tenant_id = $1 AND ($2::text[] = '{}' OR roles && $2) ORDER BY user_id`,
        [caller.tenantId, c.scopeRoles],
      );
      for (const m of members) {
        const roles =
          c.scope === 'all' ? [...m.roles].sort() : m.roles.filter((r) => c.scopeRoles.includes(r));
        await tx.query(
          `INSERT INTO access_review_items (id, tenant_id, campaign_id, user_id, roles)
           VALUES ($1, $2, $3, $4, $5)`,
          [this.uuid(), caller.tenantId, c.id, m.user_id, roles],
        );
      }
      const now = this.clock.now();
      const { rows } = await tx.query<CampaignRow>(
        `UPDATE access_review_campaigns SET status = 'open', opened_by = $2, opened_at = $3
          WHERE id = $1 RETURNING ${CAMPAIGN_COLUMNS}`,
        [c.id, caller.userId, now],
      );
      await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action: ACCESS_REVIEW_OPENED,
        outcome: 'success',
        subjects: [{ type: 'access_review', id: c.id }],
        details: { items: members.length },
        meta,
      });
      return toCampaign(rows[0] as CampaignRow);
    });
  }

  /** A reviewer of the campaign attests one item; nobody attests their own account. */
  async decide(
    caller: AccessCaller,
    campaignId: string,
    itemId: string,
    input: { readonly decision: ReviewDecision; readonly note?: string | undefined },
    meta?: RequestMeta,
  ): Promise<ReviewItem> {
    const note = input.note?.trim() ?? null;
    if (note !== null && note.length > 1000) {
      throw new AppError('validation_failed', 'note is too long', { detail: 'note' });
    }
    const attempt = {
      tenantId: caller.tenantId,
      actor: caller,
      action: ACCESS_REVIEW_DECIDED,
      subjects: [
        { type: 'access_review', id: campaignId },
        { type: 'access_review_item', id: itemId },
      ],
      meta,
    };
    return auditRefusal(this.db, this.clock, attempt, () =>
      this.db.withTenant(caller.tenantId, async (tx) => {
        const c = await this.#lock(tx, campaignId);
        if (!isUuid(itemId)) throw new AppError('not_found', 'no such item');
        const { rows } = await tx.query<ItemRow>(
          `SELECT ${ITEM_COLUMNS} FROM access_review_items
            WHERE id = $1 AND campaign_id = $2 FOR UPDATE`,
          [itemId, c.id],
        );
        const item = rows[0];
        if (item === undefined) throw new AppError('not_found', 'no such item');
        if (c.status !== 'open') throw new AppError('conflict', 'not open', { detail: c.status });
        if (!c.reviewers.includes(caller.userId)) {
          throw new AppError('forbidden', 'not a reviewer of this campaign', {
            detail: 'not_reviewer',
          });
        }
        if (item.user_id === caller.userId) {
          throw new AppError('forbidden', 'nobody reviews their own access', {
            detail: 'self_review',
          });
        }
        const { rows: updated } = await tx.query<ItemRow>(
          `UPDATE access_review_items SET decision = $2, decided_by = $3, decided_at = $4, note = $5
            WHERE id = $1 RETURNING ${ITEM_COLUMNS}`,
          [item.id, input.decision, caller.userId, this.clock.now(), note],
        );
        await auditAccess(tx, this.clock, {
          ...attempt,
          outcome: 'success',
          subjects: [...attempt.subjects, { type: 'user', id: item.user_id }],
          details: { decision: input.decision, roles: item.roles.join(',') },
        });
        return toItem(updated[0] as ItemRow);
      }),
    );
  }

  /**
   * Closes an open campaign and applies its revocations. Undecided items make it `conflict`
   * (`unreviewed_items`) unless `acceptUnreviewed` is set: then they are closed as `unreviewed`,
   * counted on the campaign and in the audit record (and escalated if overdue).
   */
  async close(
    caller: AccessCaller,
    id: string,
    options: { readonly acceptUnreviewed?: boolean } = {},
    meta?: RequestMeta,
  ): Promise<CloseResult> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const c = await this.#lock(tx, id);
      if (c.status !== 'open') throw new AppError('conflict', 'not open', { detail: c.status });
      const unreviewed = await unreviewedCount(tx, c.id);
      if (unreviewed > 0 && options.acceptUnreviewed !== true) {
        throw new AppError('conflict', `${String(unreviewed)} items are not reviewed`, {
          detail: 'unreviewed_items',
        });
      }
      if (unreviewed > 0) await escalateIn(tx, this.clock, caller.tenantId, caller, c.id);
      const now = this.clock.now();
      const { rows: items } = await tx.query<ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM access_review_items WHERE campaign_id = $1 ORDER BY user_id`,
        [c.id],
      );
      let revoked = 0;
      let kept = 0;
      let endedSessions = 0;
      for (const item of items) {
        let outcome: ItemOutcome = item.decision === 'keep' ? 'kept' : 'unreviewed';
        if (item.decision === 'keep') kept++;
        if (item.decision === 'revoke') {
          const r = await this.#revoke(tx, caller, c.id, item, meta);
          outcome = r.gone ? 'already_gone' : 'revoked';
          if (!r.gone) revoked++;
          endedSessions += r.ended;
        }
        await tx.query(
          'UPDATE access_review_items SET outcome = $2, applied_at = $3 WHERE id = $1',
          [item.id, outcome, now],
        );
      }
      const { rows } = await tx.query<CampaignRow>(
        `UPDATE access_review_campaigns SET status = 'closed', closed_by = $2, closed_at = $3,
           unreviewed_at_close = $4 WHERE id = $1 RETURNING ${CAMPAIGN_COLUMNS}`,
        [c.id, caller.userId, now, unreviewed],
      );
      await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action: ACCESS_REVIEW_CLOSED,
        outcome: 'success',
        subjects: [{ type: 'access_review', id: c.id }],
        details: { items: items.length, revoked, kept, unreviewed, endedSessions },
        meta,
      });
      return {
        campaign: toCampaign(rows[0] as CampaignRow),
        revoked,
        kept,
        unreviewed,
        endedSessions,
      };
    });
  }

  /** Removes the reviewed roles (ending the membership when none remain) and ends sessions. */
  async #revoke(
    tx: Tx,
    caller: AccessCaller,
    campaignId: string,
    item: ItemRow,
    meta?: RequestMeta,
  ): Promise<{ gone: boolean; ended: number }> {
    const { rows } = await tx.query<{ roles: string[] }>(
      'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE',
      [caller.tenantId, item.user_id],
    );
    const before = rows[0]?.roles;
    if (before === undefined) return { gone: true, ended: 0 };
    const remaining = before.filter((r) => !item.roles.includes(r)).sort();
    const ended = remaining.length === 0;
    if (ended) {
      await tx.query('DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2', [
        caller.tenantId,
        item.user_id,
      ]);
    } else {
      await tx.query('UPDATE memberships SET roles = $3 WHERE tenant_id = $1 AND user_id = $2', [
        caller.tenantId,
        item.user_id,
        remaining,
      ]);
    }
    const n = await this.sessions.revokeAllForUser(tx, item.user_id, 'access_review');
    await auditAccess(tx, this.clock, {
      tenantId: caller.tenantId,
      actor: caller,
      action: ACCESS_REVIEW_REVOKED,
      outcome: 'success',
      subjects: [
        { type: 'user', id: item.user_id },
        { type: 'access_review', id: campaignId },
      ],
      details: {
        oldRoles: [...before].sort().join(','),
        newRoles: remaining.join(','),
        membershipEnded: ended,
        endedSessions: n,
      },
      meta,
    });
    return { gone: false, ended: n };
  }

  /** One campaign with its items; another tenant's id answers not_found. */
  async get(tenantId: TenantId, id: string): Promise<Campaign & { items: ReviewItem[] }> {
    return this.db.withTenant(tenantId, async (tx) => {
      const c = await this.#find(tx, id, false);
      const { rows } = await tx.query<ItemRow>(
        `SELECT ${ITEM_COLUMNS} FROM access_review_items WHERE campaign_id = $1 ORDER BY user_id`,
        [c.id],
      );
      return { ...c, items: rows.map(toItem) };
    });
  }

  async list(tenantId: TenantId): Promise<Campaign[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<CampaignRow>(
        `SELECT ${CAMPAIGN_COLUMNS} FROM access_review_campaigns WHERE tenant_id = $1
          ORDER BY created_at DESC, id LIMIT 200`,
        [tenantId],
      );
      return rows.map(toCampaign);
    });
  }

  async #find(tx: Tx, id: string, lock: boolean): Promise<Campaign> {
    if (!isUuid(id)) throw new AppError('not_found', 'no such campaign');
    const { rows } = await tx.query<CampaignRow>(
      `SELECT ${CAMPAIGN_COLUMNS} FROM access_review_campaigns WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    const r = rows[0];
    if (r === undefined) throw new AppError('not_found', 'no such campaign');
    return toCampaign(r);
  }

  #lock(tx: Tx, id: string): Promise<Campaign> {
    return this.#find(tx, id, true);
  }
}
