import type { Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { SigningKeyService } from '../crypto/signing-keys.js';
import type { PatientAccess } from '../access/patient-access.js';
import type { PatientRepository } from './patient.repository.js';
import { PrescriptionRepository } from './prescription.repository.js';
import { PrescriptionService } from './prescription.service.js';
import { PrescriptionSigning } from './prescription-signing.js';
import { EpcsReviewService } from './epcs-review.js';
import { PrescriberLogService } from './prescriber-log.js';
import type { DrugLookup, SafetyChecker } from './prescription.types.js';
import type { PrescriptionLimits } from './prescription.validation.js';
import type { EnqueueOptions } from './prescription.outbox.js';

/** The prescription services, wired once by the composition root (and by tests). */
export interface Prescriptions {
  readonly repo: PrescriptionRepository;
  readonly service: PrescriptionService;
  readonly signing: PrescriptionSigning;
  readonly review: EpcsReviewService;
  readonly logs: PrescriberLogService;
}

export interface PrescriptionsDeps {
  readonly db: Database;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly signingKeys: SigningKeyService;
  readonly patients: PatientRepository;
  readonly access: PatientAccess;
  /** The drug catalog (drug catalog module). */
  readonly drugs: DrugLookup;
  /** The safety checks (drug catalog module's runSafetyChecks). */
  readonly safety: SafetyChecker;
  readonly limits?: PrescriptionLimits;
  readonly outbox?: EnqueueOptions;
}

export function composePrescriptions(d: PrescriptionsDeps): Prescriptions {
  const repo = new PrescriptionRepository(d.keyring, d.clock);
  const service = new PrescriptionService({ ...d, repo });
  const signing = new PrescriptionSigning({
    db: d.db,
    clock: d.clock,
    keyring: d.keyring,
    patients: d.patients,
    repo,
    access: d.access,
    service,
    signingKeys: d.signingKeys,
    ...(d.outbox === undefined ? {} : { outbox: d.outbox }),
  });
  return {
    repo,
    service,
    signing,
    review: new EpcsReviewService(d.db, d.clock, d.access, d.patients, repo),
    logs: new PrescriberLogService(d.db, d.clock, d.keyring, d.patients, repo),
  };
}
