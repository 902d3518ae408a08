/**
 * The canonical prescription: the one JSON document the application signs (RFC 8785 canonical
 * bytes, ES256 JWS per RFC 7515), archives, sends to the pharmacy and lets anyone verify. It
 * carries every element 21 CFR 1306.05(a) requires (patient full name and address, drug name,
 * strength, dosage form, quantity, directions, prescriber name, address and DEA number) and the
 * date of issue (the signing time).
 */
import type { TenantId } from '../core/index.js';
import { AppError } from '../core/index.js';
import type { Tx } from '../db/index.js';
import { canonicalize } from '../crypto/jcs.js';
import { signCompactJws, verifyCompactJws, type Jwks, type JwsSigner } from '../crypto/jws.js';
import { activeProofing } from '../identity/proofing.service.js';
import type { Patient } from './patient.repository.js';
import type { Prescription, PracticeAddress } from './prescription.types.js';

export const RX_FORMAT = 'scrip-rx/1';
/** Explicit JWS type (RFC 7515 §4.1.9, RFC 8725 §3.11): a token of another kind never passes. */
export const RX_JWS_TYP = 'scrip-rx+jws';

/** The prescriber as printed on the prescription. */
export interface PrescriberIdentity {
  readonly id: string;
  readonly name: string;
  readonly npi: string | null;
  /** DEA numbers on the prescriber's active proofing (21 CFR 1311.105). */
  readonly deaNumbers: readonly string[];
}

/** Name, NPI and proofed DEA numbers of a prescriber of the transaction's tenant. */
export async function prescriberIdentity(
  tx: Tx,
  tenantId: TenantId,
  userId: string,
): Promise<PrescriberIdentity> {
  const { rows } = await tx.query<{ display_name: string }>(
    `SELECT u.display_name FROM users u JOIN memberships m ON m.user_id = u.id
      WHERE u.id = $1 AND m.tenant_id = $2`,
    [userId, tenantId],
  );
  const row = rows[0];
  if (row === undefined) throw new AppError('not_found', 'no such prescriber');
  const proofing = await activeProofing(tx, tenantId, userId);
  return {
    id: userId,
    name: row.display_name,
    npi: proofing?.npi ?? null,
    deaNumbers: proofing?.dea.map((d) => d.deaNumber) ?? [],
  };
}

export interface CanonicalPrescription {
  readonly format: typeof RX_FORMAT;
  readonly id: string;
  readonly tenantId: string;
  readonly kind: Prescription['kind'];
  readonly previousId: string | null;
  /** Date of issue: the signing time (ISO 8601, UTC). */
  readonly issuedAt: string;
  readonly patient: {
    readonly id: string;
    readonly givenName: string;
    readonly familyName: string;
    readonly birthDate: string;
    readonly address: string | null;
  };
  readonly prescriber: {
    readonly id: string;
    readonly name: string;
    readonly npi: string | null;
    readonly deaNumber: string | null;
    readonly address: PracticeAddress;
  };
  readonly medication: {
    readonly rxcui: string;
    readonly name: string;
    readonly strength: string;
    readonly doseForm: string;
    readonly route: string;
    readonly deaSchedule: string | null;
  };
  readonly quantity: { readonly value: number; readonly unit: string };
  readonly daysSupply: number;
  readonly sig: string;
  readonly refills: number;
  readonly substitutionAllowed: boolean;
  readonly diagnosis: { readonly code: string; readonly display: string | null } | null;
  readonly earliestFillDate: string | null;
  readonly notesToPharmacist: string | null;
  readonly pharmacy: { readonly ncpdpId: string };
  /** How the prescriber signed: a fresh second factor, or the EPCS two-factor protocol. */
  readonly signature: { readonly method: 'step-up' | 'epcs-two-factor' };
}

/** Builds the canonical document; absent optional elements are `null`, never missing. */
export function canonicalPrescription(
  tenantId: TenantId,
  p: Prescription,
  patient: Patient,
  prescriber: PrescriberIdentity,
  issuedAt: Date,
): CanonicalPrescription {
  const c = p.content;
  const practice: PracticeAddress = {
    line: c.practice.line,
    city: c.practice.city,
    state: c.practice.state,
    postalCode: c.practice.postalCode,
    ...(c.practice.name === undefined ? {} : { name: c.practice.name }),
    ...(c.practice.phone === undefined ? {} : { phone: c.practice.phone }),
  };
  return {
    format: RX_FORMAT,
    id: p.id,
    tenantId,
    kind: p.kind,
    previousId: p.previousId,
    issuedAt: issuedAt.toISOString(),
    patient: {
      id: patient.id,
      givenName: patient.givenName,
      familyName: patient.familyName,
      birthDate: patient.birthDate,
      address: patient.address ?? null,
    },
    prescriber: {
      id: prescriber.id,
      name: prescriber.name,
      npi: prescriber.npi,
      deaNumber: c.deaNumber ?? null,
      address: practice,
    },
    medication: {
      rxcui: c.drug.rxcui,
      name: c.drug.name,
      strength: c.drug.strength,
      doseForm: c.drug.doseForm,
      route: c.drug.route,
      deaSchedule: c.drug.deaSchedule,
    },
    quantity: { value: c.quantity.value, unit: c.quantity.unit },
    daysSupply: c.daysSupply,
    sig: c.sig,
    refills: c.refills,
    substitutionAllowed: c.substitutionAllowed,
    diagnosis:
      c.diagnosis === undefined
        ? null
        : { code: c.diagnosis.code, display: c.diagnosis.display ?? null },
    earliestFillDate: c.earliestFillDate ?? null,
    notesToPharmacist: c.notesToPharmacist ?? null,
    pharmacy: { ncpdpId: c.pharmacyNcpdpId },
    signature: { method: c.drug.deaSchedule === null ? 'step-up' : 'epcs-two-factor' },
  };
}

/** Signs the RFC 8785 bytes of the document as a compact ES256 JWS (`typ: scrip-rx+jws`). */
export async function signPrescription(
  doc: CanonicalPrescription,
  kid: string,
  signer: JwsSigner,
): Promise<string> {
  return signCompactJws(canonicalize(doc), {
    kid,
    signer,
    typ: RX_JWS_TYP,
  });
}

/**
 * Verifies a prescription JWS against a JWKS (RFC 7517) and returns the document. The payload
 * must be exactly its own canonical form, so two byte strings never verify as the same document.
 */
export function verifyPrescriptionJws(jws: string, jwks: Jwks): CanonicalPrescription {
  const { header, payload } = verifyCompactJws(jws.trim(), jwks, { typ: RX_JWS_TYP });
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new AppError('integrity_error', 'JWS verification failed', { detail: 'malformed' });
  }
  if (
    typeof doc !== 'object' ||
    doc === null ||
    (doc as { format?: unknown }).format !== RX_FORMAT ||
    canonicalize(doc) !== payload.toString('utf8') ||
    typeof header.kid !== 'string'
  ) {
    throw new AppError('integrity_error', 'JWS verification failed', { detail: 'not_canonical' });
  }
  return doc as CanonicalPrescription;
}
