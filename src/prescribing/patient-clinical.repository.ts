import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import {
  openRow,
  sealRow,
  SHREDDED,
  type EncryptedTable,
  type Sealed,
} from '../crypto/row-cipher.js';

/**
 * A patient's clinical data for prescribing: allergies (coded by ingredient RxNorm RXCUI where
 * possible), medications, and the preferred pharmacy (NCPDP ID). Every value is PHI once tied to a
 * patient, so every column below is sealed with the tenant's data key (45 CFR 164.312(a)(2)(iv)).
 * This repository does no access check: callers reach it through PatientAccess first.
 */
export const PATIENT_ALLERGIES: EncryptedTable = {
  table: 'patient_allergies',
  columns: ['rxcui', 'substance', 'reaction', 'severity'],
};
export const PATIENT_MEDICATIONS: EncryptedTable = {
  table: 'patient_medications',
  columns: ['rxcui', 'ingredient_rxcuis', 'name', 'dosage', 'started_on', 'stopped_on'],
};
export const PATIENT_PHARMACIES: EncryptedTable = {
  table: 'patient_pharmacies',
  columns: ['ncpdp_id'],
};

export const ALLERGY_SEVERITIES = ['mild', 'moderate', 'severe'] as const;
export type AllergySeverity = (typeof ALLERGY_SEVERITIES)[number];

export interface AllergyInput {
  /** Ingredient RXCUI (RxNorm), when the substance is coded. */
  readonly rxcui?: string | undefined;
  /** The substance as written (always present, also for coded entries). */
  readonly substance: string;
  readonly reaction?: string | undefined;
  readonly severity?: AllergySeverity | undefined;
}

export interface Allergy extends AllergyInput {
  readonly id: string;
  readonly status: 'active' | 'inactive';
  readonly recordedAt: string;
}

export interface MedicationInput {
  /** Drug RXCUI (RxNorm SCD/SBD), when coded. */
  readonly rxcui?: string | undefined;
  /** Ingredient RXCUIs: what duplicate-therapy and interaction checks compare. */
  readonly ingredientRxcuis: readonly string[];
  readonly name: string;
  readonly dosage?: string | undefined;
  /** ISO 8601 dates. */
  readonly startedOn?: string | undefined;
  readonly stoppedOn?: string | undefined;
}

export interface Medication extends MedicationInput {
  readonly id: string;
  readonly status: 'active' | 'stopped';
  readonly recordedAt: string;
}

/** What the prescription safety checks need (issue 7 item 4): ingredients only. */
export interface SafetyProfile {
  readonly allergies: readonly { readonly rxcui: string | null; readonly substance: string }[];
  readonly activeMedications: readonly {
    readonly id: string;
    readonly name: string;
    readonly rxcui: string | null;
    readonly ingredientRxcuis: readonly string[];
  }[];
  /** The union of the active medications' ingredient RXCUIs, sorted. */
  readonly activeIngredientRxcuis: readonly string[];
}

const RXCUI_RE = /^[0-9]{1,10}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function invalid(field: string, message: string): AppError {
  return new AppError('validation_failed', message, { detail: field });
}

function checkRxcui(value: string | undefined, field: string): void {
  if (value !== undefined && !RXCUI_RE.test(value))
    throw invalid(field, `${field} is not an RXCUI`);
}

function checkDate(value: string | undefined, field: string): void {
  if (value === undefined) return;
  const d = new Date(`${value}T00:00:00Z`);
  if (!DATE_RE.test(value) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) {
    throw invalid(field, `${field} must be a date YYYY-MM-DD`);
  }
}

type Row = Record<string, Buffer | null> & { id: string };

function pick(row: Row, spec: EncryptedTable): Sealed {
  return Object.fromEntries(spec.columns.map((c) => [c, row[c] ?? null]));
}

export class PatientClinicalRepository {
  constructor(
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  async addAllergy(
    tx: Tx,
    tenantId: TenantId,
    patientId: string,
    userId: string,
    input: AllergyInput,
  ): Promise<string> {
    checkRxcui(input.rxcui, 'rxcui');
    const id = randomUUID();
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, PATIENT_ALLERGIES, id, {
      rxcui: input.rxcui ?? null,
      substance: input.substance,
      reaction: input.reaction ?? null,
      severity: input.severity ?? null,
    });
    await tx.query(
      `INSERT INTO patient_allergies (id, tenant_id, patient_id, dek_version, rxcui, substance, reaction, severity,
                                      status, recorded_by, recorded_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $10)`,
      [
        id,
        tenantId,
        patientId,
        version,
        sealed.rxcui,
        sealed.substance,
        sealed.reaction,
        sealed.severity,
        userId,
        this.clock.now(),
      ],
    );
    return id;
  }

  /** Marks an allergy inactive (entered in error or resolved); false when it is not this patient's. */
  async inactivateAllergy(tx: Tx, patientId: string, allergyId: string): Promise<boolean> {
    const r = await tx.query(
      `UPDATE patient_allergies SET status = 'inactive', updated_at = $3
        WHERE id = $1 AND patient_id = $2 AND status = 'active'`,
      [allergyId, patientId, this.clock.now()],
    );
    return r.rowCount === 1;
  }

  async allergies(tx: Tx, tenantId: TenantId, patientId: string): Promise<Allergy[]> {
    const { rows } = await tx.query<Row & { status: Allergy['status']; recorded_at: Date }>(
      `SELECT id, rxcui, substance, reaction, severity, status, recorded_at FROM patient_allergies
        WHERE patient_id = $1 ORDER BY recorded_at, id`,
      [patientId],
    );
    const out: Allergy[] = [];
    for (const r of rows) {
      const plain = await openRow(
        tx,
        this.keyring,
        tenantId,
        PATIENT_ALLERGIES,
        r.id,
        pick(r, PATIENT_ALLERGIES),
      );
      if (plain === SHREDDED) continue;
      out.push({
        id: r.id,
        status: r.status,
        recordedAt: r.recorded_at.toISOString(),
        substance: plain.substance ?? '',
        rxcui: plain.rxcui ?? undefined,
        reaction: plain.reaction ?? undefined,
        severity: (plain.severity ?? undefined) as AllergySeverity | undefined,
      });
    }
    return out;
  }

  async addMedication(
    tx: Tx,
    tenantId: TenantId,
    patientId: string,
    userId: string,
    input: MedicationInput,
  ): Promise<string> {
    checkRxcui(input.rxcui, 'rxcui');
    input.ingredientRxcuis.forEach((c) => {
      checkRxcui(c, 'ingredientRxcuis');
    });
    checkDate(input.startedOn, 'startedOn');
    checkDate(input.stoppedOn, 'stoppedOn');
    const id = randomUUID();
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, PATIENT_MEDICATIONS, id, {
      rxcui: input.rxcui ?? null,
      ingredient_rxcuis: JSON.stringify([...new Set(input.ingredientRxcuis)]),
      name: input.name,
      dosage: input.dosage ?? null,
      started_on: input.startedOn ?? null,
      stopped_on: input.stoppedOn ?? null,
    });
    const status = input.stoppedOn === undefined ? 'active' : 'stopped';
    await tx.query(
      `INSERT INTO patient_medications (id, tenant_id, patient_id, dek_version, rxcui, ingredient_rxcuis, name, dosage,
                                        started_on, stopped_on, status, recorded_by, recorded_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)`,
      [
        id,
        tenantId,
        patientId,
        version,
        sealed.rxcui,
        sealed.ingredient_rxcuis,
        sealed.name,
        sealed.dosage,
        sealed.started_on,
        sealed.stopped_on,
        status,
        userId,
        this.clock.now(),
      ],
    );
    return id;
  }

  /** Stops an active medication on `stoppedOn`; false when it is not an active one of this patient. */
  async stopMedication(
    tx: Tx,
    tenantId: TenantId,
    patientId: string,
    medicationId: string,
    stoppedOn: string,
  ): Promise<boolean> {
    checkDate(stoppedOn, 'stoppedOn');
    const { rows } = await tx.query<{ dek_version: number }>(
      `SELECT dek_version FROM patient_medications
        WHERE id = $1 AND patient_id = $2 AND status = 'active' FOR UPDATE`,
      [medicationId, patientId],
    );
    if (rows[0] === undefined) return false;
    // One column re-sealed under the row's own key version, so the row stays on one version.
    const key = await this.keyring.fieldKey(tx, tenantId, rows[0].dek_version);
    if (key === undefined) throw new AppError('shredded', 'the data key was destroyed');
    const { sealed } = await sealRow(
      tx,
      this.keyring,
      tenantId,
      { table: PATIENT_MEDICATIONS.table, columns: ['stopped_on'] },
      medicationId,
      { stopped_on: stoppedOn },
      key,
    );
    await tx.query(
      `UPDATE patient_medications SET status = 'stopped', stopped_on = $2, updated_at = $3 WHERE id = $1`,
      [medicationId, sealed.stopped_on, this.clock.now()],
    );
    return true;
  }

  async medications(tx: Tx, tenantId: TenantId, patientId: string): Promise<Medication[]> {
    const { rows } = await tx.query<Row & { status: Medication['status']; recorded_at: Date }>(
      `SELECT id, rxcui, ingredient_rxcuis, name, dosage, started_on, stopped_on, status, recorded_at
         FROM patient_medications WHERE patient_id = $1 ORDER BY recorded_at, id`,
      [patientId],
    );
    const out: Medication[] = [];
    for (const r of rows) {
      const plain = await openRow(
        tx,
        this.keyring,
        tenantId,
        PATIENT_MEDICATIONS,
        r.id,
        pick(r, PATIENT_MEDICATIONS),
      );
      if (plain === SHREDDED) continue;
      out.push({
        id: r.id,
        status: r.status,
        recordedAt: r.recorded_at.toISOString(),
        rxcui: plain.rxcui ?? undefined,
        ingredientRxcuis: JSON.parse(plain.ingredient_rxcuis ?? '[]') as string[],
        name: plain.name ?? '',
        dosage: plain.dosage ?? undefined,
        startedOn: plain.started_on ?? undefined,
        stoppedOn: plain.stopped_on ?? undefined,
      });
    }
    return out;
  }

  async setPreferredPharmacy(
    tx: Tx,
    tenantId: TenantId,
    patientId: string,
    userId: string,
    ncpdpId: string,
  ): Promise<void> {
    const existing = await tx.query<{ id: string }>(
      'SELECT id FROM patient_pharmacies WHERE patient_id = $1 FOR UPDATE',
      [patientId],
    );
    const id = existing.rows[0]?.id ?? randomUUID();
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, PATIENT_PHARMACIES, id, {
      ncpdp_id: ncpdpId,
    });
    await tx.query(
      `INSERT INTO patient_pharmacies (id, tenant_id, patient_id, dek_version, ncpdp_id, updated_by, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, patient_id)
       DO UPDATE SET dek_version = EXCLUDED.dek_version, ncpdp_id = EXCLUDED.ncpdp_id,
                     updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`,
      [id, tenantId, patientId, version, sealed.ncpdp_id, userId, this.clock.now()],
    );
  }

  async preferredPharmacy(
    tx: Tx,
    tenantId: TenantId,
    patientId: string,
  ): Promise<string | undefined> {
    const { rows } = await tx.query<Row>(
      'SELECT id, ncpdp_id FROM patient_pharmacies WHERE patient_id = $1',
      [patientId],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    const plain = await openRow(
      tx,
      this.keyring,
      tenantId,
      PATIENT_PHARMACIES,
      r.id,
      pick(r, PATIENT_PHARMACIES),
    );
    return plain === SHREDDED ? undefined : (plain.ncpdp_id ?? undefined);
  }

  /**
   * The allergies (ingredient RXCUIs and names) and the ingredient RXCUIs of the active
   * medications of one patient, decrypted for the pre-signing safety checks (drug-allergy and
   * duplicate therapy, issue 7 item 4). No access check and no audit here: the prescription
   * service calls it inside the transaction where it already passed PatientAccess and wrote
   * the access record.
   */
  async safetyProfile(tx: Tx, tenantId: TenantId, patientId: string): Promise<SafetyProfile> {
    const allergies = (await this.allergies(tx, tenantId, patientId)).filter(
      (a) => a.status === 'active',
    );
    const meds = (await this.medications(tx, tenantId, patientId)).filter(
      (m) => m.status === 'active',
    );
    return {
      allergies: allergies.map((a) => ({ rxcui: a.rxcui ?? null, substance: a.substance })),
      activeMedications: meds.map((m) => ({
        id: m.id,
        name: m.name,
        rxcui: m.rxcui ?? null,
        ingredientRxcuis: m.ingredientRxcuis,
      })),
      activeIngredientRxcuis: [...new Set(meds.flatMap((m) => m.ingredientRxcuis))].sort(),
    };
  }
}
