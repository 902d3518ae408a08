/**
 * Second factors of a user, kept in the user's home tenant: the TOTP secret sealed with that
 * tenant's data key (AES-256-GCM, AAD bound to tenant, table, column and row), and the recovery
 * codes as HMACs under that tenant's blind-index key (the server-side pepper). Every method runs
 * in a transaction of the home tenant.
 */
import { randomUUID } from 'node:crypto';
import qrcode from 'qrcode';
import type { Clock, Random, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import { decodeBase32Strict, encodeBase32 } from './base32.js';
import { generateRecoveryCodes, hashRecoveryCode, matchRecoveryCode } from './recovery-codes.js';
import { acceptTotp, generateTotpSecret, otpauthUri } from './totp.js';
import { auditAuth, type IdentityEvents, type RequestMeta } from './auth-audit.js';

export const MFA_TOTP: EncryptedTable = { table: 'mfa_totp', columns: ['secret'] };

export interface TotpEnrolment {
  /** Base32 secret, for manual entry. Returned once, by the enrolment call only. */
  readonly secret: string;
  readonly otpauthUri: string;
  /** The URI as an SVG QR code. */
  readonly qrSvg: string;
}

interface TotpRow {
  id: string;
  secret: Buffer;
  confirmed_at: Date | null;
  last_step: string | null;
}

export class MfaService {
  constructor(
    private readonly keyring: Keyring,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly issuer: string,
  ) {}

  async hasConfirmedTotp(tx: Tx, userId: string): Promise<boolean> {
    const { rows } = await tx.query(
      'SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL',
      [userId],
    );
    return rows.length > 0;
  }

  /** True when the user has any second factor: a confirmed TOTP or an unrevoked passkey. */
  async hasSecondFactor(tx: Tx, userId: string): Promise<boolean> {
    const { rows } = await tx.query<{ any: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL)
           OR EXISTS (SELECT 1 FROM webauthn_credentials WHERE user_id = $1 AND revoked_at IS NULL)
           AS any`,
      [userId],
    );
    return rows[0]?.any === true;
  }

  /** Starts (or restarts) enrolment with a new secret; refused once a TOTP is confirmed. */
  async beginTotp(
    tx: Tx,
    home: TenantId,
    userId: string,
    account: string,
  ): Promise<TotpEnrolment | undefined> {
    if (await this.hasConfirmedTotp(tx, userId)) return undefined;
    return this.#newPending(tx, home, userId, account);
  }

  /** Confirms a pending enrolment with a first code; true when it is now confirmed. */
  async confirmTotp(tx: Tx, home: TenantId, userId: string, code: string): Promise<boolean> {
    if (await this.hasConfirmedTotp(tx, userId)) return false;
    const row = await this.#row(tx, userId, 'pending');
    if (row === undefined) return false;
    if (!(await this.#accept(tx, home, row, code))) return false;
    await tx.query('UPDATE mfa_totp SET confirmed_at = $2 WHERE id = $1', [
      row.id,
      this.clock.now(),
    ]);
    return true;
  }

  /**
   * Starts re-enrolment: a new pending secret beside the confirmed one, which keeps working until
   * the new one is confirmed. Undefined when no TOTP is confirmed (that is a first enrolment).
   */
  async beginReenrol(
    tx: Tx,
    home: TenantId,
    userId: string,
    account: string,
  ): Promise<TotpEnrolment | undefined> {
    if (!(await this.hasConfirmedTotp(tx, userId))) return undefined;
    return this.#newPending(tx, home, userId, account);
  }

  /**
   * Confirms a re-enrolment with a first code of the new secret, which then replaces the old one
   * (deleted in the same transaction, so its codes stop working at once). The new credential has
   * a new id: bindings to the old one no longer count (epcs-eligibility.ts).
   */
  async confirmReenrol(tx: Tx, home: TenantId, userId: string, code: string): Promise<boolean> {
    const old = await this.#row(tx, userId, 'confirmed');
    const row = await this.#row(tx, userId, 'pending');
    if (old === undefined || row === undefined) return false;
    if (!(await this.#accept(tx, home, row, code))) return false;
    await tx.query('DELETE FROM mfa_totp WHERE id = $1', [old.id]);
    await tx.query('UPDATE mfa_totp SET confirmed_at = $2 WHERE id = $1', [
      row.id,
      this.clock.now(),
    ]);
    return true;
  }

  async #newPending(
    tx: Tx,
    home: TenantId,
    userId: string,
    account: string,
  ): Promise<TotpEnrolment> {
    await tx.query('DELETE FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NULL', [userId]);
    const secret = generateTotpSecret(this.random);
    const secretText = encodeBase32(secret);
    const id = randomUUID();
    const { version, sealed } = await sealRow(tx, this.keyring, home, MFA_TOTP, id, {
      secret: secretText,
    });
    await tx.query(
      `INSERT INTO mfa_totp (id, tenant_id, user_id, dek_version, secret, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [id, home, userId, version, sealed.secret, this.clock.now()],
    );
    const uri = otpauthUri({ issuer: this.issuer, account: account.replace(/:/g, ''), secret });
    const qrSvg = await qrcode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' });
    return { secret: secretText, otpauthUri: uri, qrSvg };
  }

  /**
   * Verifies a code against the confirmed secret; each time step is accepted at most once.
   * Returns the id of the TOTP that accepted it (what a step-up records), or undefined.
   */
  async verifyTotp(
    tx: Tx,
    home: TenantId,
    userId: string,
    code: string,
  ): Promise<string | undefined> {
    const row = await this.#row(tx, userId, 'confirmed');
    if (row === undefined) return undefined;
    return (await this.#accept(tx, home, row, code)) ? row.id : undefined;
  }

  async #row(tx: Tx, userId: string, state: 'confirmed' | 'pending'): Promise<TotpRow | undefined> {
    const { rows } = await tx.query<TotpRow>(
      `SELECT id, secret, confirmed_at, last_step FROM mfa_totp
        WHERE user_id = $1 AND (confirmed_at IS NOT NULL) = $2`,
      [userId, state === 'confirmed'],
    );
    return rows[0];
  }

  async #accept(tx: Tx, home: TenantId, row: TotpRow, code: string): Promise<boolean> {
    const plain = await openRow(tx, this.keyring, home, MFA_TOTP, row.id, { secret: row.secret });
    if (plain === SHREDDED) return false;
    const secret = decodeBase32Strict(plain.secret ?? '');
    if (secret === undefined) return false;
    const last = row.last_step === null ? null : Number(row.last_step);
    const result = acceptTotp(secret, code, this.clock.now().getTime(), last);
    if (!result.ok) return false;
    // RFC 6238 §5.2 replay: compare-and-set, so two concurrent uses of one code cannot both win.
    const { rowCount } = await tx.query(
      `UPDATE mfa_totp SET last_step = $2
        WHERE id = $1 AND (last_step IS NULL OR last_step < $2)`,
      [row.id, result.step],
    );
    return rowCount === 1;
  }

  /** Replaces the user's recovery codes with ten new ones, returned once. */
  async regenerateRecoveryCodes(tx: Tx, home: TenantId, userId: string): Promise<string[]> {
    const pepper = await this.keyring.indexKey(tx, home);
    const codes = generateRecoveryCodes(this.random);
    await tx.query('DELETE FROM recovery_codes WHERE user_id = $1', [userId]);
    const now = this.clock.now();
    for (const code of codes) {
      await tx.query(
        `INSERT INTO recovery_codes (id, tenant_id, user_id, code_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [randomUUID(), home, userId, hashRecoveryCode(pepper, userId, code), now],
      );
    }
    return codes;
  }

  /** Uses one recovery code (single use, compare-and-set); returns how many remain, or undefined. */
  /**
   * Redeems a recovery code as a second factor: single use, audited as `auth.recovery_code.used`
   * in the user's home tenant (where the monitoring rule alerts the administrators).
   */
  async redeemRecoveryCode(
    tx: Tx,
    home: TenantId,
    userId: string,
    code: string,
    meta: RequestMeta,
    events: IdentityEvents,
  ): Promise<boolean> {
    const remaining = await this.useRecoveryCode(tx, home, userId, code);
    if (remaining === undefined) return false;
    await auditAuth(tx, this.clock, {
      tenantId: home,
      action: 'auth.recovery_code.used',
      outcome: 'success',
      userId,
      details: { remaining },
      meta,
    });
    await events.onRecoveryCodeUsed({ tenantId: home, userId, remaining });
    return true;
  }

  async useRecoveryCode(
    tx: Tx,
    home: TenantId,
    userId: string,
    input: string,
  ): Promise<number | undefined> {
    const pepper = await this.keyring.indexKey(tx, home);
    const { rows } = await tx.query<{ id: string; code_hash: string }>(
      'SELECT id, code_hash FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY id',
      [userId],
    );
    const index = matchRecoveryCode(
      pepper,
      userId,
      input,
      rows.map((r) => r.code_hash),
    );
    const match = index === null ? undefined : rows[index];
    if (match === undefined) return undefined;
    const { rowCount } = await tx.query(
      'UPDATE recovery_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL',
      [match.id, this.clock.now()],
    );
    return rowCount === 1 ? rows.length - 1 : undefined;
  }
}
