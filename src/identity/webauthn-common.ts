/** Small pieces shared by the WebAuthn ceremonies and credential management. */
import { AppError, asTenantId, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Caller } from './account.service.js';
import type { CredentialRow } from './webauthn.repository.js';

/** What a user sees of one of their credentials (never the public key bytes). */
export interface PasskeySummary {
  readonly id: string;
  readonly name: string;
  /** The credential id as the authenticator knows it (base64url). */
  readonly credentialId: string;
  readonly aaguid: string;
  readonly transports: readonly string[];
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

export function summary(c: CredentialRow): PasskeySummary {
  return {
    id: c.id,
    name: c.name,
    credentialId: c.credentialId.toString('base64url'),
    aaguid: c.aaguid,
    transports: c.transports,
    backupEligible: c.backupEligible,
    backedUp: c.backedUp,
    createdAt: c.createdAt,
    lastUsedAt: c.lastUsedAt,
    revokedAt: c.revokedAt,
  };
}

/**
 * The WebAuthn user handle (§5.4.3): the user's UUID as 16 opaque bytes, no personal data.
 */
export function userHandle(userId: string): Buffer {
  return Buffer.from(userId.replace(/-/g, ''), 'hex');
}

/** The caller's email, display name and home tenant (as the session's tenant sees them). */
export async function userOf(
  db: Database,
  caller: Caller,
): Promise<{ home: TenantId; email: string; displayName: string }> {
  const row = await db.withTenant(caller.tenantId, async (tx) => {
    const { rows } = await tx.query<{ tenant_id: string; email: string; display_name: string }>(
      'SELECT tenant_id, email, display_name FROM users WHERE id = $1',
      [caller.userId],
    );
    return rows[0];
  });
  if (row === undefined) throw new AppError('unauthenticated', 'no such user');
  return { home: asTenantId(row.tenant_id), email: row.email, displayName: row.display_name };
}
