/**
 * Sign-in with a tenant's OpenID Connect identity provider: authorization code flow with PKCE S256
 * (OpenID Connect Core 1.0 §3.1, RFC 7636), `state` single use and bound to the browser, the ID
 * token checked by openid-client (signature against the IdP's JWKS, `iss`, `aud`, `exp`, `nonce`;
 * RFC 9207 `iss` on the response). Accounts are linked (issuer + subject), created only when the
 * tenant allows it, and the local second factor is still required unless the IdP's `amr`/`acr`
 * (RFC 8176) shows MFA the tenant trusts.
 *
 * Not yet enforced: the compliance gate (a signed BAA with the IdP vendor) for this data flow.
 */
import * as oidc from 'openid-client';
import { AppError, type Clock, type Random, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { Caller } from './account.service.js';
import { auditAuth, type IdentityEvents, type RequestMeta } from './auth-audit.js';
import type { MfaService } from './mfa.service.js';
import type { IssuedSession, SessionService } from './session.service.js';
import { SsoAccounts } from './sso-accounts.js';
import { checkOf, codeOf, FAILED, idpProvedMfa, SsoFailure } from './sso-checks.js';
import { SsoConfigService, type SsoEnableGuard, type SsoProvider } from './sso-config.service.js';
import { SsoDomainService } from './sso-domains.js';
import { SsoTransactions, type ConsumedTransaction } from './sso-transactions.js';
import { ACCOUNT_POLICY, LoginThrottle, userKey } from './throttle.js';
import { hashToken, isTokenShaped, issueToken, tokenMatches } from './tokens.js';

export interface SsoOptions {
  /** The HTTP client for discovery, token and JWKS requests (a port: tests trust a local CA). */
  readonly fetch?: oidc.CustomFetch | undefined;
  /** How long a discovered IdP configuration is reused. */
  readonly discoveryTtlMs?: number;
  /** Consulted before a configuration is saved enabled (the compliance integration gate). */
  readonly enableGuard?: SsoEnableGuard | undefined;
}

export interface SsoStart {
  /** The IdP authorization URL (state, nonce, PKCE challenge; no PHI). */
  readonly url: string;
  /** Binds the transaction to this browser (an HttpOnly cookie). */
  readonly browserToken: string;
}

export type SsoResult =
  | { readonly status: 'signed_in' | 'enrolment_required'; readonly issued: IssuedSession }
  | { readonly status: 'mfa_required'; readonly pendingToken: string }
  | { readonly status: 'linked' };

export interface SecondFactor {
  readonly totp?: string | undefined;
  readonly recoveryCode?: string | undefined;
}

export class SsoService {
  readonly #discovered = new Map<string, { at: number; config: oidc.Configuration }>();

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly configs: SsoConfigService,
    private readonly transactions: SsoTransactions,
    private readonly accounts: SsoAccounts,
    private readonly sessions: SessionService,
    private readonly mfa: MfaService,
    private readonly throttle: LoginThrottle,
    private readonly events: IdentityEvents,
    private readonly options: SsoOptions = {},
  ) {}

  /** Starts a sign-in at the tenant's IdP; `not_found` alike for unknown tenants and no IdP. */
  async start(tenantId: TenantId, link?: Caller): Promise<SsoStart> {
    const provider = await this.db.withTenant(tenantId, (tx) => this.configs.load(tx, tenantId));
    if (provider === undefined) throw new AppError('not_found', 'SSO is not configured');
    const config = await this.#client(tenantId, provider);
    const state = issueToken(this.random);
    const browser = issueToken(this.random);
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const challenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
    await this.db.withTenant(tenantId, (tx) =>
      this.transactions.create(tx, tenantId, {
        stateHash: state.hash,
        browserHash: browser.hash,
        nonce,
        codeVerifier,
        link: link === undefined ? undefined : { userId: link.userId, sessionId: link.sessionId },
      }),
    );
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: provider.redirectUri,
      scope: 'openid email profile',
      state: state.token,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    return { url: url.href, browserToken: browser.token };
  }

  /**
   * The IdP's redirect back: `query` is the raw query string, `browserToken` the binding cookie.
   * Every failure is one answer and an audit record with the reason.
   */
  async callback(
    query: string,
    browserToken: string | undefined,
    meta: RequestMeta,
  ): Promise<SsoResult> {
    const state = new URLSearchParams(query).get('state') ?? '';
    const stateHash = isTokenShaped(state) ? hashToken(state) : undefined;
    const tenant =
      stateHash === undefined
        ? undefined
        : await this.db.withoutTenant(async (tx) => {
            const { rows } = await tx.query<{ t: string | null }>(
              'SELECT scrip_sso_tenant($1) AS t',
              [stateHash],
            );
            return rows[0]?.t ?? undefined;
          });
    if (tenant === undefined || stateHash === undefined) {
      return this.#fail(null, 'unknown_state', undefined, meta);
    }
    const tenantId = tenant as TenantId;
    // Consumed in its own transaction: a failed attempt burns the state too.
    const t = await this.db.withTenant(tenantId, (tx) =>
      this.transactions.consume(tx, tenantId, stateHash),
    );
    if (t === undefined) return this.#fail(tenantId, 'state_used_or_expired', undefined, meta);
    if (browserToken === undefined || !tokenMatches(browserToken, t.browserHash)) {
      return this.#fail(tenantId, 'browser_mismatch', undefined, meta);
    }
    let claims: oidc.IDToken;
    let provider: SsoProvider;
    try {
      ({ claims, provider } = await this.#exchange(tenantId, query, state, t));
    } catch (err) {
      if (err instanceof SsoFailure) return this.#fail(tenantId, err.reason, undefined, meta);
      return this.#fail(tenantId, codeOf(err), undefined, meta, checkOf(err));
    }
    try {
      if (t.link !== undefined)
        return await this.accounts.link(tenantId, provider, claims, t, meta);
      return await this.#signIn(tenantId, provider, claims, t, meta);
    } catch (err) {
      if (err instanceof SsoFailure) return this.#fail(tenantId, err.reason, undefined, meta);
      throw err;
    }
  }

  /** Completes an SSO sign-in that owes the local second factor (TOTP or a recovery code). */
  async complete(
    pendingToken: string,
    factor: SecondFactor,
    meta: RequestMeta,
  ): Promise<IssuedSession> {
    const hash = isTokenShaped(pendingToken) ? hashToken(pendingToken) : undefined;
    const tenant =
      hash === undefined
        ? undefined
        : await this.db.withoutTenant(async (tx) => {
            const { rows } = await tx.query<{ t: string | null }>(
              'SELECT scrip_sso_tenant($1) AS t',
              [hash],
            );
            return rows[0]?.t ?? undefined;
          });
    if (tenant === undefined || hash === undefined) throw FAILED();
    const tenantId = tenant as TenantId;
    const pending = await this.db.withTenant(tenantId, async (tx) => {
      const userId = await this.transactions.pendingUser(tx, tenantId, hash);
      if (userId === undefined) return undefined;
      const { rows } = await tx.query<{ tenant_id: string }>(
        'SELECT tenant_id FROM users WHERE id = $1',
        [userId],
      );
      return rows[0] === undefined ? undefined : { userId, home: rows[0].tenant_id as TenantId };
    });
    if (pending === undefined) throw FAILED();
    const { userId, home } = pending;
    const locked = await this.db.withoutTenant((tx) =>
      this.throttle.lockedUntil(tx, [userKey(userId)]),
    );
    if (locked !== undefined) throw new AppError('rate_limited', 'too many wrong codes');
    const used = await this.db.withTenant(home, (tx) =>
      this.#verifyFactor(tx, home, userId, factor, meta),
    );
    if (used === undefined) {
      await this.db.withoutTenant(async (tx) => {
        const r = await this.throttle.recordFailure(tx, userKey(userId), ACCOUNT_POLICY);
        await auditAuth(tx, this.clock, {
          tenantId: null,
          action: 'auth.sso.login.failure',
          outcome: 'failure',
          userId,
          details: { reason: 'second_factor', failures: r.failures },
          meta,
        });
      });
      throw FAILED();
    }
    return this.db.withTenant(tenantId, async (tx) => {
      if (!(await this.transactions.finishPending(tx, tenantId, hash))) throw FAILED();
      return this.#issue(tx, tenantId, userId, false, used, meta);
    });
  }

  async #exchange(
    tenantId: TenantId,
    query: string,
    state: string,
    t: ConsumedTransaction,
  ): Promise<{ claims: oidc.IDToken; provider: SsoProvider }> {
    const provider = await this.db.withTenant(tenantId, (tx) => this.configs.load(tx, tenantId));
    if (provider === undefined) throw new SsoFailure('not_configured');
    const config = await this.#client(tenantId, provider);
    const current = new URL(provider.redirectUri);
    current.search = query;
    const tokens = await oidc.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: t.codeVerifier,
      expectedNonce: t.nonce,
      expectedState: state,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims === undefined) throw new SsoFailure('no_id_token');
    return { claims, provider };
  }

  async #signIn(
    tenantId: TenantId,
    provider: SsoProvider,
    claims: oidc.IDToken,
    t: ConsumedTransaction,
    meta: RequestMeta,
  ): Promise<SsoResult> {
    const userId =
      (await this.accounts.linked(tenantId, claims)) ??
      (await this.accounts.autoCreate(tenantId, provider, claims, meta));
    const user = await this.db.withTenant(tenantId, async (tx) => {
      const { rows } = await tx.query<{ home: string }>(
        `SELECT u.tenant_id AS home FROM users u
           JOIN memberships m ON m.user_id = u.id AND m.tenant_id = $2
          WHERE u.id = $1 AND u.status = 'active'`,
        [userId, tenantId],
      );
      return rows[0];
    });
    if (user === undefined) throw new SsoFailure('no_active_membership');
    if (idpProvedMfa(provider, claims)) {
      return this.db.withTenant(tenantId, async (tx) => ({
        status: 'signed_in' as const,
        issued: await this.#issue(tx, tenantId, userId, false, 'idp_mfa', meta),
      }));
    }
    const home = user.home as TenantId;
    const enrolled = await this.db.withTenant(home, (tx) => this.mfa.hasConfirmedTotp(tx, userId));
    if (!enrolled) {
      // Like a password sign-in without a factor: an enrolment-only session (MFA is mandatory).
      return this.db.withTenant(tenantId, async (tx) => ({
        status: 'enrolment_required' as const,
        issued: await this.#issue(tx, tenantId, userId, true, 'enrol', meta),
      }));
    }
    const pending = issueToken(this.random);
    await this.db.withTenant(tenantId, (tx) =>
      this.transactions.setPending(tx, t.id, userId, pending.hash),
    );
    return { status: 'mfa_required', pendingToken: pending.token };
  }

  async #verifyFactor(
    tx: Tx,
    home: TenantId,
    userId: string,
    factor: SecondFactor,
    meta: RequestMeta,
  ): Promise<'totp' | 'recovery' | undefined> {
    if (factor.totp !== undefined) {
      const totpId = await this.mfa.verifyTotp(tx, home, userId, factor.totp);
      return totpId !== undefined ? 'totp' : undefined;
    }
    if (factor.recoveryCode === undefined) return undefined;
    const ok = await this.mfa.redeemRecoveryCode(
      tx,
      home,
      userId,
      factor.recoveryCode,
      meta,
      this.events,
    );
    if (!ok) return undefined;
    return 'recovery';
  }

  async #issue(
    tx: Tx,
    tenantId: TenantId,
    userId: string,
    restricted: boolean,
    factor: string,
    meta: RequestMeta,
  ): Promise<IssuedSession> {
    const issued = await this.sessions.create(tx, tenantId, userId, restricted, meta);
    await tx.query('UPDATE users SET last_login_at = $2 WHERE id = $1 AND tenant_id = $3', [
      userId,
      this.clock.now(),
      tenantId,
    ]);
    await auditAuth(tx, this.clock, {
      tenantId,
      action: 'auth.sso.login.success',
      outcome: 'success',
      userId,
      sessionId: issued.session.id,
      details: { factor, restricted },
      meta,
    });
    return issued;
  }

  async #fail(
    tenantId: TenantId | null,
    reason: string,
    userId: string | undefined,
    meta: RequestMeta,
    check?: string,
  ): Promise<never> {
    const write = async (tx: Tx): Promise<void> => {
      await auditAuth(tx, this.clock, {
        tenantId,
        action: 'auth.sso.login.failure',
        outcome: 'failure',
        userId,
        details: { reason: reason.slice(0, 100), ...(check === undefined ? {} : { check }) },
        meta,
      });
    };
    await (tenantId === null ? this.db.withoutTenant(write) : this.db.withTenant(tenantId, write));
    throw FAILED();
  }

  /** The IdP's discovered configuration (OpenID Connect Discovery 1.0), cached briefly. */
  async #client(tenantId: TenantId, p: SsoProvider): Promise<oidc.Configuration> {
    const key = `${tenantId}|${p.updatedAt.toISOString()}`;
    const now = this.clock.now().getTime();
    const hit = this.#discovered.get(key);
    if (hit !== undefined && now - hit.at < (this.options.discoveryTtlMs ?? 300_000)) {
      return hit.config;
    }
    const fetchPort = this.options.fetch;
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(
        new URL(p.issuer),
        p.clientId,
        { client_secret: p.clientSecret, redirect_uris: [p.redirectUri] },
        oidc.ClientSecretBasic(p.clientSecret),
        { timeout: 10, ...(fetchPort === undefined ? {} : { [oidc.customFetch]: fetchPort }) },
      );
    } catch (err) {
      throw new AppError('unavailable', 'the identity provider is not reachable', {
        detail: codeOf(err),
        cause: err,
      });
    }
    if (fetchPort !== undefined) config[oidc.customFetch] = fetchPort;
    // Verify the ID token's signature against the IdP's JWKS even though it arrives over TLS from
    // the token endpoint (Core §3.1.3.7 step 6 makes that optional; we do not).
    oidc.enableNonRepudiationChecks(config);
    for (const k of this.#discovered.keys())
      if (k.startsWith(`${tenantId}|`)) this.#discovered.delete(k);
    this.#discovered.set(key, { at: now, config });
    return config;
  }
}

/** The SSO services over the identity primitives (composeIdentity; tests pass a `fetch` port). */
export function composeSso(
  db: Database,
  keyring: Keyring,
  clock: Clock,
  random: Random,
  sessions: SessionService,
  mfa: MfaService,
  events: IdentityEvents,
  options: SsoOptions = {},
): {
  readonly sso: SsoService;
  readonly ssoConfig: SsoConfigService;
  readonly ssoDomains: SsoDomainService;
} {
  const ssoConfig = new SsoConfigService(db, keyring, clock, options.enableGuard);
  const sso = new SsoService(
    db,
    clock,
    random,
    ssoConfig,
    new SsoTransactions(keyring, clock),
    new SsoAccounts(db, clock, random),
    sessions,
    mfa,
    new LoginThrottle(clock),
    events,
    options,
  );
  return { sso, ssoConfig, ssoDomains: new SsoDomainService(db, clock) };
}
