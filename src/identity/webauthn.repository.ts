/**
 * SQL for WebAuthn credentials and ceremony challenges (migration 0008). Every statement runs in
 * the transaction it is given, whose tenant context row-level security applies: credentials in
 * the user's home tenant, sign-in challenges outside any tenant, the others in the session's.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Tx } from '../db/index.js';

export type ChallengePurpose = 'register' | 'login' | 'stepup';

/** The ceremony a challenge must belong to when it is consumed. */
export interface ChallengeBinding {
  readonly purpose: ChallengePurpose;
  readonly sessionId?: string;
  readonly userId?: string;
  readonly action?: string;
}

export interface CredentialRow {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly credentialId: Buffer;
  readonly publicKey: Buffer;
  readonly signCount: number;
  readonly transports: string[];
  readonly aaguid: string;
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

export interface NewCredential {
  readonly tenantId: string;
  readonly userId: string;
  readonly credentialId: Buffer;
  readonly publicKey: Buffer;
  readonly signCount: number;
  readonly transports: readonly string[];
  readonly aaguid: string;
  readonly format: string;
  readonly backupEligible: boolean;
  readonly backedUp: boolean;
  readonly name: string;
  readonly createdAt: Date;
}

const COLUMNS = `id, tenant_id, user_id, credential_id, public_key, sign_count, transports, aaguid,
  backup_eligible, backed_up, name, created_at, last_used_at, revoked_at`;

interface Row {
  id: string;
  tenant_id: string;
  user_id: string;
  credential_id: Buffer;
  public_key: Buffer;
  sign_count: string;
  transports: string[];
  aaguid: string;
  backup_eligible: boolean;
  backed_up: boolean;
  name: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function toCredential(r: Row): CredentialRow {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    userId: r.user_id,
    credentialId: r.credential_id,
    publicKey: r.public_key,
    signCount: Number(r.sign_count),
    transports: r.transports,
    aaguid: r.aaguid,
    backupEligible: r.backup_eligible,
    backedUp: r.backed_up,
    name: r.name,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}

/** SHA-256 of a challenge's base64url text: what the database keeps. */
export function challengeHash(challenge: string): Buffer {
  return createHash('sha256').update(challenge, 'utf8').digest();
}

export const webauthnRepository = {
  async insertChallenge(
    tx: Tx,
    c: ChallengeBinding & { tenantId: string | null; challenge: string; now: Date; ttlMs: number },
  ): Promise<void> {
    // Expired challenges are useless; clearing the visible ones keeps the table small.
    await tx.query('DELETE FROM webauthn_challenges WHERE expires_at < $1', [c.now]);
    await tx.query(
      `INSERT INTO webauthn_challenges
         (id, tenant_id, purpose, challenge_hash, user_id, session_id, action, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        randomUUID(),
        c.tenantId,
        c.purpose,
        challengeHash(c.challenge),
        c.userId ?? null,
        c.sessionId ?? null,
        c.action ?? null,
        c.now,
        new Date(c.now.getTime() + c.ttlMs),
      ],
    );
  },

  /**
   * Consumes the unexpired, unused challenge with this text for exactly this ceremony, in one
   * compare-and-set: true at most once per challenge, whatever happens to the ceremony after.
   */
  async consumeChallenge(
    tx: Tx,
    challenge: string,
    b: ChallengeBinding,
    now: Date,
  ): Promise<boolean> {
    const { rowCount } = await tx.query(
      `UPDATE webauthn_challenges SET consumed_at = $2
        WHERE challenge_hash = $1 AND consumed_at IS NULL AND expires_at > $2 AND purpose = $3
          AND session_id IS NOT DISTINCT FROM $4 AND user_id IS NOT DISTINCT FROM $5
          AND action IS NOT DISTINCT FROM $6`,
      [
        challengeHash(challenge),
        now,
        b.purpose,
        b.sessionId ?? null,
        b.userId ?? null,
        b.action ?? null,
      ],
    );
    return rowCount === 1;
  },

  async insertCredential(tx: Tx, c: NewCredential): Promise<string> {
    const id = randomUUID();
    await tx.query(
      `INSERT INTO webauthn_credentials
         (id, tenant_id, user_id, credential_id, public_key, sign_count, transports, aaguid,
          attestation_format, backup_eligible, backed_up, name, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        id,
        c.tenantId,
        c.userId,
        c.credentialId,
        c.publicKey,
        c.signCount,
        c.transports,
        c.aaguid,
        c.format,
        c.backupEligible,
        c.backedUp,
        c.name,
        c.createdAt,
      ],
    );
    return id;
  },

  /** The home tenant of an unrevoked credential (a pre-tenant lookup). */
  async tenantOf(tx: Tx, credentialId: Buffer): Promise<string | undefined> {
    const { rows } = await tx.query<{ t: string | null }>(
      'SELECT scrip_webauthn_credential_tenant($1) AS t',
      [credentialId],
    );
    return rows[0]?.t ?? undefined;
  },

  async byCredentialId(tx: Tx, credentialId: Buffer): Promise<CredentialRow | undefined> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM webauthn_credentials WHERE credential_id = $1 AND revoked_at IS NULL`,
      [credentialId],
    );
    return rows[0] === undefined ? undefined : toCredential(rows[0]);
  },

  async byId(tx: Tx, userId: string, id: string): Promise<CredentialRow | undefined> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM webauthn_credentials WHERE id = $1 AND user_id = $2`,
      [id, userId],
    );
    return rows[0] === undefined ? undefined : toCredential(rows[0]);
  },

  async listForUser(tx: Tx, userId: string, includeRevoked: boolean): Promise<CredentialRow[]> {
    const { rows } = await tx.query<Row>(
      `SELECT ${COLUMNS} FROM webauthn_credentials
        WHERE user_id = $1 AND ($2 OR revoked_at IS NULL) ORDER BY created_at, id LIMIT 100`,
      [userId, includeRevoked],
    );
    return rows.map(toCredential);
  },

  /** Records a use: compare-and-set on the counter, so two concurrent assertions cannot both win. */
  async recordUse(
    tx: Tx,
    c: CredentialRow,
    signCount: number,
    backedUp: boolean,
    now: Date,
  ): Promise<boolean> {
    const { rowCount } = await tx.query(
      `UPDATE webauthn_credentials SET sign_count = $3, backed_up = $4, last_used_at = $5
        WHERE id = $1 AND sign_count = $2 AND revoked_at IS NULL`,
      [c.id, c.signCount, signCount, backedUp, now],
    );
    return rowCount === 1;
  },

  async rename(tx: Tx, userId: string, id: string, name: string): Promise<boolean> {
    const { rowCount } = await tx.query(
      'UPDATE webauthn_credentials SET name = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL',
      [id, userId, name],
    );
    return rowCount === 1;
  },

  async revoke(
    tx: Tx,
    userId: string,
    id: string,
    by: string,
    reason: 'user' | 'admin',
    now: Date,
  ): Promise<boolean> {
    const { rowCount } = await tx.query(
      `UPDATE webauthn_credentials SET revoked_at = $3, revoked_by = $4, revoke_reason = $5
        WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL`,
      [id, userId, now, by, reason],
    );
    return rowCount === 1;
  },
};
