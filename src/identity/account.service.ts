/**
 * What a signed-in user does with their own account and session: session info, TOTP enrolment,
 * recovery codes, step-up, bearer tokens, their signed-in sessions, sign-out (here, one session,
 * or everywhere). The user's credentials live in their home tenant; the session lives in the
 * tenant it was opened for.
 */
import { AppError, asTenantId, type Clock, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { auditAuth, auditLockouts, type RequestMeta } from './auth-audit.js';
import type { MfaService, TotpEnrolment } from './mfa.service.js';
import * as own from './own-sessions.repository.js';
import type { IssuedSession, Session, SessionService } from './session.service.js';
import { ACCOUNT_POLICY, userKey, type LoginThrottle } from './throttle.js';

/** The caller, as the HTTP layer resolved it. */
export interface Caller {
  readonly userId: string;
  readonly tenantId: TenantId;
  readonly sessionId: string;
}

export interface AccountInfo {
  readonly userId: string;
  readonly email: string;
  readonly displayName: string;
  readonly homeTenantId: string;
  readonly roles: readonly string[];
  readonly mfaEnrolled: boolean;
}

/** One of the caller's sessions; `current` marks the one the request came with. */
export interface OwnSession extends own.SessionSummary {
  readonly current: boolean;
}

const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export class AccountService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly sessions: SessionService,
    private readonly mfa: MfaService,
    private readonly throttle: LoginThrottle,
  ) {}

  async info(caller: Caller): Promise<AccountInfo> {
    const base = await this.#account(caller);
    const mfaEnrolled = await this.db.withTenant(base.home, (tx) =>
      this.mfa.hasSecondFactor(tx, caller.userId),
    );
    return {
      userId: caller.userId,
      email: base.email,
      displayName: base.displayName,
      homeTenantId: base.home,
      roles: base.roles,
      mfaEnrolled,
    };
  }

  /** The caller's account in their session's tenant: one query, no MFA lookup. */
  async #account(
    caller: Caller,
  ): Promise<{ email: string; displayName: string; home: TenantId; roles: string[] }> {
    const r = await this.db.withTenant(caller.tenantId, async (tx) => {
      const { rows } = await tx.query<{
        email: string;
        display_name: string;
        tenant_id: string;
        roles: string[];
      }>(
        `SELECT u.email, u.display_name, u.tenant_id, m.roles FROM users u
           JOIN memberships m ON m.user_id = u.id AND m.tenant_id = $2 WHERE u.id = $1`,
        [caller.userId, caller.tenantId],
      );
      return rows[0];
    });
    if (r === undefined) throw new AppError('unauthenticated', 'no such user');
    return {
      email: r.email,
      displayName: r.display_name,
      home: asTenantId(r.tenant_id),
      roles: r.roles,
    };
  }

  /** Starts TOTP enrolment (only while none is confirmed). */
  async beginTotp(caller: Caller): Promise<TotpEnrolment> {
    const info = await this.#account(caller);
    const home = info.home;
    const enrolment = await this.db.withTenant(home, (tx) =>
      this.mfa.beginTotp(tx, home, caller.userId, info.email),
    );
    if (enrolment === undefined) throw new AppError('conflict', 'a TOTP factor is enrolled');
    return enrolment;
  }

  /**
   * Confirms TOTP with a first code, issues ten recovery codes (shown once), and rotates the
   * session: the enrolment-only session ends and a full one replaces it.
   */
  async confirmTotp(
    caller: Caller,
    code: string,
    meta: RequestMeta,
  ): Promise<{ recoveryCodes: string[]; issued: IssuedSession }> {
    const info = await this.#account(caller);
    const home = info.home;
    await this.#notLocked(caller.userId);
    const codes = await this.db.withTenant(home, async (tx) => {
      if (!(await this.mfa.confirmTotp(tx, home, caller.userId, code))) return undefined;
      const recovery = await this.mfa.regenerateRecoveryCodes(tx, home, caller.userId);
      await auditAuth(tx, this.clock, {
        tenantId: home,
        action: 'auth.mfa.enrol',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        details: { factor: 'totp' },
        meta,
      });
      return recovery;
    });
    if (codes === undefined) {
      await this.#factorFailure(caller, 'auth.mfa.enrol', meta);
      throw new AppError('validation_failed', 'the code is not valid', { detail: 'code' });
    }
    const issued = await this.rotate(caller, 'mfa_enrolled', meta);
    return { recoveryCodes: codes, issued };
  }

  /**
   * Starts re-enrolling TOTP (a new device, or a credential that predates the identity proofing);
   * the route requires a fresh step-up for `auth.totp.reenrol`. The old secret keeps working until
   * the new one is confirmed.
   */
  async beginTotpReenrol(caller: Caller): Promise<TotpEnrolment> {
    const info = await this.#account(caller);
    const home = info.home;
    const enrolment = await this.db.withTenant(home, (tx) =>
      this.mfa.beginReenrol(tx, home, caller.userId, info.email),
    );
    if (enrolment === undefined) {
      throw new AppError('conflict', 'no TOTP factor is enrolled', { detail: 'not_enrolled' });
    }
    return enrolment;
  }

  /** Confirms the re-enrolment with a first code of the new secret, which replaces the old one. */
  async confirmTotpReenrol(caller: Caller, code: string, meta: RequestMeta): Promise<void> {
    const info = await this.#account(caller);
    const home = info.home;
    await this.#notLocked(caller.userId);
    const ok = await this.db.withTenant(home, async (tx) => {
      if (!(await this.mfa.confirmReenrol(tx, home, caller.userId, code))) return false;
      await auditAuth(tx, this.clock, {
        tenantId: home,
        action: 'auth.mfa.reenrol',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        details: { factor: 'totp' },
        meta,
      });
      return true;
    });
    if (!ok) {
      await this.#factorFailure(caller, 'auth.mfa.reenrol', meta);
      throw new AppError('validation_failed', 'the code is not valid', { detail: 'code' });
    }
  }

  /** Ends the caller's session and opens a fresh full one (privilege change). */
  async rotate(caller: Caller, reason: string, meta: RequestMeta): Promise<IssuedSession> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      await this.sessions.revoke(tx, caller.sessionId, reason);
      return this.sessions.create(tx, caller.tenantId, caller.userId, false, meta);
    });
  }

  async regenerateRecoveryCodes(caller: Caller, meta: RequestMeta): Promise<string[]> {
    const info = await this.#account(caller);
    const home = info.home;
    return this.db.withTenant(home, async (tx) => {
      const codes = await this.mfa.regenerateRecoveryCodes(tx, home, caller.userId);
      await auditAuth(tx, this.clock, {
        tenantId: home,
        action: 'auth.recovery_codes.regenerate',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        meta,
      });
      return codes;
    });
  }

  /** A fresh TOTP for one named action; usable once, within the step-up window. */
  async stepUp(caller: Caller, action: string, code: string, meta: RequestMeta): Promise<Date> {
    if (!ACTION_RE.test(action) || action.length > 100) {
      throw new AppError('validation_failed', 'bad action name', { detail: 'action' });
    }
    const info = await this.#account(caller);
    const home = info.home;
    await this.#notLocked(caller.userId);
    const totpId = await this.db.withTenant(home, (tx) =>
      this.mfa.verifyTotp(tx, home, caller.userId, code),
    );
    if (totpId === undefined) {
      await this.#factorFailure(caller, 'auth.stepup', meta, action);
      throw new AppError('validation_failed', 'the code is not valid', { detail: 'code' });
    }
    const session = await this.#session(caller);
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const expires = await this.sessions.recordStepUp(tx, session, action, {
        type: 'totp',
        id: totpId,
      });
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'auth.stepup',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        details: { for: action },
        meta,
      });
      return expires;
    });
  }

  async issueBearer(caller: Caller, meta: RequestMeta): Promise<IssuedSession> {
    const parent = await this.#session(caller);
    if (parent.kind !== 'cookie') {
      throw new AppError('forbidden', 'a bearer token cannot issue another');
    }
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const issued = await this.sessions.issueBearer(tx, parent);
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'auth.token.issue',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [{ type: 'session', id: issued.session.id }],
        meta,
      });
      return issued;
    });
  }

  async logout(caller: Caller, meta: RequestMeta): Promise<void> {
    await this.db.withTenant(caller.tenantId, async (tx) => {
      await this.sessions.revoke(tx, caller.sessionId, 'logout');
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'auth.logout',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        meta,
      });
    });
  }

  /**
   * The caller's live cookie sessions in the session's tenant, newest first; `current` marks the
   * calling session (for a bearer token, the cookie session that issued it).
   */
  async listSessions(caller: Caller): Promise<OwnSession[]> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const current = await own.cookieSessionOf(tx, caller.sessionId);
      const list = await own.listLive(tx, caller.tenantId, caller.userId, this.clock.now());
      return list.map((s) => ({ ...s, current: s.id === current }));
    });
  }

  /**
   * Ends one of the caller's own cookie sessions (and its bearer tokens), audited in the same
   * transaction (45 CFR 164.312(b)). Someone else's, an unknown or an ended id all answer
   * not_found alike, so the route is no oracle for session ids. `current` tells the route to
   * clear the cookies.
   */
  async endSession(
    caller: Caller,
    sessionId: string,
    meta: RequestMeta,
  ): Promise<{ current: boolean }> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const now = this.clock.now();
      if (!(await own.lockOwnLive(tx, caller.tenantId, caller.userId, sessionId, now))) {
        throw new AppError('not_found', 'no such session');
      }
      const current = (await own.cookieSessionOf(tx, caller.sessionId)) === sessionId;
      await this.sessions.revoke(tx, sessionId, 'user_ended');
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'auth.session.revoked',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [{ type: 'session', id: sessionId }],
        details: { endedSessionId: sessionId, current },
        meta,
      });
      return { current };
    });
  }

  /** Sign out everywhere: every session of the caller, in every tenant. */
  async logoutAll(caller: Caller, meta: RequestMeta): Promise<number> {
    const tenants = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ t: string }>('SELECT scrip_user_tenants($1) AS t', [
        caller.userId,
      ]);
      return rows.map((r) => asTenantId(r.t));
    });
    let ended = 0;
    for (const t of tenants) {
      ended += await this.db.withTenant(t, async (tx) => {
        const n = await this.sessions.revokeAllForUser(tx, caller.userId, 'logout_all');
        await auditAuth(tx, this.clock, {
          tenantId: t,
          action: 'auth.logout_all',
          outcome: 'success',
          userId: caller.userId,
          sessionId: caller.sessionId,
          details: { ended: n },
          meta,
        });
        return n;
      });
    }
    return ended;
  }

  async #session(caller: Caller): Promise<Session> {
    return this.db.withTenant(caller.tenantId, (tx) => this.sessions.live(tx, caller));
  }

  async #notLocked(userId: string): Promise<void> {
    const locked = await this.db.withoutTenant((tx) =>
      this.throttle.lockedUntil(tx, [userKey(userId)]),
    );
    if (locked !== undefined) throw new AppError('rate_limited', 'too many wrong codes');
  }

  async #factorFailure(
    caller: Caller,
    action: 'auth.stepup' | 'auth.mfa.enrol' | 'auth.mfa.reenrol',
    meta: RequestMeta,
    forAction?: string,
  ): Promise<void> {
    await this.db.withoutTenant(async (tx) => {
      const r = await this.throttle.recordFailure(tx, userKey(caller.userId), ACCOUNT_POLICY);
      await auditAuth(tx, this.clock, {
        tenantId: null,
        action,
        outcome: 'failure',
        userId: caller.userId,
        sessionId: caller.sessionId,
        details: { failures: r.failures, ...(forAction === undefined ? {} : { for: forAction }) },
        meta,
      });
      await auditLockouts(tx, this.clock, caller.userId, meta, [['user', r]]);
    });
  }
}
