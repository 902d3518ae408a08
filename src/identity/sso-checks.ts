/**
 * Small pure pieces of the SSO flow: the failure type and its one public answer, the MFA trust
 * rule over `amr`/`acr` (RFC 8176), and secret-free reasons from openid-client errors.
 */
import { AppError } from '../core/index.js';
import type { SsoProvider } from './sso-config.service.js';

/** The one answer for every failed SSO sign-in (no oracle on which check failed). */
export const FAILED = (): AppError => new AppError('unauthenticated', 'SSO sign-in failed');

/** A refused SSO step; `reason` goes to the audit record, never to the caller. */
export class SsoFailure extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** True when the ID token's `amr` or `acr` shows MFA the tenant trusts (RFC 8176 §2). */
export function idpProvedMfa(
  p: Pick<SsoProvider, 'trustIdpMfa' | 'trustedAmr' | 'trustedAcr'>,
  claims: Readonly<Record<string, unknown>>,
): boolean {
  if (!p.trustIdpMfa) return false;
  const raw = claims.amr;
  const amr = Array.isArray(raw) ? raw.filter((v): v is string => typeof v === 'string') : [];
  if (amr.some((v) => p.trustedAmr.includes(v))) return true;
  const acr = claims.acr;
  return typeof acr === 'string' && p.trustedAcr.includes(acr);
}

/**
 * Which check failed, from the library's own message (fixed text such as `unexpected ID Token
 * "nonce" claim value`; it never quotes token or claim values).
 */
export function checkOf(err: unknown): string | undefined {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (!(cause instanceof Error)) return undefined;
  return cause.message.replace(/[^\x20-\x7e]/g, '').slice(0, 100);
}

/** A short, secret-free reason from an openid-client / oauth4webapi error (its `code`). */
export function codeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; error?: unknown };
    if (typeof e.error === 'string') return `idp_${e.error}`.slice(0, 100);
    if (typeof e.code === 'string') return e.code.slice(0, 100);
  }
  return 'oidc_error';
}
