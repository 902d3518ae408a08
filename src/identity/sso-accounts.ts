/**
 * Who an IdP identity is in a tenant: the linked user (issuer + subject), a new member when the
 * tenant allows auto-creation (verified email only, never attached to an existing account by
 * email), or a new link for a signed-in user. Every link is an `auth.sso.link` audit record.
 */
import { randomUUID } from 'node:crypto';
import type { IDToken } from 'openid-client';
import type { Clock, Random, TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import { hashPassword } from './password.js';
import type { SsoProvider } from './sso-config.service.js';
import { SsoFailure } from './sso-checks.js';
import type { ConsumedTransaction } from './sso-transactions.js';
import { issueToken, normalizeEmail } from './tokens.js';

export class SsoAccounts {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /** The user linked to this IdP identity in the tenant (and marks the sign-in), or undefined. */
  async linked(tenantId: TenantId, claims: IDToken): Promise<string | undefined> {
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ user_id: string }>(
        `UPDATE sso_links SET last_login_at = $4
          WHERE tenant_id = $1 AND issuer = $2 AND subject = $3 RETURNING user_id`,
        [tenantId, claims.iss, claims.sub, this.clock.now()],
      );
      return rows[0]?.user_id;
    });
  }

  /** An unknown subject becomes a member only when the tenant allows it (verified email). */
  async autoCreate(
    tenantId: TenantId,
    provider: SsoProvider,
    claims: IDToken,
    meta: RequestMeta,
  ): Promise<string> {
    if (!provider.allowAutoCreate) throw new SsoFailure('unknown_subject');
    const email = typeof claims.email === 'string' ? normalizeEmail(claims.email) : '';
    if (claims.email_verified !== true || !/^[^\s@]{1,64}@[^\s@]{1,189}$/.test(email)) {
      throw new SsoFailure('auto_create_needs_verified_email');
    }
    // Never attach an IdP identity to an existing account by email: linking is explicit.
    const taken = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query('SELECT 1 FROM scrip_login_lookup($1)', [email]);
      return rows.length > 0;
    });
    if (taken) throw new SsoFailure('email_belongs_to_existing_account');
    const name = typeof claims.name === 'string' && claims.name !== '' ? claims.name : email;
    // No usable password: a random secret nobody ever sees, hashed like any password.
    const passwordHash = await hashPassword(issueToken(this.random).token);
    return this.db.withTenant(tenantId, async (tx) => {
      const userId = randomUUID();
      const now = this.clock.now();
      await tx.query(
        `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [userId, tenantId, email, name.slice(0, 200), passwordHash, now],
      );
      await tx.query(
        'INSERT INTO memberships (tenant_id, user_id, roles, created_at) VALUES ($1, $2, $3, $4)',
        [tenantId, userId, [provider.defaultRole], now],
      );
      await this.#insertLink(tx, tenantId, userId, claims);
      await auditAuth(tx, this.clock, {
        tenantId,
        action: 'auth.sso.link',
        outcome: 'success',
        userId,
        subjects: [{ type: 'user', id: userId }],
        details: { issuer: claims.iss, autoCreated: true, role: provider.defaultRole },
        meta,
      });
      return userId;
    });
  }

  async link(
    tenantId: TenantId,
    provider: SsoProvider,
    claims: IDToken,
    t: ConsumedTransaction,
    meta: RequestMeta,
  ): Promise<{ readonly status: 'linked' }> {
    const link = t.link;
    if (link === undefined) throw new TypeError('not a link transaction');
    return this.db.withTenant(tenantId, async (tx) => {
      const live = await tx.query(
        `SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL
            AND idle_expires_at > $3 AND absolute_expires_at > $3`,
        [link.sessionId, link.userId, this.clock.now()],
      );
      if (live.rows.length === 0) throw new SsoFailure('link_session_ended');
      if (!(await this.#insertLink(tx, tenantId, link.userId, claims))) {
        throw new SsoFailure('already_linked');
      }
      await auditAuth(tx, this.clock, {
        tenantId,
        action: 'auth.sso.link',
        outcome: 'success',
        userId: link.userId,
        sessionId: link.sessionId,
        subjects: [{ type: 'user', id: link.userId }],
        details: { issuer: provider.issuer, autoCreated: false },
        meta,
      });
      return { status: 'linked' as const };
    });
  }

  async #insertLink(tx: Tx, tenantId: TenantId, userId: string, claims: IDToken): Promise<boolean> {
    const { rowCount } = await tx.query(
      `INSERT INTO sso_links (id, tenant_id, user_id, issuer, subject, created_at)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [randomUUID(), tenantId, userId, claims.iss, claims.sub, this.clock.now()],
    );
    return rowCount === 1;
  }
}
