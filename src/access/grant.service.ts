/**
 * Just-in-time access grants (45 CFR 164.308(a)(4)(ii)(B)-(C) access authorization and
 * modification; 164.312(a)(1)): a user asks for a time-boxed grant (one patient, or none; some
 * of the permissions their roles hold; a reason; a duration up to the tenant's maximum), a
 * DIFFERENT user approves or denies it (separation of duties; the table's CHECK is the backstop),
 * and an approved grant stops by itself at `expires_at`: checks compare with now, nothing runs.
 * The requester may withdraw it, an approver may revoke it early. Every step is audited; a
 * refused self-approval is audited as a denied attempt.
 */
import { AppError, isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { RequestMeta } from '../identity/index.js';
import {
  ACCESS_GRANT_APPROVED,
  ACCESS_GRANT_DENIED,
  ACCESS_GRANT_REQUESTED,
  ACCESS_GRANT_REVOKED,
  ACCESS_GRANT_WITHDRAWN,
} from '../monitoring/actions.js';
import { auditAccess, auditRefusal } from './access-audit.js';
import type { AccessCaller } from './access-caller.js';
import { accessSettings } from './access-settings.js';
import { isPermission } from './permissions.js';

export type GrantState = 'requested' | 'active' | 'expired' | 'denied' | 'revoked' | 'withdrawn';

export interface Grant {
  readonly id: string;
  readonly userId: string;
  readonly patientId: string | null;
  readonly permissions: readonly string[];
  readonly reason: string;
  readonly durationMinutes: number;
  /** The stored status with time applied: an approved grant is `active` or `expired`. */
  readonly state: GrantState;
  readonly requestedAt: Date;
  readonly decidedBy: string | null;
  readonly decidedAt: Date | null;
  readonly startsAt: Date | null;
  readonly expiresAt: Date | null;
  readonly endedBy: string | null;
  readonly endedAt: Date | null;
}

export interface GrantRequest {
  readonly patientId: string | null;
  readonly permissions: readonly string[];
  readonly reason: string;
  readonly durationMinutes: number;
}

interface GrantRow {
  id: string;
  user_id: string;
  patient_id: string | null;
  permissions: string[];
  reason: string;
  duration_minutes: number;
  status: 'requested' | 'approved' | 'denied' | 'revoked' | 'withdrawn';
  requested_at: Date;
  decided_by: string | null;
  decided_at: Date | null;
  starts_at: Date | null;
  expires_at: Date | null;
  ended_by: string | null;
  ended_at: Date | null;
}

const COLUMNS =
  'id, user_id, patient_id, permissions, reason, duration_minutes, status, requested_at, decided_by, decided_at, starts_at, expires_at, ended_by, ended_at';

function stateOf(r: GrantRow, now: Date): GrantState {
  if (r.status !== 'approved') return r.status;
  return r.expires_at !== null && now.getTime() < r.expires_at.getTime() ? 'active' : 'expired';
}

function toGrant(r: GrantRow, now: Date): Grant {
  return {
    id: r.id,
    userId: r.user_id,
    patientId: r.patient_id,
    permissions: r.permissions,
    reason: r.reason,
    durationMinutes: r.duration_minutes,
    state: stateOf(r, now),
    requestedAt: r.requested_at,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    startsAt: r.starts_at,
    expiresAt: r.expires_at,
    endedBy: r.ended_by,
    endedAt: r.ended_at,
  };
}

const subjects = (r: { id: string; patient_id: string | null; user_id: string }) => [
  { type: 'access_grant', id: r.id },
  { type: 'user', id: r.user_id },
  ...(r.patient_id === null ? [] : [{ type: 'patient', id: r.patient_id }]),
];

export class GrantService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly uuid: () => string,
  ) {}

  /** Records a request; the permissions must be ones the requester's roles hold. */
  async request(caller: AccessCaller, input: GrantRequest, meta?: RequestMeta): Promise<Grant> {
    const perms = [...new Set(input.permissions)].sort();
    if (perms.length === 0 || perms.length > 20) {
      throw new AppError('validation_failed', '1 to 20 permissions', { detail: 'permissions' });
    }
    for (const p of perms) {
      if (!isPermission(p) || !caller.permissions.has(p)) {
        throw new AppError('validation_failed', 'a permission your roles do not hold', {
          detail: 'permissions',
        });
      }
    }
    const reason = input.reason.trim();
    if (reason.length < 1 || reason.length > 1000) {
      throw new AppError('validation_failed', 'a reason is required', { detail: 'reason' });
    }
    if (input.patientId !== null && !isUuid(input.patientId)) {
      throw new AppError('not_found', 'no such patient');
    }
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const settings = await accessSettings(tx, caller.tenantId);
      const d = input.durationMinutes;
      if (!Number.isSafeInteger(d) || d < 1 || d > settings.grantMaxMinutes) {
        throw new AppError('validation_failed', `duration is 1 to ${settings.grantMaxMinutes}`, {
          detail: 'durationMinutes',
        });
      }
      if (input.patientId !== null) {
        const p = await tx.query('SELECT 1 FROM patients WHERE id = $1', [input.patientId]);
        if (p.rowCount === 0) throw new AppError('not_found', 'no such patient');
      }
      const now = this.clock.now();
      const { rows } = await tx.query<GrantRow>(
        `INSERT INTO access_grants (id, tenant_id, user_id, patient_id, permissions, reason,
           duration_minutes, status, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8) RETURNING ${COLUMNS}`,
        [this.uuid(), caller.tenantId, caller.userId, input.patientId, perms, reason, d, now],
      );
      const row = rows[0] as GrantRow;
      await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action: ACCESS_GRANT_REQUESTED,
        outcome: 'success',
        subjects: subjects(row),
        details: { permissions: perms.join(','), durationMinutes: d },
        meta,
      });
      return toGrant(row, now);
    });
  }

  /** Approves a pending request of SOMEONE ELSE; the grant runs from now for its duration. */
  approve(caller: AccessCaller, id: string, meta?: RequestMeta): Promise<Grant> {
    return this.#decide(caller, id, 'approve', meta);
  }

  /** Denies a pending request of someone else. */
  deny(caller: AccessCaller, id: string, meta?: RequestMeta): Promise<Grant> {
    return this.#decide(caller, id, 'deny', meta);
  }

  async #decide(
    caller: AccessCaller,
    id: string,
    kind: 'approve' | 'deny',
    meta?: RequestMeta,
  ): Promise<Grant> {
    const action = kind === 'approve' ? ACCESS_GRANT_APPROVED : ACCESS_GRANT_DENIED;
    const attempt = {
      tenantId: caller.tenantId,
      actor: caller,
      action,
      subjects: [{ type: 'access_grant', id }],
      meta,
    };
    return auditRefusal(this.db, this.clock, attempt, () =>
      this.db.withTenant(caller.tenantId, async (tx) => {
        const row = await this.#lock(tx, id);
        // Separation of duties: nobody approves (or denies) their own request.
        if (row.user_id === caller.userId) {
          throw new AppError('forbidden', 'nobody decides their own request', {
            detail: 'self_approval',
          });
        }
        if (row.status !== 'requested') {
          throw new AppError('conflict', 'the request was already decided', { detail: row.status });
        }
        const now = this.clock.now();
        const expires = new Date(now.getTime() + row.duration_minutes * 60_000);
        const { rows } = await tx.query<GrantRow>(
          kind === 'approve'
            ? `UPDATE access_grants SET status = 'approved', decided_by = $2, decided_at = $3,
                 starts_at = $3, expires_at = $4 WHERE id = $1 RETURNING ${COLUMNS}`
            : `UPDATE access_grants SET status = 'denied', decided_by = $2, decided_at = $3
                WHERE id = $1 RETURNING ${COLUMNS}`,
          kind === 'approve' ? [id, caller.userId, now, expires] : [id, caller.userId, now],
        );
        const updated = rows[0] as GrantRow;
        await auditAccess(tx, this.clock, {
          ...attempt,
          subjects: subjects(updated),
          outcome: 'success',
          details: {
            permissions: updated.permissions.join(','),
            ...(kind === 'approve' ? { expiresAt: expires.toISOString() } : {}),
          },
        });
        return toGrant(updated, now);
      }),
    );
  }

  /** The requester withdraws their own pending or active grant. */
  async withdraw(caller: AccessCaller, id: string, meta?: RequestMeta): Promise<Grant> {
    return this.#end(caller, id, 'withdrawn', meta);
  }

  /** An approver ends an active grant (or a pending request) early. */
  async revoke(caller: AccessCaller, id: string, meta?: RequestMeta): Promise<Grant> {
    return this.#end(caller, id, 'revoked', meta);
  }

  async #end(
    caller: AccessCaller,
    id: string,
    to: 'withdrawn' | 'revoked',
    meta?: RequestMeta,
  ): Promise<Grant> {
    const action = to === 'withdrawn' ? ACCESS_GRANT_WITHDRAWN : ACCESS_GRANT_REVOKED;
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const row = await this.#lock(tx, id);
      if (to === 'withdrawn' && row.user_id !== caller.userId) {
        // Only the requester withdraws; to anyone else the grant does not exist.
        throw new AppError('not_found', 'no such grant');
      }
      const now = this.clock.now();
      const state = stateOf(row, now);
      if (state !== 'requested' && state !== 'active') {
        throw new AppError('conflict', `the grant is ${state}`, { detail: state });
      }
      const { rows } = await tx.query<GrantRow>(
        `UPDATE access_grants SET status = $2, ended_by = $3, ended_at = $4
          WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, to, caller.userId, now],
      );
      const updated = rows[0] as GrantRow;
      await auditAccess(tx, this.clock, {
        tenantId: caller.tenantId,
        actor: caller,
        action,
        outcome: 'success',
        subjects: subjects(updated),
        details: { previous: state },
        meta,
      });
      return toGrant(updated, now);
    });
  }

  /** One grant: its requester or an approver sees it; to anyone else it does not exist. */
  async get(caller: AccessCaller, id: string): Promise<Grant> {
    if (!isUuid(id)) throw new AppError('not_found', 'no such grant');
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const { rows } = await tx.query<GrantRow>(
        `SELECT ${COLUMNS} FROM access_grants WHERE id = $1`,
        [id],
      );
      const r = rows[0];
      const mayView =
        r !== undefined &&
        (r.user_id === caller.userId || caller.permissions.has('access.grant.approve'));
      if (!mayView) throw new AppError('not_found', 'no such grant');
      return toGrant(r, this.clock.now());
    });
  }

  /** Grants of the tenant (`userId` given: that user's only), newest first. */
  async list(
    tenantId: TenantId,
    options: { userId?: string; state?: GrantState } = {},
  ): Promise<Grant[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<GrantRow>(
        `SELECT ${COLUMNS} FROM access_grants
          WHERE tenant_id = $1 AND ($2::uuid IS NULL OR user_id = $2)
          ORDER BY requested_at DESC, id LIMIT 500`,
        [tenantId, options.userId ?? null],
      );
      const now = this.clock.now();
      const all = rows.map((r) => toGrant(r, now));
      return options.state === undefined ? all : all.filter((g) => g.state === options.state);
    });
  }

  async #lock(tx: Tx, id: string): Promise<GrantRow> {
    if (!isUuid(id)) throw new AppError('not_found', 'no such grant');
    const { rows } = await tx.query<GrantRow>(
      `SELECT ${COLUMNS} FROM access_grants WHERE id = $1 FOR UPDATE`,
      [id],
    );
    const r = rows[0];
    if (r === undefined) throw new AppError('not_found', 'no such grant');
    return r;
  }
}
