/**
 * A tenant's OpenID Connect identity provider: issuer, client, redirect URI, whether unknown
 * subjects may become members, and which `amr`/`acr` values prove MFA well enough to skip the
 * local second factor. The client secret is sealed with the tenant's data key and never leaves
 * this module except to authenticate at the IdP's token endpoint.
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import type { Caller } from './account.service.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import { isRole, type Role } from './roles.js';

export const SSO_PROVIDERS: EncryptedTable = { table: 'sso_providers', columns: ['client_secret'] };

/**
 * Asked, in the transaction of the change, before a configuration is saved enabled: it throws to
 * refuse (the compliance gate: an IdP registered as receiving PHI needs its vendor's BAA in force,
 * 45 CFR 164.308(b)(1)), and the whole change rolls back. The default allows.
 */
export type SsoEnableGuard = (
  tx: Tx,
  tenantId: TenantId,
  change: { readonly issuer: string; readonly userId: string; readonly sessionId: string },
) => Promise<void>;

export const allowSsoEnable: SsoEnableGuard = async () => undefined;

/** The API path the IdP may redirect back to (the tenant is found through `state`). */
export const SSO_CALLBACK_PATH = '/api/v1/auth/sso/callback';
/**
 * The web app's redirect URI: a page on the app's origin that drops `code` and `state` from the
 * address bar and hands the query to SSO_CALLBACK_PATH (docs/web.md). Browsers should use this one.
 */
export const SSO_WEB_CALLBACK_PATH = '/sso/callback';
const CALLBACK_PATHS: ReadonlySet<string> = new Set([SSO_CALLBACK_PATH, SSO_WEB_CALLBACK_PATH]);

/** Roles an auto-created account may get: never an administrator by default. */
const AUTO_CREATE_ROLES: ReadonlySet<Role> = new Set<Role>(['staff', 'prescriber']);
const CLAIM_VALUE_RE = /^[A-Za-z0-9_.:/-]{1,100}$/;

export interface SsoConfigInput {
  readonly issuer: string;
  readonly clientId: string;
  /** Required when the tenant has no configuration yet; kept unchanged when omitted. */
  readonly clientSecret?: string | undefined;
  readonly redirectUri: string;
  readonly allowAutoCreate: boolean;
  readonly defaultRole: string;
  readonly trustIdpMfa: boolean;
  /** RFC 8176 `amr` values that count as MFA (e.g. mfa, otp, hwk, swk). */
  readonly trustedAmr: readonly string[];
  readonly trustedAcr: readonly string[];
  readonly enabled: boolean;
}

/** What an administrator sees: everything but the secret. */
export interface SsoConfigView extends Omit<SsoConfigInput, 'clientSecret'> {
  readonly clientSecretSet: boolean;
  readonly updatedAt: Date;
}

/** The configuration with its secret, for the sign-in flow only. */
export interface SsoProvider extends SsoConfigView {
  readonly clientSecret: string;
}

interface ProviderRow {
  id: string;
  issuer: string;
  client_id: string;
  client_secret: Buffer;
  redirect_uri: string;
  allow_auto_create: boolean;
  default_role: string;
  trust_idp_mfa: boolean;
  trusted_amr: string[];
  trusted_acr: string[];
  enabled: boolean;
  updated_at: Date;
}

const invalid = (detail: string): AppError =>
  new AppError('validation_failed', 'SSO configuration refused', { detail });

function httpsUrl(value: string, key: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(`${key}: not a URL`);
  }
  // OpenID Connect Discovery 1.0 §4.3 and Core §3.1.2.1: the issuer and redirect URI use https;
  // a plain-http IdP would hand tokens and the client secret to anyone on the path.
  if (url.protocol !== 'https:') throw invalid(`${key}: must be an https:// URL`);
  if (url.username !== '' || url.password !== '')
    throw invalid(`${key}: must carry no credentials`);
  if (url.search !== '' || url.hash !== '') throw invalid(`${key}: must have no query or fragment`);
  return url;
}

/** Validates an administrator's input; names the first bad key. */
export function validateSsoConfig(input: SsoConfigInput, creating: boolean): SsoConfigInput {
  httpsUrl(input.issuer, 'issuer');
  const redirect = httpsUrl(input.redirectUri, 'redirectUri');
  if (!CALLBACK_PATHS.has(redirect.pathname)) {
    throw invalid(`redirectUri: the path must be ${SSO_WEB_CALLBACK_PATH} or ${SSO_CALLBACK_PATH}`);
  }
  if (input.clientId.length < 1 || input.clientId.length > 255) throw invalid('clientId');
  if (creating && (input.clientSecret === undefined || input.clientSecret === '')) {
    throw invalid('clientSecret: required');
  }
  if (!isRole(input.defaultRole) || !AUTO_CREATE_ROLES.has(input.defaultRole)) {
    throw invalid(`defaultRole: one of ${[...AUTO_CREATE_ROLES].join(', ')}`);
  }
  for (const [key, list] of [
    ['trustedAmr', input.trustedAmr],
    ['trustedAcr', input.trustedAcr],
  ] as const) {
    if (list.length > 16 || !list.every((v) => CLAIM_VALUE_RE.test(v))) throw invalid(key);
  }
  if (input.trustIdpMfa && input.trustedAmr.length + input.trustedAcr.length === 0) {
    throw invalid('trustedAmr: trusting the IdP for MFA needs at least one amr or acr value');
  }
  // The issuer compares exactly with the ID token's `iss` (Core §3.1.3.7): kept as given.
  return { ...input, redirectUri: redirect.href };
}

export class SsoConfigService {
  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly clock: Clock,
    private readonly enableGuard: SsoEnableGuard = allowSsoEnable,
  ) {}

  /** The tenant's configuration without its secret, or undefined. */
  async get(tenantId: TenantId): Promise<SsoConfigView | undefined> {
    return this.db.withTenant(tenantId, async (tx) => {
      const row = await this.#row(tx, tenantId);
      return row === undefined ? undefined : toView(row);
    });
  }

  /** The enabled configuration with its secret (sign-in flow), or undefined. */
  async load(tx: Tx, tenantId: TenantId): Promise<SsoProvider | undefined> {
    const row = await this.#row(tx, tenantId);
    if (row?.enabled !== true) return undefined;
    const plain = await openRow(tx, this.keyring, tenantId, SSO_PROVIDERS, row.id, {
      client_secret: row.client_secret,
    });
    if (plain === SHREDDED) return undefined;
    return { ...toView(row), clientSecret: plain.client_secret ?? '' };
  }

  /** Creates or replaces the caller's tenant configuration (route requires a step-up). */
  async put(caller: Caller, input: SsoConfigInput, meta: RequestMeta): Promise<SsoConfigView> {
    return this.db.withTenant(caller.tenantId, async (tx) => {
      const existing = await this.#row(tx, caller.tenantId);
      const v = validateSsoConfig(input, existing === undefined);
      if (v.enabled) {
        await this.enableGuard(tx, caller.tenantId, {
          issuer: v.issuer,
          userId: caller.userId,
          sessionId: caller.sessionId,
        });
      }
      const now = this.clock.now();
      const id = existing?.id ?? randomUUID();
      let secret: { version: number; sealed: Buffer } | undefined;
      if (v.clientSecret !== undefined && v.clientSecret !== '') {
        const s = await sealRow(tx, this.keyring, caller.tenantId, SSO_PROVIDERS, id, {
          client_secret: v.clientSecret,
        });
        secret = { version: s.version, sealed: s.sealed.client_secret ?? Buffer.alloc(0) };
      }
      const values = [
        v.issuer,
        v.clientId,
        v.redirectUri,
        v.allowAutoCreate,
        v.defaultRole,
        v.trustIdpMfa,
        [...v.trustedAmr],
        [...v.trustedAcr],
        v.enabled,
        now,
      ];
      if (existing === undefined) {
        await tx.query(
          `INSERT INTO sso_providers (issuer, client_id, redirect_uri, allow_auto_create, default_role,
                                      trust_idp_mfa, trusted_amr, trusted_acr, enabled, created_at,
                                      updated_at, id, tenant_id, dek_version, client_secret)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $13, $14)`,
          [...values, id, caller.tenantId, secret?.version, secret?.sealed],
        );
      } else {
        await tx.query(
          `UPDATE sso_providers SET issuer = $1, client_id = $2, redirect_uri = $3,
                  allow_auto_create = $4, default_role = $5, trust_idp_mfa = $6, trusted_amr = $7,
                  trusted_acr = $8, enabled = $9, updated_at = $10,
                  dek_version = coalesce($12, dek_version), client_secret = coalesce($13, client_secret)
            WHERE id = $11`,
          [...values, id, secret?.version ?? null, secret?.sealed ?? null],
        );
      }
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'auth.sso.config.change',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [{ type: 'sso_provider', id }],
        details: {
          issuer: v.issuer,
          clientId: v.clientId,
          secretChanged: secret !== undefined,
          allowAutoCreate: v.allowAutoCreate,
          defaultRole: v.defaultRole,
          trustIdpMfa: v.trustIdpMfa,
          trustedAmr: v.trustedAmr.join(','),
          trustedAcr: v.trustedAcr.join(','),
          enabled: v.enabled,
        },
        meta,
      });
      const row = await this.#row(tx, caller.tenantId);
      if (row === undefined) throw new AppError('internal', 'SSO configuration vanished');
      return toView(row);
    });
  }

  async #row(tx: Tx, tenantId: TenantId): Promise<ProviderRow | undefined> {
    const { rows } = await tx.query<ProviderRow>(
      `SELECT id, issuer, client_id, client_secret, redirect_uri, allow_auto_create, default_role,
              trust_idp_mfa, trusted_amr, trusted_acr, enabled, updated_at
         FROM sso_providers WHERE tenant_id = $1`,
      [tenantId],
    );
    return rows[0];
  }
}

function toView(r: ProviderRow): SsoConfigView {
  return {
    issuer: r.issuer,
    clientId: r.client_id,
    redirectUri: r.redirect_uri,
    allowAutoCreate: r.allow_auto_create,
    defaultRole: r.default_role,
    trustIdpMfa: r.trust_idp_mfa,
    trustedAmr: r.trusted_amr,
    trustedAcr: r.trusted_acr,
    enabled: r.enabled,
    clientSecretSet: r.client_secret.byteLength > 0,
    updatedAt: r.updated_at,
  };
}
