import { Type } from '@sinclair/typebox';
import { AppError, type Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { shapeTo } from '../access/minimum-necessary.js';
import {
  recordPatientAccess,
  type AccessBasis,
  type AccessMeta,
  type PatientAccess,
} from '../access/patient-access.js';
import { PATIENT_READ, PATIENT_UPDATE } from '../monitoring/actions.js';
import type {
  AllergyInput,
  MedicationInput,
  PatientClinicalRepository,
} from './patient-clinical.repository.js';
import { requirePermission, type PatientActor } from './patient-actor.js';
import { readableView } from './patient.service.js';
import { AllergyView, MedicationView } from './patient.views.js';
import type { Static } from '@sinclair/typebox';

const Allergies = Type.Array(AllergyView);
const Medications = Type.Array(MedicationView);
const NCPDP_RE = /^[A-Za-z0-9]{1,35}$/;

/**
 * Allergies, medications and the preferred pharmacy of a patient as sub-resources. Reads follow
 * the minimum-necessary views (45 CFR 164.502(b)): allergies for the treating and dispensing
 * views, medications (clinical history) for the treating view only; other readers with a
 * relationship get `forbidden`. Changes need patient.write and a relationship. Everything is
 * audited in the transaction of the access (164.312(b)).
 */
export class PatientClinicalService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly access: PatientAccess,
    private readonly clinical: PatientClinicalRepository,
  ) {}

  async allergies(
    who: PatientActor,
    patientId: string,
    meta: AccessMeta,
  ): Promise<Static<typeof Allergies>> {
    const view = readableView(who);
    return this.#read(who, patientId, meta, 'allergies', async (tx) => {
      if (view === 'summary') throw new AppError('forbidden', 'not in your view of the patient');
      return shapeTo(Allergies, await this.clinical.allergies(tx, who.tenantId, patientId));
    });
  }

  async medications(
    who: PatientActor,
    patientId: string,
    meta: AccessMeta,
  ): Promise<Static<typeof Medications>> {
    const view = readableView(who);
    return this.#read(who, patientId, meta, 'medications', async (tx) => {
      if (view !== 'full') throw new AppError('forbidden', 'not in your view of the patient');
      return shapeTo(Medications, await this.clinical.medications(tx, who.tenantId, patientId));
    });
  }

  async addAllergy(
    who: PatientActor,
    patientId: string,
    input: AllergyInput,
    meta: AccessMeta,
  ): Promise<string> {
    return this.#write(who, patientId, meta, 'allergy', 'add', (tx) =>
      this.clinical.addAllergy(tx, who.tenantId, patientId, who.userId, input),
    );
  }

  async inactivateAllergy(
    who: PatientActor,
    patientId: string,
    allergyId: string,
    meta: AccessMeta,
  ): Promise<void> {
    await this.#write(who, patientId, meta, 'allergy', 'inactivate', async (tx) => {
      if (!(await this.clinical.inactivateAllergy(tx, patientId, allergyId))) {
        throw new AppError('not_found', 'no such active allergy');
      }
      return allergyId;
    });
  }

  async addMedication(
    who: PatientActor,
    patientId: string,
    input: MedicationInput,
    meta: AccessMeta,
  ): Promise<string> {
    return this.#write(who, patientId, meta, 'medication', 'add', (tx) =>
      this.clinical.addMedication(tx, who.tenantId, patientId, who.userId, input),
    );
  }

  async stopMedication(
    who: PatientActor,
    patientId: string,
    medicationId: string,
    stoppedOn: string,
    meta: AccessMeta,
  ): Promise<void> {
    await this.#write(who, patientId, meta, 'medication', 'stop', async (tx) => {
      const ok = await this.clinical.stopMedication(
        tx,
        who.tenantId,
        patientId,
        medicationId,
        stoppedOn,
      );
      if (!ok) throw new AppError('not_found', 'no such active medication');
      return medicationId;
    });
  }

  async setPreferredPharmacy(
    who: PatientActor,
    patientId: string,
    ncpdpId: string,
    meta: AccessMeta,
  ): Promise<void> {
    if (!NCPDP_RE.test(ncpdpId)) {
      throw new AppError('validation_failed', 'NCPDP ID must be letters and digits', {
        detail: 'ncpdpId',
      });
    }
    await this.#write(who, patientId, meta, 'pharmacy', 'set', async (tx) => {
      await this.clinical.setPreferredPharmacy(tx, who.tenantId, patientId, who.userId, ncpdpId);
      return undefined;
    });
  }

  async #read<T>(
    who: PatientActor,
    patientId: string,
    meta: AccessMeta,
    part: string,
    load: (tx: Tx) => Promise<T>,
  ): Promise<T> {
    return this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.read');
      const out = await load(tx);
      await this.#audit(tx, who, PATIENT_READ, patientId, basis, meta, { part });
      return out;
    });
  }

  async #write<T extends string | undefined>(
    who: PatientActor,
    patientId: string,
    meta: AccessMeta,
    part: string,
    op: string,
    change: (tx: Tx) => Promise<T>,
  ): Promise<T> {
    requirePermission(who, 'patient.write');
    return this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.write');
      const itemId = await change(tx);
      await this.#audit(tx, who, PATIENT_UPDATE, patientId, basis, meta, {
        part,
        op,
        ...(itemId === undefined ? {} : { itemId }),
      });
      return itemId;
    });
  }

  async #audit(
    tx: Tx,
    who: PatientActor,
    action: string,
    patientId: string,
    basis: AccessBasis,
    meta: AccessMeta,
    details: Readonly<Record<string, string>>,
  ): Promise<void> {
    await recordPatientAccess(
      tx,
      this.clock,
      who,
      action,
      new Map([[patientId, basis]]),
      meta,
      details,
    );
  }
}
