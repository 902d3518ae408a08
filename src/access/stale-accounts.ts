/**
 * Disabling accounts nobody has used for N days (default 90): 45 CFR 164.308(a)(3)(ii)(C)
 * termination procedures and 164.308(a)(4)(ii)(C) access modification; OWASP ASVS V2 account
 * lifecycle. Only the tenant's HOME users are disabled here (the user row belongs to its home
 * tenant, 0005_identity.sql); their sessions in this tenant end, and a disabled user's sessions
 * anywhere stop resolving. Each disabled account is an audit record; the report lists them.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { USER_DISABLED_STALE } from '../monitoring/actions.js';
import { auditAccess, type AccessActor } from './access-audit.js';

export interface StaleAccount {
  readonly userId: string;
  /** Last sign-in, or creation for an account never used. */
  readonly lastActivity: Date;
  readonly neverLoggedIn: boolean;
  readonly endedSessions: number;
}

export interface StaleAccountReport {
  readonly tenantId: TenantId;
  readonly days: number;
  /** Accounts whose last activity is before this instant are stale. */
  readonly cutoff: Date;
  readonly dryRun: boolean;
  readonly accounts: readonly StaleAccount[];
}

export interface StaleOptions {
  /** Report what would be disabled, change nothing (default false). */
  readonly dryRun?: boolean;
  readonly actor?: AccessActor;
}

/**
 * Disables the active home users of `tenantId` whose last sign-in (or creation, if they never
 * signed in) is more than `days` days before now, ends their sessions in this tenant, audits
 * each, and returns the report. With `dryRun`, only reports.
 */
export async function disableStaleAccounts(
  db: Database,
  tenantId: TenantId,
  clock: Clock,
  days = 90,
  options: StaleOptions = {},
): Promise<StaleAccountReport> {
  if (!Number.isSafeInteger(days) || days < 1 || days > 3650) {
    throw new AppError('validation_failed', 'days is 1 to 3650', { detail: 'days' });
  }
  const dryRun = options.dryRun === true;
  return db.withTenant(tenantId, async (tx) => {
    const now = clock.now();
    const cutoff = new Date(now.getTime() - days * 86_400_000);
    const { rows } = await tx.query<{ id: string; last: Date; never: boolean }>(
      `SELECT id, coalesce(last_login_at, created_at) AS last, last_login_at IS NULL AS never
         FROM users
        WHERE tenant_id = $1 AND status = 'active' AND coalesce(last_login_at, created_at) < $2
        ORDER BY id ${dryRun ? '' : 'FOR UPDATE'}`,
      [tenantId, cutoff],
    );
    const accounts: StaleAccount[] = [];
    for (const r of rows) {
      let ended = 0;
      if (!dryRun) {
        await tx.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [r.id]);
        const s = await tx.query(
          `UPDATE sessions SET revoked_at = $2, revoke_reason = 'stale_account'
            WHERE user_id = $1 AND revoked_at IS NULL`,
          [r.id, now],
        );
        ended = s.rowCount ?? 0;
        await auditAccess(tx, clock, {
          tenantId,
          actor: options.actor ?? 'system',
          action: USER_DISABLED_STALE,
          outcome: 'success',
          subjects: [{ type: 'user', id: r.id }],
          details: {
            days,
            lastActivity: r.last.toISOString(),
            neverLoggedIn: r.never,
            endedSessions: ended,
          },
        });
      }
      accounts.push({
        userId: r.id,
        lastActivity: r.last,
        neverLoggedIn: r.never,
        endedSessions: ended,
      });
    }
    return { tenantId, days, cutoff, dryRun, accounts };
  });
}
