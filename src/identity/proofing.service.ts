/**
 * Prescriber identity proofing (21 CFR 1311.105; NIST SP 800-63A IAL2): a proofer reviews
 * identity evidence, and the prescriber's NPI, DEA registrations and state licences are checked
 * against the authoritative source; the record keeps what was reviewed, by whom, when, and at
 * which assurance level. Two-factor credentials used for EPCS signing are then bound to the
 * proofing, and only credentials enrolled at or after the proofing qualify (1311.110(b),
 * 1311.115: the credential is issued to the proofed person after proofing).
 */
import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Caller } from './account.service.js';
import { auditAuth, type RequestMeta } from './auth-audit.js';
import type { AuthoritativeSource } from './authoritative-source.js';
import { validateDea } from './dea.js';
import { validateNpi } from './npi.js';
import type { DeaSchedule } from './registry-file.js';

export const EVIDENCE_TYPES = [
  'drivers_licence',
  'passport',
  'state_id',
  'military_id',
  'permanent_resident_card',
  'professional_licence',
  'other',
] as const;
export type EvidenceType = (typeof EVIDENCE_TYPES)[number];

export interface Evidence {
  readonly type: EvidenceType;
  /** The document's reference (e.g. its number or the case file id); never an image. */
  readonly reference: string;
}

export interface ProofingInput {
  readonly userId: string;
  readonly npi: string;
  /** DEA numbers to verify; schedules, state and expiry are taken from the registry. */
  readonly deaNumbers: readonly string[];
  readonly licences: readonly { readonly state: string; readonly number: string }[];
  readonly evidence: readonly Evidence[];
  readonly ial: 'IAL2';
}

export interface ProofedDea {
  readonly id: string;
  readonly deaNumber: string;
  readonly schedules: readonly DeaSchedule[];
  readonly state: string;
  readonly expiresOn: string;
}

export interface ProofedLicence {
  readonly id: string;
  readonly state: string;
  readonly number: string;
  readonly expiresOn: string;
}

export interface Proofing {
  readonly id: string;
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly npi: string;
  readonly ial: 'IAL2';
  readonly evidence: readonly Evidence[];
  readonly proofedBy: string;
  readonly proofedAt: Date;
  readonly status: 'active' | 'superseded' | 'revoked';
  readonly dea: readonly ProofedDea[];
  readonly licences: readonly ProofedLicence[];
  readonly boundCredentials: readonly { type: string; id: string; boundAt: Date }[];
}

/** The UTC calendar date of an instant, `YYYY-MM-DD` (registry expiry dates are dates). */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** Upper-case A–Z letters of a name after NFKD folding, for comparing registry names. */
function fold(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toUpperCase()
    .replace(/[^A-Z]/g, '');
}

const refuse = (detail: string): AppError =>
  new AppError('validation_failed', 'the proofing could not be verified', { detail });

export class ProofingService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly source: AuthoritativeSource,
  ) {}

  /**
   * Records a proofing after verifying every identifier against the authoritative source; it
   * supersedes the user's active proofing in this tenant (whose credential bindings then no
   * longer count). The proofer cannot proof themselves.
   */
  async record(proofer: Caller, input: ProofingInput, meta: RequestMeta): Promise<Proofing> {
    if (proofer.userId === input.userId) {
      throw new AppError('forbidden', 'nobody proofs their own identity', { detail: 'self' });
    }
    if (input.evidence.length === 0) throw refuse('evidence');
    if (input.licences.length === 0) throw refuse('licence:missing');
    const today = utcDate(this.clock.now());
    const displayName = await this.db.withTenant(proofer.tenantId, async (tx) => {
      const { rows } = await tx.query<{ display_name: string }>(
        `SELECT u.display_name FROM users u JOIN memberships m
            ON m.user_id = u.id AND m.tenant_id = $2 WHERE u.id = $1`,
        [input.userId, proofer.tenantId],
      );
      return rows[0]?.display_name;
    });
    if (displayName === undefined) throw new AppError('not_found', 'no such user');

    if (validateNpi(input.npi).length > 0) throw refuse('npi:format');
    const npi = await this.source.lookupNpi(input.npi);
    if (!npi.found) throw refuse('npi:not_found');
    if (npi.record.status !== 'active') throw refuse('npi:inactive');
    const lastName = npi.record.lastName;
    if (!fold(displayName).includes(fold(lastName))) throw refuse('npi:name_mismatch');

    const dea: Omit<ProofedDea, 'id'>[] = [];
    for (const raw of input.deaNumbers) {
      const number = raw.toUpperCase();
      if (validateDea(number, { lastName }).length > 0) throw refuse(`dea:${number}:format`);
      const r = await this.source.lookupDea(number);
      if (!r.found) throw refuse(`dea:${number}:not_found`);
      if (r.record.status !== 'active') throw refuse(`dea:${number}:inactive`);
      if (r.record.npi !== undefined && r.record.npi !== input.npi) {
        throw refuse(`dea:${number}:npi_mismatch`);
      }
      if (fold(r.record.registrantLastName) !== fold(lastName)) {
        throw refuse(`dea:${number}:name_mismatch`);
      }
      if (r.record.expiresOn < today) throw refuse(`dea:${number}:expired`);
      dea.push({
        deaNumber: number,
        schedules: r.record.schedules,
        state: r.record.state,
        expiresOn: r.record.expiresOn,
      });
    }
    const licences: Omit<ProofedLicence, 'id'>[] = [];
    for (const l of input.licences) {
      const r = await this.source.lookupLicence(l.state, l.number);
      const label = `licence:${l.state.toUpperCase()}`;
      if (!r.found) throw refuse(`${label}:not_found`);
      if (r.record.status !== 'active') throw refuse(`${label}:inactive`);
      if (r.record.npi !== undefined && r.record.npi !== input.npi) {
        throw refuse(`${label}:npi_mismatch`);
      }
      if (fold(r.record.lastName) !== fold(lastName)) throw refuse(`${label}:name_mismatch`);
      if (r.record.expiresOn < today) throw refuse(`${label}:expired`);
      licences.push({
        state: r.record.state,
        number: r.record.number,
        expiresOn: r.record.expiresOn,
      });
    }

    const id = randomUUID();
    const now = this.clock.now();
    await this.db.withTenant(proofer.tenantId, async (tx) => {
      await tx.query(
        `UPDATE identity_proofings SET status = 'superseded'
          WHERE user_id = $1 AND status = 'active'`,
        [input.userId],
      );
      await tx.query(
        `INSERT INTO identity_proofings (id, tenant_id, user_id, npi, ial, evidence, proofed_by, proofed_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')`,
        [
          id,
          proofer.tenantId,
          input.userId,
          input.npi,
          input.ial,
          JSON.stringify(input.evidence.map((e) => ({ type: e.type, reference: e.reference }))),
          proofer.userId,
          now,
        ],
      );
      for (const d of dea) {
        await tx.query(
          `INSERT INTO proofing_dea_registrations (id, tenant_id, proofing_id, dea_number, schedules, state, expires_on)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [randomUUID(), proofer.tenantId, id, d.deaNumber, d.schedules, d.state, d.expiresOn],
        );
      }
      for (const l of licences) {
        await tx.query(
          `INSERT INTO proofing_licences (id, tenant_id, proofing_id, state, licence_number, expires_on)
           VALUES ($1, $2, $3, $4, $5, $6)`,
          [randomUUID(), proofer.tenantId, id, l.state, l.number, l.expiresOn],
        );
      }
      await auditAuth(tx, this.clock, {
        tenantId: proofer.tenantId,
        action: 'identity.proofing.complete',
        outcome: 'success',
        userId: proofer.userId,
        sessionId: proofer.sessionId,
        subjects: [
          { type: 'user', id: input.userId },
          { type: 'proofing', id },
        ],
        details: {
          ial: input.ial,
          dea: dea.length,
          licences: licences.length,
          evidence: input.evidence.length,
          source: npi.source,
        },
        meta,
      });
    });
    const proofing = await this.get(proofer.tenantId, input.userId);
    if (proofing === undefined) throw new AppError('internal', 'proofing vanished');
    return proofing;
  }

  /** The user's active proofing in this tenant, if any. */
  async get(tenantId: TenantId, userId: string): Promise<Proofing | undefined> {
    return this.db.withTenant(tenantId, (tx) => activeProofing(tx, tenantId, userId));
  }

  /**
   * Binds the caller's confirmed TOTP credential to their active proofing. Refused when the
   * credential was enrolled before the proofing: it was not issued to the proofed identity, so
   * the user must re-enrol (`POST /api/v1/auth/totp/reenrol`). The route requires a fresh step-up
   * with that credential.
   */
  async bindTotp(caller: Caller, meta: RequestMeta): Promise<Proofing> {
    return this.#bind(caller, 'totp', meta, async (tx) => {
      const { rows } = await tx.query<{ id: string; enrolled_at: Date }>(
        'SELECT id, confirmed_at AS enrolled_at FROM scrip_user_totp($1)',
        [caller.userId],
      );
      return rows[0];
    });
  }

  /**
   * Binds one of the caller's unrevoked passkeys (`credentialId`, its row id) to their active
   * proofing, under the same rule: registered at or after the proofing. The caller proves
   * possession of that very passkey first (WebAuthnService.provePossession).
   */
  async bindPasskey(caller: Caller, credentialId: string, meta: RequestMeta): Promise<Proofing> {
    return this.#bind(caller, 'webauthn', meta, async (tx) => {
      const { rows } = await tx.query<{ id: string; enrolled_at: Date }>(
        'SELECT id, created_at AS enrolled_at FROM scrip_user_webauthn($1) WHERE id = $2',
        [caller.userId, credentialId],
      );
      return rows[0];
    });
  }

  async #bind(
    caller: Caller,
    type: 'totp' | 'webauthn',
    meta: RequestMeta,
    credential: (tx: Tx) => Promise<{ id: string; enrolled_at: Date } | undefined>,
  ): Promise<Proofing> {
    await this.db.withTenant(caller.tenantId, async (tx) => {
      const p = await activeProofing(tx, caller.tenantId, caller.userId);
      if (p === undefined)
        throw new AppError('conflict', 'no active proofing', { detail: 'no_proofing' });
      const c = await credential(tx);
      if (c === undefined) {
        throw new AppError('conflict', 'no such credential', { detail: 'no_credential' });
      }
      if (c.enrolled_at.getTime() < p.proofedAt.getTime()) {
        throw new AppError('conflict', 'the credential predates the proofing; re-enrol it', {
          detail: 'credential_predates_proofing',
        });
      }
      await tx.query(
        `INSERT INTO proofing_credential_bindings
           (id, tenant_id, proofing_id, user_id, credential_type, credential_id, credential_enrolled_at, bound_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (proofing_id, credential_type, credential_id) DO NOTHING`,
        [
          randomUUID(),
          caller.tenantId,
          p.id,
          caller.userId,
          type,
          c.id,
          c.enrolled_at,
          this.clock.now(),
        ],
      );
      await auditAuth(tx, this.clock, {
        tenantId: caller.tenantId,
        action: 'identity.proofing.credential_bound',
        outcome: 'success',
        userId: caller.userId,
        sessionId: caller.sessionId,
        subjects: [
          { type: 'proofing', id: p.id },
          ...(type === 'webauthn' ? [{ type: 'webauthn_credential', id: c.id }] : []),
        ],
        details: { credential: type },
        meta,
      });
    });
    const proofing = await this.get(caller.tenantId, caller.userId);
    if (proofing === undefined) throw new AppError('internal', 'proofing vanished');
    return proofing;
  }
}

interface ProofingRow {
  id: string;
  user_id: string;
  npi: string;
  ial: 'IAL2';
  evidence: Evidence[];
  proofed_by: string;
  proofed_at: Date;
  status: Proofing['status'];
}

/** The active proofing of a user, read in `tx` (which runs in `tenantId`). */
export async function activeProofing(
  tx: Tx,
  tenantId: TenantId,
  userId: string,
): Promise<Proofing | undefined> {
  const { rows } = await tx.query<ProofingRow>(
    `SELECT id, user_id, npi, ial, evidence, proofed_by, proofed_at, status
       FROM identity_proofings WHERE user_id = $1 AND status = 'active'`,
    [userId],
  );
  const p = rows[0];
  if (p === undefined) return undefined;
  const dea = await tx.query<{
    id: string;
    dea_number: string;
    schedules: DeaSchedule[];
    state: string;
    expires_on: string;
  }>(
    `SELECT id, dea_number, schedules, state, expires_on::text AS expires_on
       FROM proofing_dea_registrations WHERE proofing_id = $1 ORDER BY dea_number`,
    [p.id],
  );
  const lic = await tx.query<{
    id: string;
    state: string;
    licence_number: string;
    expires_on: string;
  }>(
    `SELECT id, state, licence_number, expires_on::text AS expires_on
       FROM proofing_licences WHERE proofing_id = $1 ORDER BY state, licence_number`,
    [p.id],
  );
  const bound = await tx.query<{ credential_type: string; credential_id: string; bound_at: Date }>(
    `SELECT credential_type, credential_id, bound_at FROM proofing_credential_bindings
      WHERE proofing_id = $1 ORDER BY bound_at`,
    [p.id],
  );
  return {
    id: p.id,
    tenantId,
    userId: p.user_id,
    npi: p.npi,
    ial: p.ial,
    evidence: p.evidence,
    proofedBy: p.proofed_by,
    proofedAt: p.proofed_at,
    status: p.status,
    dea: dea.rows.map((d) => ({
      id: d.id,
      deaNumber: d.dea_number,
      schedules: d.schedules,
      state: d.state,
      expiresOn: d.expires_on,
    })),
    licences: lic.rows.map((l) => ({
      id: l.id,
      state: l.state,
      number: l.licence_number,
      expiresOn: l.expires_on,
    })),
    boundCredentials: bound.rows.map((b) => ({
      type: b.credential_type,
      id: b.credential_id,
      boundAt: b.bound_at,
    })),
  };
}
