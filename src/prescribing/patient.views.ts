import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { ClinicalView } from '../access/minimum-necessary.js';
import { ALLERGY_SEVERITIES } from './patient-clinical.repository.js';

/**
 * The minimum-necessary views of a patient (45 CFR 164.502(b), 164.514(d)), one TypeBox schema
 * each. Every record leaves the patient service through `shapeTo(view schema, record)`, so a
 * field a view does not declare is dropped whatever the domain object carries; the REST routes
 * and the FHIR mapping both start from these shaped records. Each view is a strict subset of the
 * next: summary ⊂ dispensing ⊂ full.
 */

const Rxcui = Type.String({ pattern: '^[0-9]{1,10}$' });

export const AllergyView = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('inactive')]),
  rxcui: Type.Optional(Rxcui),
  substance: Type.String(),
  reaction: Type.Optional(Type.String()),
  severity: Type.Optional(Type.Union(ALLERGY_SEVERITIES.map((s) => Type.Literal(s)))),
  recordedAt: Type.String({ format: 'date-time' }),
});

export const MedicationView = Type.Object({
  id: Type.String(),
  status: Type.Union([Type.Literal('active'), Type.Literal('stopped')]),
  rxcui: Type.Optional(Rxcui),
  ingredientRxcuis: Type.Array(Rxcui),
  name: Type.String(),
  dosage: Type.Optional(Type.String()),
  startedOn: Type.Optional(Type.String()),
  stoppedOn: Type.Optional(Type.String()),
  recordedAt: Type.String({ format: 'date-time' }),
});

const Identifier = Type.Object({ system: Type.String(), value: Type.String() });

const summaryFields = {
  id: Type.String(),
  view: Type.Union([Type.Literal('full'), Type.Literal('dispensing'), Type.Literal('summary')]),
  /** True when the tenant's data key was destroyed: only the id is left. */
  shredded: Type.Boolean(),
  givenName: Type.Optional(Type.String()),
  familyName: Type.Optional(Type.String()),
  birthDate: Type.Optional(Type.String()),
  mrn: Type.Optional(Type.String()),
};

const dispensingFields = {
  ...summaryFields,
  phone: Type.Optional(Type.String()),
  address: Type.Optional(Type.String()),
  allergies: Type.Optional(Type.Array(AllergyView)),
  preferredPharmacy: Type.Optional(Type.Object({ ncpdpId: Type.String() })),
};

/** Lists and search results, and readers without a treating or dispensing role. */
export const PatientSummaryView = Type.Object(summaryFields);
/** The pharmacy side: who the patient is, how to reach them, allergies; no history. */
export const PatientDispensingView = Type.Object(dispensingFields);
/** The treating side (prescriber, agent, care coordinator): the whole record. */
export const PatientFullView = Type.Object({
  ...dispensingFields,
  identifiers: Type.Optional(Type.Array(Identifier)),
  medications: Type.Optional(Type.Array(MedicationView)),
});

export type PatientSummary = Static<typeof PatientSummaryView>;
export type PatientFull = Static<typeof PatientFullView>;

/** A readable view (not `none`). */
export type PatientView = Exclude<ClinicalView, 'none'>;

export const PATIENT_VIEW_SCHEMAS: Readonly<Record<PatientView, TSchema>> = {
  full: PatientFullView,
  dispensing: PatientDispensingView,
  summary: PatientSummaryView,
};

export const CareTeamMemberView = Type.Object({
  userId: Type.String(),
  displayName: Type.String(),
  relation: Type.String(),
  addedAt: Type.String({ format: 'date-time' }),
});
export type CareTeamMember = Static<typeof CareTeamMemberView>;
