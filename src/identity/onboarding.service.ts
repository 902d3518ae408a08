/**
 * How people get accounts: the one-time bootstrap link that creates the first tenant and its
 * administrator, and invitations (single use, expiring, token stored hashed) into a tenant.
 * Links carry the token in the URL fragment, which browsers never send, so it cannot reach a
 * server or proxy log; the web page posts it.
 */
import { randomUUID } from 'node:crypto';
import { AppError, asTenantId, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './password.js';
import { BOOTSTRAP_ROLES, isRole, type Role } from './roles.js';
import type { IssuedSession, SessionService } from './session.service.js';
import { hashToken, isTokenShaped, issueToken, normalizeEmail } from './tokens.js';

export interface OnboardingOptions {
  readonly invitationTtlMs: number;
  readonly bootstrapTtlMs: number;
}

export interface NewAccount {
  readonly email: string;
  readonly displayName: string;
  readonly password: string;
}

export interface IssuedLink {
  readonly token: string;
  readonly expiresAt: Date;
}

const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,189}$/;

function checkEmail(email: string): string {
  const e = normalizeEmail(email);
  if (!EMAIL_RE.test(e))
    throw new AppError('validation_failed', 'not an email', { detail: 'email' });
  return e;
}

export class OnboardingService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly sessions: SessionService,
    private readonly options: OnboardingOptions,
  ) {}

  /** A new bootstrap token while no user exists (replacing any unused one), else undefined. */
  async issueBootstrap(): Promise<IssuedLink | undefined> {
    const { token, hash } = issueToken(this.random);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.options.bootstrapTtlMs);
    const issued = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ ok: boolean }>(
        'SELECT scrip_bootstrap_issue($1, $2, $3) AS ok',
        [hash, now, expiresAt],
      );
      return rows[0]?.ok === true;
    });
    return issued ? { token, expiresAt } : undefined;
  }

  /**
   * Uses the bootstrap token (once): creates the first tenant and its administrator (tenant and
   * security administrator) and opens an enrolment-only session (TOTP comes next).
   */
  async completeBootstrap(
    token: string,
    tenantName: string,
    account: NewAccount,
    meta: RequestMeta,
  ): Promise<IssuedSession> {
    const email = checkEmail(account.email);
    this.#checkPassword(account, email, [tenantName]);
    const passwordHash = await hashPassword(account.password);
    const tenantId = asTenantId(randomUUID());
    return this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ ok: boolean }>(
        'SELECT scrip_bootstrap_consume($1, $2) AS ok',
        [isTokenShaped(token) ? hashToken(token) : Buffer.alloc(32), this.clock.now()],
      );
      if (rows[0]?.ok !== true) throw new AppError('gone', 'the bootstrap link is not valid');
      await tx.query('INSERT INTO tenants (id, name, kind) VALUES ($1, $2, $3)', [
        tenantId,
        tenantName,
        'clinic',
      ]);
      const userId = await this.#createUser(tx, tenantId, email, account.displayName, passwordHash);
      await this.#addMembership(tx, tenantId, userId, BOOTSTRAP_ROLES);
      const issued = await this.sessions.create(tx, tenantId, userId, true, meta);
      await auditAuth(tx, this.clock, {
        tenantId,
        action: 'auth.bootstrap',
        outcome: 'success',
        userId,
        sessionId: issued.session.id,
        subjects: [
          { type: 'tenant', id: tenantId },
          { type: 'user', id: userId },
        ],
        meta,
      });
      return issued;
    });
  }

  /**
   * An invitation into `tenantId` with the given roles (the link shows the token once). An email
   * that already belongs to a member of the tenant (the inviter's own included) is refused with
   * `conflict` and nothing but the audited refusal is written: a member's roles change only
   * through the role-change flow (second administrator, step-up, privilege alert).
   */
  async invite(
    tenantId: TenantId,
    email: string,
    roles: readonly string[],
    createdBy: { kind: 'user'; userId: string } | { kind: 'cli' },
    meta: RequestMeta = {},
  ): Promise<IssuedLink> {
    const normalized = checkEmail(email);
    if (roles.length === 0 || !roles.every(isRole)) {
      throw new AppError('validation_failed', 'unknown role', { detail: 'roles' });
    }
    const { token, hash } = issueToken(this.random);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.options.invitationTtlMs);
    const refused = await this.db.withTenant(tenantId, async (tx) => {
      const t = await tx.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
      if (t.rows.length === 0) throw new AppError('not_found', 'no such tenant');
      const id = randomUUID();
      const audit = {
        tenantId,
        action: 'auth.invitation.create',
        userId: createdBy.kind === 'user' ? createdBy.userId : undefined,
        actorKind: createdBy.kind,
        details: { roles: roles.join(',') },
        meta,
      } as const;
      if (await this.#memberByEmail(tx, tenantId, normalized)) {
        await auditAuth(tx, this.clock, {
          ...audit,
          outcome: 'denied',
          details: { ...audit.details, refused: 'member' },
        });
        return true;
      }
      await tx.query(
        `INSERT INTO invitations (id, tenant_id, email, roles, token_hash, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          id,
          tenantId,
          normalized,
          roles,
          hash,
          createdBy.kind === 'cli' ? 'cli' : createdBy.userId,
          now,
          expiresAt,
        ],
      );
      await auditAuth(tx, this.clock, {
        ...audit,
        outcome: 'success',
        subjects: [{ type: 'invitation', id }],
      });
      return false;
    });
    if (refused) throw alreadyMember();
    return { token, expiresAt };
  }

  /**
   * Accepts an invitation (once, before it expires). A new email becomes a user whose home is
   * this tenant and gets an enrolment-only session; an existing user of another tenant proves
   * their password and gains the membership (and signs in as usual). An existing member of this
   * tenant is refused (`conflict`, the invitation stays unused): an invitation never adds roles to
   * a membership.
   */
  async acceptInvitation(
    token: string,
    account: NewAccount,
    meta: RequestMeta,
  ): Promise<{ issued: IssuedSession | undefined; tenantId: TenantId }> {
    const hash = isTokenShaped(token) ? hashToken(token) : Buffer.alloc(32);
    const tenant = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ t: string | null }>(
        'SELECT scrip_invitation_tenant($1) AS t',
        [hash],
      );
      return rows[0]?.t ?? null;
    });
    const gone = (): AppError => new AppError('gone', 'the invitation is not valid');
    if (tenant === null) throw gone();
    const tenantId = asTenantId(tenant);
    const existing = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ user_id: string; password_hash: string }>(
        'SELECT user_id, password_hash FROM scrip_login_lookup($1)',
        [account.email],
      );
      return rows[0];
    });
    let passwordHash: string | undefined;
    if (existing === undefined) {
      const email = checkEmail(account.email);
      this.#checkPassword(account, email, []);
      passwordHash = await hashPassword(account.password);
    } else if (!(await verifyPassword(existing.password_hash, account.password)).ok) {
      throw new AppError('unauthenticated', 'invalid credentials');
    }
    const issued = await this.db.withTenant(tenantId, async (tx) => {
      const now = this.clock.now();
      const { rows } = await tx.query<{ id: string; email: string; roles: string[] }>(
        `SELECT id, email, roles FROM invitations
          WHERE token_hash = $1 AND accepted_at IS NULL AND expires_at > $2 FOR UPDATE`,
        [hash, now],
      );
      const inv = rows[0];
      if (inv === undefined || normalizeEmail(account.email) !== inv.email) throw gone();
      // A valid link for a member of this tenant is refused and stays unused (audited).
      if (existing !== undefined && (await this.#isMember(tx, tenantId, existing.user_id))) {
        await auditAuth(tx, this.clock, {
          tenantId,
          action: 'auth.invitation.accept',
          outcome: 'denied',
          userId: existing.user_id,
          subjects: [{ type: 'invitation', id: inv.id }],
          details: { refused: 'member' },
          meta,
        });
        return 'member' as const;
      }
      await tx.query('UPDATE invitations SET accepted_at = $2 WHERE id = $1', [inv.id, now]);
      const roles = inv.roles.filter(isRole);
      let userId: string;
      let session: IssuedSession | undefined;
      if (existing === undefined && passwordHash !== undefined) {
        userId = await this.#createUser(tx, tenantId, inv.email, account.displayName, passwordHash);
        await this.#addMembership(tx, tenantId, userId, roles);
        session = await this.sessions.create(tx, tenantId, userId, true, meta);
      } else {
        userId = existing?.user_id ?? '';
        await this.#addMembership(tx, tenantId, userId, roles);
      }
      await tx.query('UPDATE invitations SET accepted_by = $2 WHERE id = $1', [inv.id, userId]);
      await auditAuth(tx, this.clock, {
        tenantId,
        action: 'auth.invitation.accept',
        outcome: 'success',
        userId,
        sessionId: session?.session.id,
        subjects: [{ type: 'invitation', id: inv.id }],
        details: { roles: roles.join(',') },
        meta,
      });
      return session;
    });
    if (issued === 'member') throw alreadyMember();
    return { issued, tenantId };
  }

  #checkPassword(account: NewAccount, email: string, words: readonly string[]): void {
    const reasons = checkPasswordPolicy(account.password, {
      email,
      words: [account.displayName, ...words],
    });
    if (reasons.length > 0) {
      throw new AppError('validation_failed', 'password refused by policy', {
        detail: `password: ${reasons.join(',')}`,
      });
    }
  }

  async #createUser(
    tx: Tx,
    home: TenantId,
    email: string,
    displayName: string,
    passwordHash: string,
  ): Promise<string> {
    const id = randomUUID();
    await tx.query(
      `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, home, email, displayName, passwordHash, this.clock.now()],
    );
    return id;
  }

  async #memberByEmail(tx: Tx, tenantId: TenantId, email: string): Promise<boolean> {
    const { rows } = await tx.query(
      `SELECT 1 FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.tenant_id = $1 AND lower(u.email) = $2`,
      [tenantId, email],
    );
    return rows.length > 0;
  }

  async #isMember(tx: Tx, tenantId: TenantId, userId: string): Promise<boolean> {
    const { rows } = await tx.query(
      'SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2',
      [tenantId, userId],
    );
    return rows.length > 0;
  }

  /** A new membership only: one that appeared concurrently refuses (the transaction rolls back). */
  async #addMembership(
    tx: Tx,
    tenantId: TenantId,
    userId: string,
    roles: readonly Role[],
  ): Promise<void> {
    const { rowCount } = await tx.query(
      `INSERT INTO memberships (tenant_id, user_id, roles, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id, user_id) DO NOTHING`,
      [tenantId, userId, roles, this.clock.now()],
    );
    if (rowCount !== 1) throw alreadyMember();
  }
}

function alreadyMember(): AppError {
  return new AppError('conflict', 'already a member of this organisation', { detail: 'member' });
}
