/**
 * Trusted devices for the context policy's device-posture rule (45 CFR 164.310(b),
 * 164.312(a)(1)). A user registers their own browser (after a step-up); the cookie token is
 * returned once and only its SHA-256 is stored. When the tenant's device rule says `deny`, a
 * self-registered device is pending and satisfies nothing until a different user holding
 * `access.policy` approves it: otherwise the user the rule constrains could lift it alone, and
 * `deny` would behave like `step_up`. Under a `step_up` rule any live registration counts.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { hashToken, issueToken } from '../identity/tokens.js';
import { auditAccess, auditRefusal } from './access-audit.js';
import type { ContextPolicy } from './context-policy.js';
import type { AccessCaller } from './role-catalog.service.js';

export interface RegisteredDevice {
  readonly id: string;
  readonly token: string;
  readonly expiresAt: Date;
  readonly maxAgeSeconds: number;
  /** `pending` until another user approves it (tenant device rule `deny`), else `trusted`. */
  readonly status: 'pending' | 'trusted';
}

export interface PendingDevice {
  readonly id: string;
  readonly userId: string;
  readonly label: string;
  readonly registeredAt: Date;
  readonly expiresAt: Date;
}

/** True when the device rule of `policy` needs an approved device (onFail `deny`). */
export function needsApproval(policy: ContextPolicy | undefined): boolean {
  return policy?.device?.onFail === 'deny';
}

function metaOf(caller: AccessCaller): {
  ip?: string;
  userAgent?: string;
  requestId?: string;
} {
  return {
    ...(caller.ip === undefined ? {} : { ip: caller.ip }),
    ...(caller.userAgent === undefined ? {} : { userAgent: caller.userAgent }),
    ...(caller.requestId === undefined ? {} : { requestId: caller.requestId }),
  };
}

export class TrustedDevices {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  /** Whether the cookie token names a live device of `userId` (approved, when `approved`). */
  async isTrusted(
    tx: Tx,
    userId: string,
    token: string | undefined,
    approved: boolean,
  ): Promise<boolean> {
    if (token === undefined || token === '') return false;
    const { rows } = await tx.query(
      `SELECT 1 FROM trusted_devices
        WHERE token_hash = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3
          AND (NOT $4 OR approved_at IS NOT NULL)`,
      [hashToken(token), userId, this.clock.now(), approved],
    );
    return rows.length > 0;
  }

  /**
   * Registers the caller's current device (the route requires a step-up); `pending` when
   * `policy`'s device rule denies, so the caller cannot satisfy it alone.
   */
  async register(
    tx: Tx,
    caller: AccessCaller,
    label: string,
    policy: ContextPolicy | undefined,
  ): Promise<RegisteredDevice> {
    const { token, hash } = issueToken();
    const id = randomUUID();
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    const status = needsApproval(policy) ? 'pending' : 'trusted';
    await tx.query(
      `INSERT INTO trusted_devices (id, tenant_id, user_id, token_hash, label, registered_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, caller.tenantId, caller.userId, hash, label, now, expiresAt],
    );
    await auditAccess(tx, this.clock, {
      tenantId: caller.tenantId,
      actor: caller,
      action: 'access.device.register',
      outcome: 'success',
      subjects: [{ type: 'device', id }],
      details: { status },
      meta: metaOf(caller),
    });
    return { id, token, expiresAt, maxAgeSeconds: Math.floor(this.ttlMs / 1000), status };
  }

  /** Live devices nobody has approved yet, oldest first (for `access.policy` holders). */
  async pending(tenantId: TenantId): Promise<PendingDevice[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{
        id: string;
        user_id: string;
        label: string;
        registered_at: Date;
        expires_at: Date;
      }>(
        `SELECT id, user_id, label, registered_at, expires_at FROM trusted_devices
          WHERE tenant_id = $1 AND approved_at IS NULL AND revoked_at IS NULL AND expires_at > $2
          ORDER BY registered_at LIMIT 500`,
        [tenantId, this.clock.now()],
      );
      return rows.map((r) => ({
        id: r.id,
        userId: r.user_id,
        label: r.label,
        registeredAt: r.registered_at,
        expiresAt: r.expires_at,
      }));
    });
  }

  /**
   * Approves another user's pending device (audited `access.device.approve`). Approving one's own
   * is refused (`forbidden`, audited as denied); a missing, revoked or expired device is
   * `not_found`; an approved one is `conflict`.
   */
  async approve(caller: AccessCaller, deviceId: string): Promise<{ userId: string }> {
    return auditRefusal(
      this.db,
      this.clock,
      {
        tenantId: caller.tenantId,
        actor: caller,
        action: 'access.device.approve',
        subjects: [{ type: 'device', id: deviceId }],
        meta: metaOf(caller),
      },
      () =>
        this.db.withTenant(caller.tenantId, async (tx) => {
          const now = this.clock.now();
          const { rows } = await tx.query<{ user_id: string; approved_at: Date | null }>(
            `SELECT user_id, approved_at FROM trusted_devices
              WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL AND expires_at > $3
              FOR UPDATE`,
            [deviceId, caller.tenantId, now],
          );
          const d = rows[0];
          if (d === undefined) throw new AppError('not_found', 'no such device');
          if (d.user_id === caller.userId) {
            throw new AppError('forbidden', 'nobody approves their own device', {
              detail: 'self_approval',
            });
          }
          if (d.approved_at !== null) {
            throw new AppError('conflict', 'the device is already approved', {
              detail: 'approved',
            });
          }
          await tx.query(
            'UPDATE trusted_devices SET approved_by = $2, approved_at = $3 WHERE id = $1',
            [deviceId, caller.userId, now],
          );
          await auditAccess(tx, this.clock, {
            tenantId: caller.tenantId,
            actor: caller,
            action: 'access.device.approve',
            outcome: 'success',
            subjects: [
              { type: 'device', id: deviceId },
              { type: 'user', id: d.user_id },
            ],
            meta: metaOf(caller),
          });
          return { userId: d.user_id };
        }),
    );
  }
}
