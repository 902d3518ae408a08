/**
 * Tenant administration of users: who belongs to the tenant, their roles in it, and ending a
 * user's sessions in it.
 * Everything runs in the administrator's tenant; another tenant's user answers not_found exactly
 * like a missing one.
 */
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import type { Caller } from './account.service.js';
import type { Role } from './roles.js';
import type { SessionService } from './session.service.js';

export interface TenantUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
  readonly status: string;
  readonly roles: readonly string[];
  readonly lastLoginAt: Date | null;
}

export class UserAdminService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly sessions: SessionService,
  ) {}

  async list(tenantId: TenantId): Promise<TenantUser[]> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{
        id: string;
        email: string;
        display_name: string;
        status: string;
        roles: string[];
        last_login_at: Date | null;
      }>(
        `SELECT u.id, u.email, u.display_name, u.status, m.roles, u.last_login_at
           FROM memberships m JOIN users u ON u.id = m.user_id
          WHERE m.tenant_id = $1 ORDER BY lower(u.email) LIMIT 1000`,
        [tenantId],
      );
      return rows.map((r) => ({
        id: r.id,
        email: r.email,
        displayName: r.display_name,
        status: r.status,
        roles: r.roles,
        lastLoginAt: r.last_login_at,
      }));
    });
  }

  /** Ends every session of `userId` in the administrator's tenant. */
  async endSessions(admin: Caller, userId: string, meta: RequestMeta): Promise<number> {
    return this.db.withTenant(admin.tenantId, async (tx) => {
      const member = await tx.query(
        'SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2',
        [admin.tenantId, userId],
      );
      if (member.rows.length === 0) throw new AppError('not_found', 'no such user');
      const ended = await this.sessions.revokeAllForUser(tx, userId, 'admin');
      await auditAuth(tx, this.clock, {
        tenantId: admin.tenantId,
        action: 'auth.sessions.end',
        outcome: 'success',
        userId: admin.userId,
        sessionId: admin.sessionId,
        subjects: [{ type: 'user', id: userId }],
        details: { ended },
        meta,
      });
      return ended;
    });
  }

  /**
   * Ends every session and bearer token of member `userId` inside `tx` (a transaction in
   * `tenantId`), for a caller that writes its own audit record in `tx` (incident containment).
   * `not_found` when the user is not a member of the tenant.
   */
  async endMemberSessions(
    tx: Tx,
    tenantId: TenantId,
    userId: string,
    reason: string,
  ): Promise<number> {
    await assertMember(tx, tenantId, userId);
    return this.sessions.revokeAllForUser(tx, userId, reason);
  }

  /**
   * Disables member `userId` (no sign-in, no live session anywhere: the authenticator checks the
   * status) and ends its sessions in the tenant, inside `tx`, for a caller that audits in `tx`.
   * Only the account's home tenant may disable it (the users row policy): `conflict` otherwise.
   */
  async disableMember(
    tx: Tx,
    tenantId: TenantId,
    userId: string,
    reason: string,
  ): Promise<{ endedSessions: number }> {
    await assertMember(tx, tenantId, userId);
    const home = await tx.query<{ tenant_id: string }>(
      'SELECT tenant_id FROM users WHERE id = $1',
      [userId],
    );
    if (home.rows[0]?.tenant_id !== tenantId) {
      throw new AppError('conflict', "only the account's home tenant can disable it", {
        detail: 'home_tenant',
      });
    }
    await tx.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [userId]);
    return { endedSessions: await this.sessions.revokeAllForUser(tx, userId, reason) };
  }

  /**
   * Replaces the roles of `userId` in the administrator's tenant and ends that user's sessions in
   * it, so the next sign-in carries the new permissions (OWASP Session Management: rotate on
   * privilege change). Nobody changes their own roles (a second administrator does). The route
   * requires a step-up for `user.roles.change`.
   */
  async changeRoles(
    admin: Caller,
    userId: string,
    roles: readonly Role[],
    meta: RequestMeta,
  ): Promise<{ roles: readonly string[]; ended: number }> {
    if (roles.length === 0) {
      throw new AppError('validation_failed', 'at least one role', { detail: 'roles' });
    }
    const next = [...new Set(roles)].sort();
    return this.db.withTenant(admin.tenantId, async (tx) => {
      const { rows } = await tx.query<{ roles: string[] }>(
        'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2 FOR UPDATE',
        [admin.tenantId, userId],
      );
      const before = rows[0]?.roles;
      if (before === undefined) throw new AppError('not_found', 'no such user');
      if (userId === admin.userId) {
        throw new AppError('forbidden', 'nobody changes their own roles', { detail: 'self' });
      }
      await tx.query('UPDATE memberships SET roles = $3 WHERE tenant_id = $1 AND user_id = $2', [
        admin.tenantId,
        userId,
        next,
      ]);
      const ended = await this.sessions.revokeAllForUser(tx, userId, 'roles_changed');
      await auditAuth(tx, this.clock, {
        tenantId: admin.tenantId,
        action: 'user.roles.change',
        outcome: 'success',
        userId: admin.userId,
        sessionId: admin.sessionId,
        subjects: [{ type: 'user', id: userId }],
        details: { oldRoles: [...before].sort().join(','), newRoles: next.join(','), ended },
        meta,
      });
      return { roles: next, ended };
    });
  }
}

async function assertMember(tx: Tx, tenantId: TenantId, userId: string): Promise<void> {
  const member = await tx.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [
    tenantId,
    userId,
  ]);
  if (member.rows.length === 0) throw new AppError('not_found', 'no such user');
}
