import { isIP } from 'node:net';
import { isUuid, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { appendAudit, AUDIT_LIMITS, type AuditDetailValue } from '../audit/index.js';

/** Where a request came from, for audit records (never a credential). */
export interface RequestMeta {
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
  readonly requestId?: string | undefined;
}

export type AuthAction =
  | 'auth.login.success'
  | 'auth.login.failure'
  | 'auth.lockout'
  | 'auth.logout'
  | 'auth.logout_all'
  | 'auth.mfa.enrol'
  | 'auth.mfa.reenrol'
  | 'auth.stepup'
  | 'auth.recovery_code.used'
  | 'auth.recovery_codes.regenerate'
  | 'auth.token.issue'
  | 'auth.bootstrap'
  | 'auth.invitation.create'
  | 'auth.invitation.accept'
  | 'auth.sessions.end'
  | 'auth.session.revoked'
  | ProofingAction
  | UserAdminAction
  | SsoAction
  | WebAuthnAction;

/** Tenant user administration: a member's roles changed (old and new roles in the details). */
export type UserAdminAction = 'user.roles.change';

/** WebAuthn passkeys: registration, rename, revocation, and a refused counter regression. */
export type WebAuthnAction =
  | 'auth.webauthn.register'
  | 'auth.webauthn.rename'
  | 'auth.webauthn.revoke'
  | 'auth.webauthn.counter_regression';

/** Single sign-on with a tenant's OpenID Connect identity provider. */
export type SsoAction =
  'auth.sso.login.success' | 'auth.sso.login.failure' | 'auth.sso.link' | 'auth.sso.config.change';

/**
 * Identity proofing and EPCS logical access control (21 CFR 1311.105, 1311.125). Monitoring
 * builds alert rules over these exact names.
 */
export type ProofingAction =
  | 'identity.proofing.complete'
  | 'identity.proofing.credential_bound'
  | 'identity.proofing.expired'
  | 'identity.proofing.expiring'
  | 'epcs.permission.requested'
  | 'epcs.permission.granted'
  | 'epcs.permission.revoked';

export interface AuthAuditEvent {
  readonly tenantId: TenantId | null;
  readonly action: AuthAction;
  readonly outcome: 'success' | 'failure' | 'denied';
  /** The user acting (or attempted); absent for unknown accounts. */
  readonly userId?: string | undefined;
  readonly sessionId?: string | undefined;
  /** `cli` for commands run by an operator. */
  readonly actorKind?: 'user' | 'cli';
  readonly subjects?: readonly { type: string; id: string }[];
  readonly details?: Readonly<Record<string, AuditDetailValue>>;
  readonly meta?: RequestMeta;
}

/**
 * The user's roles in `tenantId` as the record's `actor.role` (sorted, comma-separated), so a
 * sign-in names the roles it opened a session with; undefined for a non-member (or a transaction
 * outside that tenant's context, which row-level security hides the membership from).
 */
async function memberRole(tx: Tx, tenantId: TenantId, userId: string): Promise<string | undefined> {
  if (!isUuid(userId)) return undefined;
  const { rows } = await tx.query<{ roles: string[] }>(
    'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2',
    [tenantId, userId],
  );
  const roles = rows[0]?.roles;
  if (roles === undefined || roles.length === 0) return undefined;
  const role = [...roles].sort().join(',');
  return role.length <= AUDIT_LIMITS.identifier ? role : undefined;
}

/** Every authentication event is an audit record in the transaction of its change (§164.312(b)). */
export async function auditAuth(tx: Tx, clock: Clock, e: AuthAuditEvent): Promise<void> {
  const ip = e.meta?.ip !== undefined && isIP(e.meta.ip) !== 0 ? e.meta.ip : undefined;
  const ua = e.meta?.userAgent?.slice(0, AUDIT_LIMITS.userAgent).replace(/[^\x20-\x7e]/g, '');
  const role =
    e.actorKind === 'cli' || e.userId === undefined || e.tenantId === null
      ? undefined
      : await memberRole(tx, e.tenantId, e.userId);
  const actor =
    e.actorKind === 'cli'
      ? { kind: 'cli' as const }
      : e.userId === undefined
        ? { kind: 'system' as const }
        : {
            kind: 'user' as const,
            userId: e.userId,
            ...(role === undefined ? {} : { role }),
            ...(e.sessionId === undefined ? {} : { sessionId: e.sessionId }),
          };
  await appendAudit(
    tx,
    {
      tenantId: e.tenantId,
      actor,
      action: e.action,
      outcome: e.outcome,
      ...(e.subjects === undefined ? {} : { subjects: e.subjects }),
      source: {
        ...(ip === undefined ? {} : { ip }),
        ...(ua === undefined || ua === '' ? {} : { userAgent: ua }),
      },
      ...(e.meta?.requestId === undefined ? {} : { requestId: e.meta.requestId }),
      ...(e.details === undefined ? {} : { details: e.details }),
    },
    clock,
  );
}

/** Alert hook for the monitoring issue: a recovery code was used (it is audited either way). */
export interface IdentityEvents {
  onRecoveryCodeUsed(event: {
    readonly tenantId: TenantId;
    readonly userId: string;
    readonly remaining: number;
  }): Promise<void>;
}

export const noIdentityEvents: IdentityEvents = { onRecoveryCodeUsed: async () => undefined };

/** What a throttle reported after a failure (see throttle.ts). */
export interface ThrottleOutcome {
  readonly failures: number;
  readonly lockedUntil?: Date | undefined;
}

/** Each throttle that has just locked (account, source, user) is an `auth.lockout` record. */
export async function auditLockouts(
  tx: Tx,
  clock: Clock,
  userId: string | undefined,
  meta: RequestMeta,
  results: readonly (readonly [string, ThrottleOutcome | undefined])[],
): Promise<void> {
  for (const [scope, r] of results) {
    if (r?.lockedUntil === undefined) continue;
    await auditAuth(tx, clock, {
      tenantId: null,
      action: 'auth.lockout',
      outcome: 'denied',
      userId,
      details: { scope, failures: r.failures, until: r.lockedUntil.toISOString() },
      meta,
    });
  }
}
