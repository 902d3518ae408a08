/**
 * The prescription vocabulary and the ports the prescribing domain uses: the drug catalog
 * ({@link DrugLookup}) and the safety checks ({@link SafetyChecker}, which reads the patient's
 * allergies and medications itself from the transaction it is given). Other modules implement
 * the ports; tests use fakes.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';

/** DEA schedules of controlled substances (21 CFR 1308.12-.15). */
export type DeaScheduleCode = 'CII' | 'CIII' | 'CIV' | 'CV';

/** The registration schedule code (proofed DEA registrations) that covers a drug schedule. */
export function registrationSchedule(s: DeaScheduleCode): '2' | '3' | '4' | '5' {
  switch (s) {
    case 'CII':
      return '2';
    case 'CIII':
      return '3';
    case 'CIV':
      return '4';
    case 'CV':
      return '5';
  }
}

/** A drug as the catalog describes it when the prescription is drafted (kept as a snapshot). */
export interface DrugSnapshot {
  readonly rxcui: string;
  readonly name: string;
  readonly strength: string;
  readonly doseForm: string;
  readonly route: string;
  readonly ingredients: readonly { readonly rxcui: string; readonly name: string }[];
  readonly deaSchedule: DeaScheduleCode | null;
  /** Dose-range limits where the catalog has them (passed to the safety checks). */
  readonly limits?: Readonly<Record<string, number>>;
}

/** The drug catalog port (implemented by the drug catalog module). */
export interface DrugLookup {
  /** The drug in force for the tenant, or undefined when the code is unknown. */
  get(tx: Tx, tenantId: TenantId, rxcui: string): Promise<DrugSnapshot | undefined>;
}

export type FindingSeverity = 'info' | 'warning' | 'high';

/** One safety finding (drug-allergy, duplicate therapy, interaction, dose range...). */
export interface SafetyFinding {
  readonly kind: string;
  readonly severity: FindingSeverity;
  /** Shown to the prescriber; carries no more PHI than the prescription itself. */
  readonly message: string;
}

/** What the safety checks look at. */
export interface SafetyInput {
  readonly tx: Tx;
  readonly tenantId: TenantId;
  readonly patientId: string;
  readonly prescriptionId: string;
  readonly drug: DrugSnapshot;
  readonly quantity: Quantity;
  readonly daysSupply: number;
  readonly sig: string;
}

/**
 * The safety-check port (the drug catalog module's `runSafetyChecks`). Findings are shown to the
 * prescriber before signing; every finding above `info` must be overridden with a reason, which
 * is recorded on the prescription and audited.
 */
export interface SafetyChecker {
  check(input: SafetyInput): Promise<readonly SafetyFinding[]>;
}

/** No checks configured: no findings. The composition root replaces it with the real one. */
export const noSafetyChecks: SafetyChecker = { check: () => Promise.resolve([]) };

export interface Quantity {
  readonly value: number;
  /** Unit of the quantity (e.g. `tablet`, `mL`; NCPDP/NCI potency unit names). */
  readonly unit: string;
}

/** The prescriber's practice location printed on the prescription (21 CFR 1306.05(a)). */
export interface PracticeAddress {
  readonly name?: string | undefined;
  readonly line: string;
  readonly city: string;
  readonly state: string;
  readonly postalCode: string;
  readonly phone?: string | undefined;
}

/** The editable clinical body of a prescription (sealed at rest). */
export interface PrescriptionContent {
  readonly drug: DrugSnapshot;
  readonly quantity: Quantity;
  readonly daysSupply: number;
  readonly sig: string;
  readonly refills: number;
  readonly substitutionAllowed: boolean;
  readonly diagnosis?: { readonly code: string; readonly display?: string | undefined } | undefined;
  /** ISO date (YYYY-MM-DD), 21 CFR 1306.12(b)(1)(ii). */
  readonly earliestFillDate?: string | undefined;
  readonly notesToPharmacist?: string | undefined;
  /** NCPDP provider id of the pharmacy (7 digits). */
  readonly pharmacyNcpdpId: string;
  readonly practice: PracticeAddress;
  /** The prescriber's DEA number used for this prescription (controlled substances). */
  readonly deaNumber?: string | undefined;
}

/** A finding as recorded on the prescription, with its stable key and any override. */
export interface RecordedFinding extends SafetyFinding {
  readonly key: string;
  readonly overrideReason?: string | undefined;
}

export type PrescriptionStatus =
  | 'draft'
  | 'ready'
  | 'signed'
  | 'queued'
  | 'transmitted'
  | 'acknowledged'
  | 'error'
  | 'dispensed'
  | 'cancelled';

export type PrescriptionKind = 'new' | 'renewal' | 'change';

/** A prescription as the domain returns it (decrypted). */
export interface Prescription {
  readonly id: string;
  readonly patientId: string;
  readonly prescriberId: string;
  readonly draftedBy: string;
  readonly kind: PrescriptionKind;
  readonly previousId: string | null;
  readonly status: PrescriptionStatus;
  readonly version: number;
  readonly deaSchedule: DeaScheduleCode | null;
  readonly content: PrescriptionContent;
  readonly findings: readonly RecordedFinding[];
  readonly jws: string | null;
  readonly keyId: string | null;
  readonly readyAt: Date | null;
  /** Digest of the 21 CFR 1311.120(b)(9) elements reviewed at "ready" (epcs-review.ts). */
  readonly reviewDigest: string | null;
  readonly signedAt: Date | null;
  readonly errorCode: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Who acts, with the request facts every audit record carries. */
export interface Actor {
  readonly tenantId: TenantId;
  readonly userId: string;
  readonly sessionId: string;
  readonly permissions: ReadonlySet<string>;
  readonly roles: readonly string[];
}

export interface RequestMeta {
  readonly requestId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}
