/**
 * The EPCS signing review (21 CFR 1311.140(a)(1)-(4)): one patient's controlled-substance
 * prescriptions awaiting the prescriber's signature, each with every element of
 * 1311.120(b)(9), and the 1311.140(a)(3) statement, word for word. The prescriber marks each
 * ready (PrescriptionService.markReady) and then completes the two-factor authentication while
 * this review is displayed (PrescriptionSigning.signControlled).
 */
import { createHash } from 'node:crypto';
import { AppError, type Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import { recordPatientAccess, type PatientAccess } from '../access/patient-access.js';
import type { Patient, PatientRepository } from './patient.repository.js';
import type { PrescriptionRepository } from './prescription.repository.js';
import { prescriberIdentity, type PrescriberIdentity } from './canonical-prescription.js';
import { RX_ACTIONS } from './prescription.state.js';
import type {
  Actor,
  PracticeAddress,
  PrescriptionContent,
  RequestMeta,
} from './prescription.types.js';

/** 21 CFR 1311.140(a)(3), displayed exactly. */
export const EPCS_ATTESTATION =
  'By completing the two-factor authentication protocol at this time, you are legally signing the prescription(s) and authorizing the transmission of the above information to the pharmacy for dispensing. The two-factor authentication protocol may only be completed by the practitioner whose name and DEA registration number appear above.';

/** One prescription as the review lists it: the 1311.120(b)(9) elements. */
export interface ReviewItem {
  readonly id: string;
  readonly status: 'draft' | 'ready';
  /** The date of issue: today, the day it will be signed. */
  readonly dateOfIssue: string;
  readonly patientName: string;
  readonly patientAddress: string;
  readonly drugName: string;
  readonly strength: string;
  readonly dosageForm: string;
  readonly quantity: string;
  readonly directions: string;
  readonly refills: number;
  readonly earliestFillDate: string | null;
  readonly prescriberName: string;
  readonly prescriberAddress: string;
  readonly deaNumber: string | null;
  readonly schedule: string;
}

export interface EpcsReview {
  readonly patientId: string;
  readonly items: readonly ReviewItem[];
  readonly attestation: string;
  /** The prescriber's proofed DEA numbers; with several, one must be chosen when marking ready. */
  readonly deaNumbers: readonly string[];
}

export function formatAddress(a: PracticeAddress): string {
  return [a.name, a.line, `${a.city}, ${a.state} ${a.postalCode}`]
    .filter((s) => s !== undefined && s !== '')
    .join(', ');
}

/** The 1311.120(b)(9) elements of one prescription as the prescriber sees them. */
export type ReviewedElements = Omit<ReviewItem, 'id' | 'status' | 'dateOfIssue' | 'schedule'>;

export function reviewedElements(
  patient: Patient,
  prescriber: PrescriberIdentity,
  c: PrescriptionContent,
): ReviewedElements {
  return {
    patientName: `${patient.givenName} ${patient.familyName}`,
    patientAddress: patient.address ?? '',
    drugName: c.drug.name,
    strength: c.drug.strength,
    dosageForm: c.drug.doseForm,
    quantity: `${String(c.quantity.value)} ${c.quantity.unit}`,
    directions: c.sig,
    refills: c.refills,
    earliestFillDate: c.earliestFillDate ?? null,
    prescriberName: prescriber.name,
    prescriberAddress: formatAddress(c.practice),
    deaNumber: c.deaNumber ?? null,
  };
}

/**
 * The digest stored when the prescriber marks a prescription ready and compared at signing: what
 * is signed must be what was reviewed (21 CFR 1311.140(a)(2)-(3)), including the patient's and
 * the prescriber's name and address, which live outside the prescription. Sealed at rest.
 */
export function reviewDigest(
  patient: Patient,
  prescriber: PrescriberIdentity,
  c: PrescriptionContent,
): string {
  const e = reviewedElements(patient, prescriber, c);
  const ordered = Object.keys(e)
    .sort()
    .map((k) => [k, e[k as keyof ReviewedElements]]);
  return createHash('sha256').update(JSON.stringify(ordered)).digest('base64url');
}

export class EpcsReviewService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly access: PatientAccess,
    private readonly patients: PatientRepository,
    private readonly repo: PrescriptionRepository,
  ) {}

  /** The review of one patient's controlled prescriptions of this prescriber; audited as a read. */
  async review(actor: Actor, patientId: string, meta: RequestMeta): Promise<EpcsReview> {
    return this.db.withTenant(actor.tenantId, async (tx) => {
      await this.access.require(tx, actor, patientId, 'rx.sign.controlled');
      const patient = await this.patients.get(tx, actor.tenantId, patientId);
      if (patient.shredded) throw new AppError('shredded', 'the patient record was destroyed');
      const prescriber = await prescriberIdentity(tx, actor.tenantId, actor.userId);
      const list = await this.repo.list(tx, actor.tenantId, {
        patientId,
        prescriberId: actor.userId,
        statuses: ['draft', 'ready'],
        controlledOnly: true,
      });
      const today = this.clock.now().toISOString().slice(0, 10);
      const items: ReviewItem[] = list.map((p) => ({
        id: p.id,
        status: p.status === 'ready' ? 'ready' : 'draft',
        dateOfIssue: today,
        ...reviewedElements(patient, prescriber, p.content),
        schedule: p.deaSchedule ?? '',
      }));
      const bases = await this.access.bases(tx, actor, [patientId], 'rx.sign.controlled');
      await recordPatientAccess(tx, this.clock, actor, RX_ACTIONS.read, bases, meta, {
        view: 'epcs_review',
        count: items.length,
      });
      return { patientId, items, attestation: EPCS_ATTESTATION, deaNumbers: prescriber.deaNumbers };
    });
  }
}
