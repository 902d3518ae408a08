/**
 * EPCS logical access control, two people (21 CFR 1311.125(a), (b)): granting or revoking a
 * prescriber's permission to sign controlled-substance prescriptions is entered by one person
 * (an administrator) and approved by a second who is a DEA registrant, the approval completed
 * with two-factor authentication (a fresh step-up bound to `epcs.permission.approve`, recorded on
 * the approval and usable once). Both steps are audit records (1311.125(c), 1311.150).
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Caller } from './account.service.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import { currentEpcsPermission, type EpcsPermissionState } from './epcs-eligibility.js';
import { activeProofing, utcDate } from './proofing.service.js';

/** The step-up action an approval needs (POST /api/v1/auth/step-up with this action). */
export const EPCS_APPROVE_ACTION = 'epcs.permission.approve';
/** How recently the approving step-up must have been consumed (it is consumed by the request). */
const STEP_UP_FRESH_MS = 2 * 60_000;

export type EpcsChange = 'grant' | 'revoke';

export interface EpcsPermissionRequest {
  readonly id: string;
  readonly prescriberId: string;
  readonly change: EpcsChange;
  readonly requestedBy: string;
  readonly requestedAt: Date;
  readonly expiresAt: Date;
  readonly status: 'pending' | 'approved';
  readonly approvedBy: string | null;
  readonly approvedAt: Date | null;
}

interface RequestRow {
  id: string;
  prescriber_id: string;
  change: EpcsChange;
  requested_by: string;
  requested_at: Date;
  expires_at: Date;
  status: 'pending' | 'approved';
  approved_by: string | null;
  approved_at: Date | null;
}

const COLUMNS =
  'id, prescriber_id, change, requested_by, requested_at, expires_at, status, approved_by, approved_at';

function toRequest(r: RequestRow): EpcsPermissionRequest {
  return {
    id: r.id,
    prescriberId: r.prescriber_id,
    change: r.change,
    requestedBy: r.requested_by,
    requestedAt: r.requested_at,
    expiresAt: r.expires_at,
    status: r.status,
    approvedBy: r.approved_by,
    approvedAt: r.approved_at,
  };
}

/** Has this user an active proofing with an unexpired DEA registration (a registrant)? */
export async function isDeaRegistrant(
  tx: Tx,
  tenantId: TenantId,
  userId: string,
  now: Date,
): Promise<boolean> {
  const p = await activeProofing(tx, tenantId, userId);
  const today = utcDate(now);
  return p?.dea.some((d) => d.expiresOn >= today) === true;
}

export class EpcsPermissionService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly options: { readonly requestTtlMs: number },
  ) {}

  /** Step one: an administrator enters a grant or a revocation for a prescriber. */
  async request(
    caller: Caller,
    prescriberId: string,
    change: EpcsChange,
    meta: RequestMeta,
  ): Promise<EpcsPermissionRequest> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const member = await tx.query('SELECT 1 FROM memberships WHERE user_id = $1', [prescriberId]);
      if (member.rows.length === 0) throw new AppError('not_found', 'no such user');
      const current = await currentEpcsPermission(tx, prescriberId);
      if (change === 'grant') {
        if (current.granted)
          throw new AppError('conflict', 'already granted', { detail: 'granted' });
        if (!(await isDeaRegistrant(tx, caller.tenantId, prescriberId, this.clock.now()))) {
          throw new AppError('conflict', 'the prescriber has no valid proofed DEA registration', {
            detail: 'not_proofed',
          });
        }
      } else if (!current.granted) {
        throw new AppError('conflict', 'not granted', { detail: 'not_granted' });
      }
      const now = this.clock.now();
      const pending = await tx.query(
        `SELECT 1 FROM epcs_permission_requests
          WHERE prescriber_id = $1 AND change = $2 AND status = 'pending' AND expires_at > $3`,
        [prescriberId, change, now],
      );
      if (pending.rows.length > 0) {
        throw new AppError('conflict', 'a request is already pending', { detail: 'pending' });
      }
      const id = randomUUID();
      const { rows } = await tx.query<RequestRow>(
        `INSERT INTO epcs_permission_requests
           (id, tenant_id, prescriber_id, change, requested_by, requested_at, expires_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending') RETURNING ${COLUMNS}`,
        [
          id,
          caller.tenantId,
          prescriberId,
          change,
          caller.userId,
          now,
          new Date(now.getTime() + this.options.requestTtlMs),
        ],
      );
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'epcs.permission.requested',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [
          { type: 'user', id: prescriberId },
          { type: 'epcs_request', id },
        ],
        details: { change },
        meta,
      });
      const row = rows[0];
      if (row === undefined) throw new AppError('internal', 'insert returned nothing');
      return toRequest(row);
    });
  }

  /**
   * Step two: a second person, a DEA registrant, approves with a fresh two-factor step-up. The
   * HTTP route consumes the step-up before this runs; here the consumed step-up is found and
   * recorded on the approval (unique), so one step-up approves one request. Refusals are audit
   * records too (outcome `denied`).
   */
  async approve(
    caller: Caller,
    requestId: string,
    meta: RequestMeta,
  ): Promise<EpcsPermissionRequest> {
    const result = await this.db.withTenant(caller.tenantId, async (tx) => {
      const { rows } = await tx.query<RequestRow>(
        `SELECT ${COLUMNS} FROM epcs_permission_requests WHERE id = $1 FOR UPDATE`,
        [requestId],
      );
      const r = rows[0];
      if (r === undefined) throw new AppError('not_found', 'no such request');
      if (r.status !== 'pending')
        throw new AppError('conflict', 'already approved', { detail: 'approved' });
      const now = this.clock.now();
      if (r.expires_at.getTime() <= now.getTime()) {
        throw new AppError('gone', 'the request has expired', { detail: 'expired' });
      }
      const denial = await this.#denial(tx, caller, r, now);
      const action = r.change === 'grant' ? 'epcs.permission.granted' : 'epcs.permission.revoked';
      const subjects = [
        { type: 'user', id: r.prescriber_id },
        { type: 'epcs_request', id: r.id },
      ];
      if (typeof denial === 'object') {
        await auditAuth(tx, this.clock, {
          tenantId: caller.tenantId,
          action,
          outcome: 'denied',
          userId: caller.userId,
          sessionId: caller.sessionId,
          subjects,
          details: { reason: denial.detail ?? 'denied', requestedBy: r.requested_by },
          meta,
        });
        return denial;
      }
      const updated = await tx.query<RequestRow>(
        `UPDATE epcs_permission_requests
            SET status = 'approved', approved_by = $2, approved_at = $3, approval_step_up = $4
          WHERE id = $1 RETURNING ${COLUMNS}`,
        [r.id, caller.userId, now, denial],
      );
      await tx.query(
        `INSERT INTO epcs_permissions (tenant_id, user_id, granted, request_id, changed_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, user_id) DO UPDATE
           SET granted = EXCLUDED.granted, request_id = EXCLUDED.request_id, changed_at = EXCLUDED.changed_at`,
        [caller.tenantId, r.prescriber_id, r.change === 'grant', r.id, now],
      );
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action,
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects,
        details: { requestedBy: r.requested_by, approvedBy: caller.userId, stepUp: true },
        meta,
      });
      const row = updated.rows[0];
      if (row === undefined) throw new AppError('internal', 'update returned nothing');
      return toRequest(row);
    });
    if (result instanceof AppError) throw result;
    return result;
  }

  /** The refusal (an error to throw after auditing it), or the id of the approving step-up. */
  async #denial(tx: Tx, caller: Caller, r: RequestRow, now: Date): Promise<AppError | string> {
    if (caller.userId === r.requested_by) {
      return new AppError('forbidden', 'the requester cannot approve', { detail: 'self_approval' });
    }
    if (caller.userId === r.prescriber_id) {
      return new AppError('forbidden', 'a prescriber cannot approve their own permission', {
        detail: 'subject_approval',
      });
    }
    if (!(await isDeaRegistrant(tx, caller.tenantId, caller.userId, now))) {
      return new AppError('forbidden', 'the approver must be a DEA registrant', {
        detail: 'not_registrant',
      });
    }
    const { rows } = await tx.query<{ id: string }>(
      `SELECT s.id FROM step_ups s
        WHERE s.session_id IN (SELECT $1::uuid UNION SELECT parent_id FROM sessions WHERE id = $1 AND parent_id IS NOT NULL)
          AND s.action = $2 AND s.consumed_at IS NOT NULL AND s.consumed_at >= $3
          AND NOT EXISTS (SELECT 1 FROM epcs_permission_requests e WHERE e.approval_step_up = s.id)
        ORDER BY s.consumed_at DESC LIMIT 1`,
      [caller.sessionId, EPCS_APPROVE_ACTION, new Date(now.getTime() - STEP_UP_FRESH_MS)],
    );
    const stepUp = rows[0]?.id;
    if (stepUp === undefined) {
      return new AppError('step_up_required', 'step-up required', { detail: EPCS_APPROVE_ACTION });
    }
    return stepUp;
  }

  /** Requests of this tenant, newest first (pending ones include expired-but-unapproved). */
  async list(tenantId: TenantId): Promise<EpcsPermissionRequest[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<RequestRow>(
        `SELECT ${COLUMNS} FROM epcs_permission_requests ORDER BY requested_at DESC, id LIMIT 500`,
      );
      return rows.map(toRequest);
    });
  }

  /** The prescriber's current permission (absent row: never granted). */
  /** The permission of a member of the tenant; `not_found` for anyone else (no oracle). */
  async current(tenantId: TenantId, userId: string): Promise<EpcsPermissionState> {
    return this.db.withTenant(tenantId, async (tx) => {
      const member = await tx.query(
        'SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2',
        [tenantId, userId],
      );
      if (member.rows.length === 0) throw new AppError('not_found', 'no such user');
      return currentEpcsPermission(tx, userId);
    });
  }
}
