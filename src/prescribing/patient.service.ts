import { AppError, isUuid, type Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { clinicalView, shapeTo } from '../access/minimum-necessary.js';
import {
  recordPatientAccess,
  type AccessBasis,
  type AccessMeta,
  type PatientAccess,
} from '../access/patient-access.js';
import {
  PATIENT_CREATE,
  PATIENT_LIST,
  PATIENT_READ,
  PATIENT_SEARCH,
  PATIENT_UPDATE,
} from '../monitoring/actions.js';
import type { PatientClinicalRepository } from './patient-clinical.repository.js';
import type {
  Patient,
  PatientInput,
  PatientQuery,
  PatientRepository,
  ShreddedPatient,
} from './patient.repository.js';
import {
  PATIENT_VIEW_SCHEMAS,
  PatientSummaryView,
  type PatientFull,
  type PatientSummary,
  type PatientView,
} from './patient.views.js';
import { auditPatientRefusal, requirePermission, type PatientActor } from './patient-actor.js';

/** The result of a create: the new id, or the possible duplicates the creator may see. */
export type CreatePatientResult =
  | { readonly kind: 'created'; readonly id: string }
  | { readonly kind: 'duplicate'; readonly candidates: readonly string[] };

export const PATIENT_PAGE_MAX = 50;

/** A search: a blind-index query, or a patient id (FHIR `_id`). */
export type PatientSearch = PatientQuery | { readonly by: 'id'; readonly id: string };

/**
 * Patients for the people who treat them (issue 7 item 1, issue 5 items 2, 4 and 9). Every read,
 * search and list goes through {@link PatientAccess} (a relationship, not only a role) and writes
 * its audit record with {@link recordPatientAccess} in the same transaction, before any data is
 * returned (45 CFR 164.312(b)). Records leave shaped to the caller's minimum-necessary view
 * (164.502(b)); a patient without a relationship, another tenant's and a missing one all answer
 * `not_found` alike.
 */
export class PatientService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly access: PatientAccess,
    private readonly patients: PatientRepository,
    private readonly clinical: PatientClinicalRepository,
  ) {}

  /**
   * Creates a patient; the creator joins the care team. A patient with the same last name and
   * date of birth, or the same MRN, answers `duplicate` with the candidates the creator may see,
   * unless `confirmNotDuplicate`. (Within a tenant, a duplicate answer with no visible candidate
   * tells a creator that such a patient exists: accepted, since duplicate charts are a safety
   * risk, and the refusal is audited.)
   */
  async create(
    who: PatientActor,
    input: PatientInput,
    options: { readonly confirmNotDuplicate?: boolean | undefined },
    meta: AccessMeta,
  ): Promise<CreatePatientResult> {
    requirePermission(who, 'patient.write');
    return this.db.withTenant(who.tenantId, async (tx) => {
      const matches = await this.#duplicates(tx, who, input);
      if (matches.length > 0 && options.confirmNotDuplicate !== true) {
        const visible = await this.access.bases(tx, who, matches, 'patient.read');
        const candidates = matches.filter((id) => visible.has(id));
        await auditPatientRefusal(tx, this.clock, who, PATIENT_CREATE, candidates, meta, {
          reason: 'possible_duplicate',
          matches: matches.length,
          visible: candidates.length,
        });
        return { kind: 'duplicate', candidates };
      }
      const id = await this.patients.create(tx, who.tenantId, input);
      await tx.query(
        `INSERT INTO care_team (tenant_id, patient_id, user_id, relation, added_by, added_at)
         VALUES ($1, $2, $3, 'creator', $3, $4)`,
        [who.tenantId, id, who.userId, this.clock.now()],
      );
      await recordPatientAccess(
        tx,
        this.clock,
        who,
        PATIENT_CREATE,
        new Map([[id, { kind: 'care_team' }]]),
        meta,
        { duplicateMatches: matches.length, confirmedNotDuplicate: matches.length > 0 },
      );
      return { kind: 'created', id };
    });
  }

  /** Replaces a patient's demographics (patient.write and a relationship). */
  async update(
    who: PatientActor,
    patientId: string,
    input: PatientInput,
    meta: AccessMeta,
  ): Promise<void> {
    requirePermission(who, 'patient.write');
    await this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.write');
      await this.patients.update(tx, who.tenantId, patientId, input);
      await recordPatientAccess(
        tx,
        this.clock,
        who,
        PATIENT_UPDATE,
        new Map([[patientId, basis]]),
        meta,
        {
          part: 'demographics',
        },
      );
    });
  }

  /** One patient, shaped to the caller's view (full, dispensing or summary). */
  async get(who: PatientActor, patientId: string, meta: AccessMeta): Promise<PatientFull> {
    const view = readableView(who);
    return this.db.withTenant(who.tenantId, async (tx) => {
      const basis = await this.access.require(tx, who, patientId, 'patient.read');
      const patient = await this.patients.get(tx, who.tenantId, patientId);
      if (patient.shredded) throw new AppError('shredded', 'the patient data was destroyed');
      const record = await this.#record(tx, who, patient, view);
      const shaped = shapeTo(PATIENT_VIEW_SCHEMAS[view], record) as PatientFull;
      await recordPatientAccess(
        tx,
        this.clock,
        who,
        PATIENT_READ,
        new Map([[patientId, basis]]),
        meta,
        {
          view,
        },
      );
      return shaped;
    });
  }

  /**
   * Blind-index search (last name + date of birth, MRN or phone). Patients without a
   * relationship are left out exactly as if they did not match. Audited with the kind of search
   * and the number returned, never the terms.
   */
  async search(
    who: PatientActor,
    query: PatientSearch,
    meta: AccessMeta,
  ): Promise<PatientSummary[]> {
    readableView(who);
    return this.db.withTenant(who.tenantId, async (tx) => {
      // An id needs no lookup: a relationship row exists only for an existing patient.
      const ids =
        query.by !== 'id'
          ? await this.patients.matchIds(tx, who.tenantId, query)
          : isUuid(query.id)
            ? [query.id]
            : [];
      const bases = await this.access.bases(tx, who, ids, 'patient.read');
      const out = await this.#summaries(tx, who, ids, bases);
      await recordPatientAccess(tx, this.clock, who, PATIENT_SEARCH, bases, meta, { by: query.by });
      return out;
    });
  }

  /** The caller's own patients (active care-team memberships), as summaries, by id. */
  async list(
    who: PatientActor,
    page: { readonly after?: string | undefined; readonly limit: number },
    meta: AccessMeta,
  ): Promise<PatientSummary[]> {
    readableView(who);
    if (!Number.isInteger(page.limit) || page.limit < 1 || page.limit > PATIENT_PAGE_MAX) {
      throw new AppError('validation_failed', 'limit out of range', { detail: 'limit' });
    }
    return this.db.withTenant(who.tenantId, async (tx) => {
      const { rows } = await tx.query<{ patient_id: string }>(
        `SELECT patient_id FROM care_team
          WHERE user_id = $1 AND ended_at IS NULL AND ($2::uuid IS NULL OR patient_id > $2)
          ORDER BY patient_id LIMIT $3`,
        [who.userId, page.after ?? null, page.limit],
      );
      const ids = rows.map((r) => r.patient_id);
      const bases = await this.access.bases(tx, who, ids, 'patient.read');
      const out = await this.#summaries(tx, who, ids, bases);
      await recordPatientAccess(tx, this.clock, who, PATIENT_LIST, bases, meta);
      return out;
    });
  }

  async #duplicates(tx: Tx, who: PatientActor, input: PatientInput): Promise<string[]> {
    const byName = await this.patients.matchIds(tx, who.tenantId, {
      by: 'name_dob',
      familyName: input.familyName,
      birthDate: input.birthDate,
    });
    const byMrn =
      input.mrn === undefined
        ? []
        : await this.patients.matchIds(tx, who.tenantId, { by: 'mrn', mrn: input.mrn });
    return [...new Set([...byName, ...byMrn])].sort();
  }

  async #summaries(
    tx: Tx,
    who: PatientActor,
    ids: readonly string[],
    bases: ReadonlyMap<string, AccessBasis>,
  ): Promise<PatientSummary[]> {
    const visible = ids.filter((id) => bases.has(id));
    const patients = await this.patients.getMany(tx, who.tenantId, visible);
    return patients.map((p) =>
      shapeTo(PatientSummaryView, {
        ...(p.shredded ? { id: p.id } : p),
        view: 'summary',
        shredded: p.shredded,
      }),
    );
  }

  /** The domain record for a view: the clinical parts a view does not show are never loaded. */
  async #record(
    tx: Tx,
    who: PatientActor,
    patient: Patient | ShreddedPatient,
    view: PatientView,
  ): Promise<Record<string, unknown>> {
    if (patient.shredded) return { id: patient.id, view, shredded: true };
    const base = { ...patient, view, shredded: false };
    if (view === 'summary') return base;
    const allergies = await this.clinical.allergies(tx, who.tenantId, patient.id);
    const ncpdpId = await this.clinical.preferredPharmacy(tx, who.tenantId, patient.id);
    const dispensing = {
      ...base,
      allergies,
      ...(ncpdpId === undefined ? {} : { preferredPharmacy: { ncpdpId } }),
    };
    if (view === 'dispensing') return dispensing;
    return {
      ...dispensing,
      medications: await this.clinical.medications(tx, who.tenantId, patient.id),
    };
  }
}

/** The caller's view for a single record; no patient.read means no view at all (403). */
export function readableView(who: PatientActor): PatientView {
  const view = clinicalView(who);
  if (view === 'none') throw new AppError('forbidden', 'permission denied');
  return view;
}
