/**
 * Public API of the prescribing domain (so far: patients, their clinical data and care teams).
 */
import type { Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import type { PatientAccess } from '../access/patient-access.js';
import { CareTeamService } from './care-team.service.js';
import { PatientClinicalRepository } from './patient-clinical.repository.js';
import { PatientClinicalService } from './patient-clinical.service.js';
import { PatientRepository } from './patient.repository.js';
import { PatientService } from './patient.service.js';

export { CareTeamService } from './care-team.service.js';
export {
  ALLERGY_SEVERITIES,
  PATIENT_ALLERGIES,
  PATIENT_MEDICATIONS,
  PATIENT_PHARMACIES,
  PatientClinicalRepository,
  type Allergy,
  type AllergyInput,
  type AllergySeverity,
  type Medication,
  type MedicationInput,
  type SafetyProfile,
} from './patient-clinical.repository.js';
export { PatientClinicalService } from './patient-clinical.service.js';
export {
  PATIENTS,
  PatientRepository,
  type Patient,
  type PatientInput,
  type PatientQuery,
  type ShreddedPatient,
} from './patient.repository.js';
export {
  PATIENT_PAGE_MAX,
  PatientService,
  readableView,
  type CreatePatientResult,
  type PatientSearch,
} from './patient.service.js';
export type { PatientActor } from './patient-actor.js';
export * from './patient.views.js';

/** The patient services, composed once (src/platform.ts). */
export interface Patients {
  readonly service: PatientService;
  readonly careTeam: CareTeamService;
  readonly clinicalService: PatientClinicalService;
  /** Decrypted clinical data without access checks: `safetyProfile` for the prescription checks. */
  readonly clinical: PatientClinicalRepository;
}

export function composePatients(
  db: Database,
  keyring: Keyring,
  clock: Clock,
  access: PatientAccess,
  repository: PatientRepository = new PatientRepository(keyring, clock),
): Patients {
  const clinical = new PatientClinicalRepository(keyring, clock);
  return {
    service: new PatientService(db, clock, access, repository, clinical),
    careTeam: new CareTeamService(db, clock, access),
    clinicalService: new PatientClinicalService(db, clock, access, clinical),
    clinical,
  };
}
