/**
 * Sign-in: password and second factor in ONE request, so no intermediate answer reveals that a
 * password was right (STYLE.md: the same answer for unknown user and wrong password). A user
 * without a second factor gets an enrolment-only session after the password (MFA is mandatory).
 * Every failure costs one Argon2id verification, counts against the account and the source
 * address, and is an audit record; lockouts are audit records too.
 */
import { AppError, asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { auditAuth, auditLockouts, type IdentityEvents, type RequestMeta } from './auth-audit.js';
import type { MfaService } from './mfa.service.js';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './password.js';
import type { IssuedSession, SessionService } from './session.service.js';
import type { AuthenticationResponseJSON } from './webauthn.verify.js';
import {
  ACCOUNT_POLICY,
  accountKey,
  SOURCE_POLICY,
  sourceKey,
  type LoginThrottle,
} from './throttle.js';

export interface LoginInput {
  readonly email: string;
  readonly password: string;
  readonly totp?: string | undefined;
  readonly recoveryCode?: string | undefined;
  /** A WebAuthn assertion as the second factor (challenge from the sign-in options). */
  readonly webauthn?: AuthenticationResponseJSON | undefined;
  /** Which tenant the session is for, when the user belongs to several. */
  readonly tenantId?: string | undefined;
}

export interface LoginResult extends IssuedSession {
  /** Every tenant the user may sign in to (for a tenant switcher). */
  readonly tenants: readonly TenantId[];
}

interface LookupRow {
  user_id: string;
  home_tenant: string;
  password_hash: string;
  status: string;
}

/** A passkey as the second factor after the password (WebAuthnService). */
export interface PasskeyFactor {
  verifySecondFactor(
    userId: string,
    response: AuthenticationResponseJSON,
    meta: RequestMeta,
  ): Promise<boolean>;
}

/** The one answer for every credential failure. */
const INVALID = (): AppError => new AppError('unauthenticated', 'invalid credentials');

export class LoginService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly sessions: SessionService,
    private readonly mfa: MfaService,
    private readonly throttle: LoginThrottle,
    private readonly events: IdentityEvents,
    private readonly passkeys?: PasskeyFactor,
  ) {}

  async login(input: LoginInput, meta: RequestMeta): Promise<LoginResult> {
    const keys = [accountKey(input.email), sourceKey(meta.ip ?? '')];
    const locked = await this.db.withoutTenant((tx) => this.throttle.lockedUntil(tx, keys));
    if (locked !== undefined) {
      await this.db.withoutTenant((tx) =>
        auditAuth(tx, this.clock, {
          tenantId: null,
          action: 'auth.login.failure',
          outcome: 'denied',
          details: { reason: 'locked' },
          meta,
        }),
      );
      throw new AppError('rate_limited', 'too many failed sign-ins; try again later');
    }
    const user = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<LookupRow>(
        'SELECT user_id, home_tenant, password_hash, status FROM scrip_login_lookup($1)',
        [input.email],
      );
      return rows[0];
    });
    if (user === undefined) {
      await verifyAgainstDummy(input.password);
      return this.#fail(keys, undefined, 'credentials', meta);
    }
    const verified = await verifyPassword(user.password_hash, input.password);
    if (!verified.ok || user.status !== 'active') {
      return this.#fail(keys, user.user_id, 'credentials', meta);
    }
    const home = asTenantId(user.home_tenant);
    // Verified outside the home tenant's transaction: its challenge is a platform row.
    const passkey =
      input.webauthn === undefined || this.passkeys === undefined
        ? undefined
        : await this.passkeys.verifySecondFactor(user.user_id, input.webauthn, meta);
    const factor = await this.db.withTenant(home, async (tx) => {
      const result = await this.#secondFactor(tx, home, user.user_id, input, passkey, meta);
      if (result === 'failed') return result;
      if (verified.needsRehash) {
        await tx.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
          user.user_id,
          await hashPassword(input.password),
        ]);
      }
      await tx.query('UPDATE users SET last_login_at = $2 WHERE id = $1', [
        user.user_id,
        this.clock.now(),
      ]);
      return result;
    });
    if (factor === 'failed') return this.#fail(keys, user.user_id, 'second_factor', meta);
    const tenants = await this.#tenants(user.user_id);
    const chosen = this.#choose(tenants, home, input.tenantId);
    if (chosen === undefined) return this.#fail(keys, user.user_id, 'no_membership', meta);
    const issued = await this.db.withTenant(chosen, async (tx) => {
      const s = await this.sessions.create(tx, chosen, user.user_id, factor === 'enrol', meta);
      await auditAuth(tx, this.clock, {
        tenantId: chosen,
        action: 'auth.login.success',
        outcome: 'success',
        userId: user.user_id,
        sessionId: s.session.id,
        details: { factor, restricted: factor === 'enrol' },
        meta,
      });
      return s;
    });
    await this.db.withoutTenant((tx) => this.throttle.reset(tx, keys[0] ?? ''));
    return { ...issued, tenants };
  }

  /** The factor used after a valid one, 'enrol' when none is enrolled yet. */
  async #secondFactor(
    tx: Tx,
    home: TenantId,
    userId: string,
    input: LoginInput,
    passkey: boolean | undefined,
    meta: RequestMeta,
  ): Promise<'totp' | 'recovery' | 'webauthn' | 'enrol' | 'failed'> {
    if (!(await this.mfa.hasSecondFactor(tx, userId))) return 'enrol';
    if (passkey !== undefined) return passkey ? 'webauthn' : 'failed';
    if (input.totp !== undefined) {
      const totpId = await this.mfa.verifyTotp(tx, home, userId, input.totp);
      return totpId !== undefined ? 'totp' : 'failed';
    }
    if (input.recoveryCode === undefined) return 'failed';
    const ok = await this.mfa.redeemRecoveryCode(
      tx,
      home,
      userId,
      input.recoveryCode,
      meta,
      this.events,
    );
    if (!ok) return 'failed';
    return 'recovery';
  }

  async #tenants(userId: string): Promise<TenantId[]> {
    return this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ t: string }>('SELECT scrip_user_tenants($1) AS t', [
        userId,
      ]);
      return rows.map((r) => asTenantId(r.t));
    });
  }

  #choose(tenants: readonly TenantId[], home: TenantId, wanted?: string): TenantId | undefined {
    if (wanted !== undefined) return tenants.find((t) => t === wanted);
    if (tenants.includes(home)) return home;
    return tenants[0];
  }

  async #fail(
    keys: readonly string[],
    userId: string | undefined,
    reason: string,
    meta: RequestMeta,
  ): Promise<never> {
    await this.db.withoutTenant(async (tx) => {
      const [account = '', source = ''] = keys;
      const a = await this.throttle.recordFailure(tx, account, ACCOUNT_POLICY);
      const s = await this.throttle.recordFailure(tx, source, SOURCE_POLICY);
      await auditAuth(tx, this.clock, {
        tenantId: null,
        action: 'auth.login.failure',
        outcome: 'failure',
        userId,
        details: { reason, accountFailures: a.failures },
        meta,
      });
      await auditLockouts(tx, this.clock, userId, meta, [
        ['account', a],
        ['source', s],
      ]);
    });
    throw INVALID();
  }
}
