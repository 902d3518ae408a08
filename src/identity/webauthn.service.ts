/**
 * WebAuthn ceremonies (W3C Web Authentication Level 3): registering a passkey, signing in with
 * one alone (it carries user verification, so it is multi-factor by itself: NIST SP 800-63B
 * §5.1.8 multi-factor cryptographic authenticator, phishing-resistant because the signature covers
 * the origin), using one as the second factor after a password, and step-up for one action.
 *
 * Challenges: 32 random bytes, stored as SHA-256, bound to their ceremony (purpose, session, user,
 * action), at most five minutes old, consumed once by a compare-and-set before the response is
 * verified, so a replayed or second response finds no challenge. Credentials live in the user's
 * home tenant.
 */
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { AppError, asTenantId, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Caller } from './account.service.js';
import { auditAuth, auditLockouts, type RequestMeta } from './auth-audit.js';
import type { MfaService } from './mfa.service.js';
import type { IssuedSession, SessionService } from './session.service.js';
import {
  ACCOUNT_POLICY,
  SOURCE_POLICY,
  sourceKey,
  userKey,
  type LoginThrottle,
} from './throttle.js';
import { webauthnRepository as repo, type ChallengeBinding } from './webauthn.repository.js';
import {
  challengeOf,
  verifyAssertion,
  verifyRegistration,
  WEBAUTHN_ALGORITHMS,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
  type RelyingParty,
} from './webauthn.verify.js';
import { type PasskeySummary, summary, userHandle, userOf } from './webauthn-common.js';

export interface WebAuthnOptions extends RelyingParty {
  readonly rpName: string;
}

/** How long a ceremony may take (and its challenge live): the schema allows at most 5 minutes. */
export const WEBAUTHN_CHALLENGE_TTL_MS = 5 * 60_000;
const ACTION_RE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const INVALID = (): AppError => new AppError('unauthenticated', 'invalid credentials');
const REFUSED = (): AppError =>
  new AppError('validation_failed', 'the passkey response is not valid', { detail: 'webauthn' });

export interface PasskeyRegistration {
  readonly credential: PasskeySummary;
  /** Set when the passkey was the first factor: the full session replacing the enrolment one. */
  readonly issued?: IssuedSession;
  readonly recoveryCodes?: string[];
}

type AssertionResult =
  | {
      readonly ok: true;
      readonly userId: string;
      readonly home: TenantId;
      readonly uv: boolean;
      /** The credential's row id. */
      readonly credentialId: string;
    }
  | { readonly ok: false; readonly reason: string; readonly userId?: string };

export class WebAuthnService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly sessions: SessionService,
    private readonly mfa: MfaService,
    private readonly throttle: LoginThrottle,
    private readonly options: WebAuthnOptions,
  ) {}

  #challenge(): { text: string; bytes: Uint8Array<ArrayBuffer> } {
    const bytes = Uint8Array.from(this.random.bytes(32));
    return { text: Buffer.from(bytes).toString('base64url'), bytes };
  }

  /** Options for navigator.credentials.create(): a discoverable credential with UV required. */
  async registrationOptions(caller: Caller): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const user = await userOf(this.db, caller);
    const existing = await this.db.withTenant(user.home, (tx) =>
      repo.listForUser(tx, caller.userId, false),
    );
    const challenge = this.#challenge();
    await this.db.withTenant(caller.tenantId, (tx) =>
      repo.insertChallenge(tx, {
        tenantId: caller.tenantId,
        purpose: 'register',
        sessionId: caller.sessionId,
        userId: caller.userId,
        challenge: challenge.text,
        now: this.clock.now(),
        ttlMs: WEBAUTHN_CHALLENGE_TTL_MS,
      }),
    );
    return generateRegistrationOptions({
      rpName: this.options.rpName,
      rpID: this.options.rpId,
      userName: user.email,
      userID: new Uint8Array(userHandle(caller.userId)),
      userDisplayName: user.displayName,
      challenge: challenge.bytes,
      timeout: WEBAUTHN_CHALLENGE_TTL_MS,
      attestationType: 'none',
      excludeCredentials: existing.map((c) => ({
        id: c.credentialId.toString('base64url'),
        transports: c.transports,
      })),
      authenticatorSelection: {
        residentKey: 'required',
        requireResidentKey: true,
        userVerification: 'required',
      },
      supportedAlgorithmIDs: [...WEBAUTHN_ALGORITHMS],
    });
  }

  /**
   * Verifies a new credential (UV required) and stores it in the home tenant. From an
   * enrolment-only session (no second factor yet) it is the first factor: recovery codes are
   * issued once and the session is replaced by a full one.
   */
  async register(
    caller: Caller,
    restricted: boolean,
    response: RegistrationResponseJSON,
    name: string | undefined,
    meta: RequestMeta,
  ): Promise<PasskeyRegistration> {
    const user = await userOf(this.db, caller);
    const challenge = challengeOf(response.response.clientDataJSON);
    const binding: ChallengeBinding = {
      purpose: 'register',
      sessionId: caller.sessionId,
      userId: caller.userId,
    };
    const consumed =
      challenge !== undefined &&
      (await this.db.withTenant(caller.tenantId, (tx) =>
        repo.consumeChallenge(tx, challenge, binding, this.clock.now()),
      ));
    const outcome = consumed
      ? await verifyRegistration(this.options, response, challenge, true)
      : ({ ok: false, reason: 'challenge' } as const);
    if (!outcome.ok) {
      await this.db.withTenant(user.home, (tx) =>
        auditAuth(tx, this.clock, {
          tenantId: user.home,
          action: 'auth.webauthn.register',
          outcome: 'failure',
          userId: caller.userId,
          sessionId: caller.sessionId,
          details: { reason: outcome.reason },
          meta,
        }),
      );
      throw REFUSED();
    }
    const c = outcome.credential;
    const now = this.clock.now();
    const stored = await this.db
      .withTenant(user.home, async (tx) => {
        if (restricted && (await this.mfa.hasSecondFactor(tx, caller.userId))) {
          throw new AppError('forbidden', 'sign in with your second factor first');
        }
        const id = await repo.insertCredential(tx, {
          tenantId: user.home,
          userId: caller.userId,
          credentialId: c.credentialId,
          publicKey: c.publicKey,
          signCount: c.signCount,
          transports: c.transports,
          aaguid: c.aaguid,
          format: c.format,
          backupEligible: c.backupEligible,
          backedUp: c.backedUp,
          name: name ?? 'Passkey',
          createdAt: now,
        });
        await auditAuth(tx, this.clock, {
          tenantId: user.home,
          action: 'auth.webauthn.register',
          outcome: 'success',
          userId: caller.userId,
          sessionId: caller.sessionId,
          subjects: [{ type: 'webauthn_credential', id }],
          details: {
            aaguid: c.aaguid,
            backupEligible: c.backupEligible,
            firstFactor: restricted,
          },
          meta,
        });
        const recoveryCodes = restricted
          ? await this.mfa.regenerateRecoveryCodes(tx, user.home, caller.userId)
          : undefined;
        const row = await repo.byId(tx, caller.userId, id);
        return { row, recoveryCodes };
      })
      .catch((err: unknown) => {
        if ((err as { code?: unknown }).code === '23505') {
          throw new AppError('conflict', 'this credential is already registered');
        }
        throw err;
      });
    if (stored.row === undefined) throw new AppError('internal', 'credential vanished');
    if (stored.recoveryCodes === undefined) return { credential: summary(stored.row) };
    const issued = await this.db.withTenant(caller.tenantId, async (tx) => {
      await this.sessions.revoke(tx, caller.sessionId, 'mfa_enrolled');
      return this.sessions.create(tx, caller.tenantId, caller.userId, false, meta);
    });
    return { credential: summary(stored.row), issued, recoveryCodes: stored.recoveryCodes };
  }

  /**
   * Options for navigator.credentials.get() at sign-in: no user named (discoverable credentials),
   * so they reveal nothing about accounts. UV is requested; `secondFactor` (after a password)
   * only prefers it.
   */
  async loginOptions(secondFactor: boolean): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const challenge = this.#challenge();
    await this.db.withoutTenant((tx) =>
      repo.insertChallenge(tx, {
        tenantId: null,
        purpose: 'login',
        challenge: challenge.text,
        now: this.clock.now(),
        ttlMs: WEBAUTHN_CHALLENGE_TTL_MS,
      }),
    );
    return generateAuthenticationOptions({
      rpID: this.options.rpId,
      challenge: challenge.bytes,
      timeout: WEBAUTHN_CHALLENGE_TTL_MS,
      userVerification: secondFactor ? 'preferred' : 'required',
      allowCredentials: [],
    });
  }

  /** Passkey-alone sign-in: a full session when the assertion carries user verification. */
  async login(
    response: AuthenticationResponseJSON,
    tenantId: string | undefined,
    meta: RequestMeta,
  ): Promise<{ issued: IssuedSession; tenants: TenantId[] }> {
    const source = sourceKey(meta.ip ?? '');
    const locked = await this.db.withoutTenant((tx) => this.throttle.lockedUntil(tx, [source]));
    if (locked !== undefined) throw new AppError('rate_limited', 'too many failed sign-ins');
    const r = await this.#assert(response, { purpose: 'login' }, undefined, true, meta);
    if (!r.ok) return this.#loginFailure(r.reason, r.userId, meta);
    const userLocked = await this.db.withoutTenant((tx) =>
      this.throttle.lockedUntil(tx, [userKey(r.userId)]),
    );
    if (userLocked !== undefined) return this.#loginFailure('locked', r.userId, meta);
    const tenants = await this.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ t: string }>('SELECT scrip_user_tenants($1) AS t', [
        r.userId,
      ]);
      return rows.map((x) => asTenantId(x.t));
    });
    const chosen =
      tenantId !== undefined
        ? tenants.find((t) => t === tenantId)
        : tenants.includes(r.home)
          ? r.home
          : tenants[0];
    if (chosen === undefined) return this.#loginFailure('no_membership', r.userId, meta);
    const issued = await this.db.withTenant(chosen, async (tx) => {
      const s = await this.sessions.create(tx, chosen, r.userId, false, meta);
      await auditAuth(tx, this.clock, {
        tenantId: chosen,
        action: 'auth.login.success',
        outcome: 'success',
        userId: r.userId,
        sessionId: s.session.id,
        details: { factor: 'webauthn', userVerified: true, restricted: false },
        meta,
      });
      return s;
    });
    await this.db.withTenant(r.home, (tx) =>
      tx.query('UPDATE users SET last_login_at = $2 WHERE id = $1', [r.userId, this.clock.now()]),
    );
    return { issued, tenants };
  }

  /** A passkey as the second factor after a verified password: possession suffices (no UV). */
  async verifySecondFactor(
    userId: string,
    response: AuthenticationResponseJSON,
    meta: RequestMeta,
  ): Promise<boolean> {
    const r = await this.#assert(response, { purpose: 'login' }, userId, false, meta);
    return r.ok;
  }

  /** Options for a step-up: the caller's own credentials, UV required. */
  async stepUpOptions(
    caller: Caller,
    action: string,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    checkAction(action);
    const user = await userOf(this.db, caller);
    const creds = await this.db.withTenant(user.home, (tx) =>
      repo.listForUser(tx, caller.userId, false),
    );
    if (creds.length === 0) throw new AppError('conflict', 'no passkey registered');
    const challenge = this.#challenge();
    await this.db.withTenant(caller.tenantId, (tx) =>
      repo.insertChallenge(tx, {
        tenantId: caller.tenantId,
        purpose: 'stepup',
        sessionId: caller.sessionId,
        userId: caller.userId,
        action,
        challenge: challenge.text,
        now: this.clock.now(),
        ttlMs: WEBAUTHN_CHALLENGE_TTL_MS,
      }),
    );
    return generateAuthenticationOptions({
      rpID: this.options.rpId,
      challenge: challenge.bytes,
      timeout: WEBAUTHN_CHALLENGE_TTL_MS,
      userVerification: 'required',
      allowCredentials: creds.map((c) => ({
        id: c.credentialId.toString('base64url'),
        transports: c.transports,
      })),
    });
  }

  /**
   * Verifies a fresh assertion (UV required) from one of the caller's passkeys, over a step-up
   * challenge for `action`, and returns that credential's id: proof of possession of exactly this
   * passkey (binding it to the proofing needs that, not just any second factor). Failures count
   * against the user and are audited as failed step-ups.
   */
  async provePossession(
    caller: Caller,
    action: string,
    response: AuthenticationResponseJSON,
    meta: RequestMeta,
  ): Promise<string> {
    checkAction(action);
    const locked = await this.db.withoutTenant((tx) =>
      this.throttle.lockedUntil(tx, [userKey(caller.userId)]),
    );
    if (locked !== undefined) throw new AppError('rate_limited', 'too many failed attempts');
    const binding = {
      purpose: 'stepup',
      sessionId: caller.sessionId,
      userId: caller.userId,
      action,
      tenantId: caller.tenantId,
    } as const;
    const r = await this.#assert(response, binding, caller.userId, true, meta);
    if (!r.ok) {
      await this.db.withoutTenant(async (tx) => {
        const f = await this.throttle.recordFailure(tx, userKey(caller.userId), ACCOUNT_POLICY);
        await auditAuth(tx, this.clock, {
          tenantId: null,
          action: 'auth.stepup',
          outcome: 'failure',
          userId: caller.userId,
          sessionId: caller.sessionId,
          details: { for: action, factor: 'webauthn', reason: r.reason, failures: f.failures },
          meta,
        });
      });
      throw REFUSED();
    }
    return r.credentialId;
  }

  /** A fresh passkey assertion with UV for one named action (single use, step-up window). */
  async stepUp(
    caller: Caller,
    action: string,
    response: AuthenticationResponseJSON,
    meta: RequestMeta,
  ): Promise<Date> {
    const id = await this.provePossession(caller, action, response, meta);
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const session = await this.sessions.live(tx, caller);
      const expires = await this.sessions.recordStepUp(tx, session, action, {
        type: 'webauthn',
        id,
      });
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'auth.stepup',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        details: { for: action, factor: 'webauthn' },
        meta,
      });
      return expires;
    });
  }

  /**
   * The shared assertion path: consume the challenge for this ceremony, find the credential (in
   * its home tenant), verify, refuse and audit a counter regression, record the use.
   */
  async #assert(
    response: AuthenticationResponseJSON,
    binding: ChallengeBinding & { tenantId?: TenantId },
    expectedUser: string | undefined,
    requireUv: boolean,
    meta: RequestMeta,
  ): Promise<AssertionResult> {
    const challenge = challengeOf(response.response.clientDataJSON);
    if (challenge === undefined) return { ok: false, reason: 'malformed' };
    const now = this.clock.now();
    const consume = (tx: Parameters<typeof repo.consumeChallenge>[0]): Promise<boolean> =>
      repo.consumeChallenge(tx, challenge, binding, now);
    const consumed =
      binding.tenantId === undefined
        ? await this.db.withoutTenant(consume)
        : await this.db.withTenant(binding.tenantId, consume);
    if (!consumed) return { ok: false, reason: 'challenge' };
    const credentialId = Buffer.from(response.rawId, 'base64url');
    const home = await this.db.withoutTenant((tx) => repo.tenantOf(tx, credentialId));
    if (home === undefined) return { ok: false, reason: 'unknown_credential' };
    const tenant = asTenantId(home);
    return this.db.withTenant(tenant, async (tx): Promise<AssertionResult> => {
      const cred = await repo.byCredentialId(tx, credentialId);
      if (cred === undefined) return { ok: false, reason: 'unknown_credential' };
      if (expectedUser !== undefined && cred.userId !== expectedUser) {
        return { ok: false, reason: 'unknown_credential' };
      }
      const handle = response.response.userHandle;
      if (handle !== undefined && handle !== userHandle(cred.userId).toString('base64url')) {
        return { ok: false, reason: 'user_handle', userId: cred.userId };
      }
      const active = await tx.query(`SELECT 1 FROM users WHERE id = $1 AND status = 'active'`, [
        cred.userId,
      ]);
      if (active.rows.length === 0) return { ok: false, reason: 'disabled', userId: cred.userId };
      const v = await verifyAssertion(this.options, response, challenge, cred, requireUv);
      if (!v.ok) {
        if (v.reason === 'counter_regression') {
          await auditAuth(tx, this.clock, {
            tenantId: tenant,
            action: 'auth.webauthn.counter_regression',
            outcome: 'denied',
            userId: cred.userId,
            subjects: [{ type: 'webauthn_credential', id: cred.id }],
            details: { stored: cred.signCount, presented: v.signCount ?? 0 },
            meta,
          });
        }
        return { ok: false, reason: v.reason, userId: cred.userId };
      }
      if (!(await repo.recordUse(tx, cred, v.signCount, v.backedUp, now))) {
        return { ok: false, reason: 'concurrent_use', userId: cred.userId };
      }
      return {
        ok: true,
        userId: cred.userId,
        home: tenant,
        uv: v.userVerified,
        credentialId: cred.id,
      };
    });
  }

  async #loginFailure(
    reason: string,
    userId: string | undefined,
    meta: RequestMeta,
  ): Promise<never> {
    await this.db.withoutTenant(async (tx) => {
      const s = await this.throttle.recordFailure(tx, sourceKey(meta.ip ?? ''), SOURCE_POLICY);
      const u =
        userId === undefined
          ? undefined
          : await this.throttle.recordFailure(tx, userKey(userId), ACCOUNT_POLICY);
      await auditAuth(tx, this.clock, {
        tenantId: null,
        action: 'auth.login.failure',
        outcome: 'failure',
        userId,
        details: { reason, factor: 'webauthn', sourceFailures: s.failures },
        meta,
      });
      await auditLockouts(tx, this.clock, userId, meta, [
        ['source', s],
        ['user', u],
      ]);
    });
    throw INVALID();
  }
}

function checkAction(action: string): void {
  if (!ACTION_RE.test(action) || action.length > 100) {
    throw new AppError('validation_failed', 'bad action name', { detail: 'action' });
  }
}
