/**
 * Server-side state of one OpenID Connect authorization request (OpenID Connect Core 1.0
 * §3.1.2.1, RFC 7636 PKCE): found by the SHA-256 of `state`, bound to the starting browser by the
 * SHA-256 of a cookie, consumed once, expiring within 10 minutes. The PKCE verifier is sealed with
 * the tenant's data key. A sign-in that still needs the local second factor keeps a pending token
 * (SHA-256 only) on the same row, usable once within 5 minutes.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';

export const SSO_TRANSACTIONS: EncryptedTable = {
  table: 'sso_transactions',
  columns: ['code_verifier'],
};

export const TRANSACTION_TTL_MS = 10 * 60_000;
export const PENDING_TTL_MS = 5 * 60_000;

export interface NewTransaction {
  readonly stateHash: Buffer;
  readonly browserHash: Buffer;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly link?: { readonly userId: string; readonly sessionId: string } | undefined;
}

export interface ConsumedTransaction {
  readonly id: string;
  readonly browserHash: Buffer;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly link: { readonly userId: string; readonly sessionId: string } | undefined;
}

interface TxRow {
  id: string;
  browser_hash: Buffer;
  nonce: string;
  code_verifier: Buffer;
  link_user_id: string | null;
  link_session_id: string | null;
}

export class SsoTransactions {
  constructor(
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  async create(tx: Tx, tenantId: TenantId, t: NewTransaction): Promise<void> {
    const now = this.clock.now();
    // Expired rows of this tenant go first: they are useless and hold sealed verifiers.
    await tx.query(
      `DELETE FROM sso_transactions
        WHERE tenant_id = $1 AND expires_at < $2
          AND (pending_expires_at IS NULL OR pending_expires_at < $2)`,
      [tenantId, now],
    );
    const id = randomUUID();
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, SSO_TRANSACTIONS, id, {
      code_verifier: t.codeVerifier,
    });
    await tx.query(
      `INSERT INTO sso_transactions (id, tenant_id, state_hash, browser_hash, nonce, dek_version,
                                     code_verifier, link_user_id, link_session_id, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        id,
        tenantId,
        t.stateHash,
        t.browserHash,
        t.nonce,
        version,
        sealed.code_verifier,
        t.link?.userId ?? null,
        t.link?.sessionId ?? null,
        now,
        new Date(now.getTime() + TRANSACTION_TTL_MS),
      ],
    );
  }

  /** Marks the transaction used (compare-and-set) and returns it; undefined if used or expired. */
  async consume(
    tx: Tx,
    tenantId: TenantId,
    stateHash: Buffer,
  ): Promise<ConsumedTransaction | undefined> {
    const { rows } = await tx.query<TxRow>(
      `UPDATE sso_transactions SET consumed_at = $3
        WHERE tenant_id = $1 AND state_hash = $2 AND consumed_at IS NULL AND expires_at > $3
        RETURNING id, browser_hash, nonce, code_verifier, link_user_id, link_session_id`,
      [tenantId, stateHash, this.clock.now()],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    const plain = await openRow(tx, this.keyring, tenantId, SSO_TRANSACTIONS, r.id, {
      code_verifier: r.code_verifier,
    });
    if (plain === SHREDDED || plain.code_verifier == null) return undefined;
    return {
      id: r.id,
      browserHash: r.browser_hash,
      nonce: r.nonce,
      codeVerifier: plain.code_verifier,
      link:
        r.link_user_id === null || r.link_session_id === null
          ? undefined
          : { userId: r.link_user_id, sessionId: r.link_session_id },
    };
  }

  /** Records that `userId` signed in at the IdP and still owes the local second factor. */
  async setPending(tx: Tx, id: string, userId: string, pendingHash: Buffer): Promise<void> {
    await tx.query(
      `UPDATE sso_transactions SET pending_hash = $2, pending_user_id = $3, pending_expires_at = $4
        WHERE id = $1`,
      [id, pendingHash, userId, new Date(this.clock.now().getTime() + PENDING_TTL_MS)],
    );
  }

  /** The user a live pending token stands for (row locked until the transaction ends). */
  async pendingUser(tx: Tx, tenantId: TenantId, pendingHash: Buffer): Promise<string | undefined> {
    const { rows } = await tx.query<{ pending_user_id: string }>(
      `SELECT pending_user_id FROM sso_transactions
        WHERE tenant_id = $1 AND pending_hash = $2 AND pending_done_at IS NULL
          AND pending_expires_at > $3
        FOR UPDATE`,
      [tenantId, pendingHash, this.clock.now()],
    );
    return rows[0]?.pending_user_id;
  }

  /** Uses the pending token (once); false when another request used it first. */
  async finishPending(tx: Tx, tenantId: TenantId, pendingHash: Buffer): Promise<boolean> {
    const { rowCount } = await tx.query(
      `UPDATE sso_transactions SET pending_done_at = $3
        WHERE tenant_id = $1 AND pending_hash = $2 AND pending_done_at IS NULL
          AND pending_expires_at > $3`,
      [tenantId, pendingHash, this.clock.now()],
    );
    return rowCount === 1;
  }
}
