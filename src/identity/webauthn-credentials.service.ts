/**
 * Managing WebAuthn credentials: a user lists, renames and revokes their own; a tenant
 * administrator lists and revokes those of the tenant's users. Credentials live in the user's
 * home tenant, so only that tenant's administrators reach them; anyone else's request answers
 * not_found exactly like a missing credential (no existence oracle).
 */
import { AppError, type Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Caller } from './account.service.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import type { MfaService } from './mfa.service.js';
import { webauthnRepository as repo } from './webauthn.repository.js';
import { type PasskeySummary, summary, userOf } from './webauthn-common.js';

const NOT_FOUND = (): AppError => new AppError('not_found', 'no such credential');

/** Names are shown back to their owner: printable, trimmed, 1-100 characters. */
export function cleanName(name: string): string {
  const clean = name.replace(/[\p{Cc}\p{Cf}]/gu, '').trim();
  if (clean.length < 1 || clean.length > 100) {
    throw new AppError('validation_failed', 'a name has 1 to 100 characters', { detail: 'name' });
  }
  return clean;
}

export class WebAuthnCredentialService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly mfa: MfaService,
  ) {}

  async list(caller: Caller): Promise<PasskeySummary[]> {
    const { home } = await userOf(this.db, caller);
    const rows = await this.db.withTenant(home, (tx) => repo.listForUser(tx, caller.userId, false));
    return rows.map(summary);
  }

  async rename(caller: Caller, id: string, name: string, meta: RequestMeta): Promise<void> {
    const clean = cleanName(name);
    const { home } = await userOf(this.db, caller);
    await this.db.withTenant(home, async (tx) => {
      if (!(await repo.rename(tx, caller.userId, id, clean))) throw NOT_FOUND();
      await auditAuth(tx, this.clock, {
        tenantId: home,
        action: 'auth.webauthn.rename',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [{ type: 'webauthn_credential', id }],
        meta,
      });
    });
  }

  /**
   * Revokes one of the caller's credentials. The last second factor cannot be removed this way:
   * an account without one gets an enrolment-only session at the next password sign-in, which
   * would let whoever knows the password enrol their own factor.
   */
  async revoke(caller: Caller, id: string, meta: RequestMeta): Promise<void> {
    const { home } = await userOf(this.db, caller);
    await this.db.withTenant(home, async (tx) => {
      if (!(await repo.revoke(tx, caller.userId, id, caller.userId, 'user', this.clock.now()))) {
        throw NOT_FOUND();
      }
      if (!(await this.mfa.hasSecondFactor(tx, caller.userId))) {
        throw new AppError('conflict', 'this is your last second factor', {
          detail: 'last_factor',
        });
      }
      await auditAuth(tx, this.clock, {
        tenantId: home,
        action: 'auth.webauthn.revoke',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [{ type: 'webauthn_credential', id }],
        details: { by: 'user' },
        meta,
      });
    });
  }

  /** A user's credentials, for an administrator of the user's home tenant. */
  async adminList(admin: Caller, userId: string): Promise<PasskeySummary[]> {
    return this.db.withTenant(admin.tenantId, async (tx) => {
      const member = await tx.query(
        'SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2',
        [admin.tenantId, userId],
      );
      if (member.rows.length === 0) throw new AppError('not_found', 'no such user');
      return (await repo.listForUser(tx, userId, true)).map(summary);
    });
  }

  /** Revokes a user's credential (lost device, departure); the row stays for the record. */
  async adminRevoke(admin: Caller, userId: string, id: string, meta: RequestMeta): Promise<void> {
    await this.db.withTenant(admin.tenantId, async (tx) => {
      const member = await tx.query(
        'SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2',
        [admin.tenantId, userId],
      );
      if (member.rows.length === 0) throw NOT_FOUND();
      // Row-level security limits this to credentials whose home is the admin's tenant.
      if (!(await repo.revoke(tx, userId, id, admin.userId, 'admin', this.clock.now()))) {
        throw NOT_FOUND();
      }
      await auditAuth(tx, this.clock, {
        tenantId: admin.tenantId,
        action: 'auth.webauthn.revoke',
        outcome: 'success',
        userId: admin.userId,
        sessionId: admin.sessionId,
        subjects: [
          { type: 'user', id: userId },
          { type: 'webauthn_credential', id },
        ],
        details: { by: 'admin' },
        meta,
      });
    });
  }
}
