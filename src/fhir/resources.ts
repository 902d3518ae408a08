import { Type, type Static } from '@sinclair/typebox';
import type { Allergy, Medication, PatientFull, PatientSummary } from '../prescribing/index.js';

/**
 * FHIR R4 (4.0.1) resources built from the minimum-necessary records of the patient service:
 * the mapping starts from a record already shaped to the caller's view (45 CFR 164.502(b)), so a
 * FHIR answer never carries more than the REST answer would. The TypeBox schemas declare only
 * the elements produced here; the HTTP serializer drops anything else.
 *
 * Code systems: RxNorm `http://www.nlm.nih.gov/research/umls/rxnorm`, NPI
 * `http://hl7.org/fhir/sid/us-npi`, identifier type v2-0203 `MR` (R4 §2.24 terminology).
 */
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const US_NPI = 'http://hl7.org/fhir/sid/us-npi';
/** The identifier system of Scrip MRNs (tenant-local medical record numbers). */
export const SCRIP_MRN = 'urn:scrip:mrn';
export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

const Coding = Type.Object({
  system: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  display: Type.Optional(Type.String()),
});
const CodeableConcept = Type.Object({
  coding: Type.Optional(Type.Array(Coding)),
  text: Type.Optional(Type.String()),
});
const Identifier = Type.Object({
  use: Type.Optional(Type.String()),
  type: Type.Optional(CodeableConcept),
  system: Type.Optional(Type.String()),
  value: Type.Optional(Type.String()),
});
const Reference = Type.Object({ reference: Type.String() });
const HumanName = Type.Object({
  family: Type.Optional(Type.String()),
  given: Type.Optional(Type.Array(Type.String())),
  text: Type.Optional(Type.String()),
});

export const FhirPatient = Type.Object({
  resourceType: Type.Literal('Patient'),
  id: Type.String(),
  identifier: Type.Optional(Type.Array(Identifier)),
  name: Type.Optional(Type.Array(HumanName)),
  telecom: Type.Optional(
    Type.Array(
      Type.Object({
        system: Type.String(),
        value: Type.String(),
        use: Type.Optional(Type.String()),
      }),
    ),
  ),
  birthDate: Type.Optional(Type.String()),
  address: Type.Optional(Type.Array(Type.Object({ text: Type.String() }))),
});

export const FhirPractitioner = Type.Object({
  resourceType: Type.Literal('Practitioner'),
  id: Type.String(),
  active: Type.Boolean(),
  identifier: Type.Optional(Type.Array(Identifier)),
  name: Type.Array(HumanName),
});

export const FhirAllergyIntolerance = Type.Object({
  resourceType: Type.Literal('AllergyIntolerance'),
  id: Type.String(),
  clinicalStatus: CodeableConcept,
  code: CodeableConcept,
  patient: Reference,
  recordedDate: Type.String(),
  reaction: Type.Optional(
    Type.Array(
      Type.Object({
        manifestation: Type.Array(CodeableConcept),
        severity: Type.Optional(Type.String()),
      }),
    ),
  ),
});

export const FhirMedicationStatement = Type.Object({
  resourceType: Type.Literal('MedicationStatement'),
  id: Type.String(),
  status: Type.String(),
  medicationCodeableConcept: CodeableConcept,
  subject: Reference,
  effectivePeriod: Type.Optional(
    Type.Object({ start: Type.Optional(Type.String()), end: Type.Optional(Type.String()) }),
  ),
  dateAsserted: Type.String(),
  dosage: Type.Optional(Type.Array(Type.Object({ text: Type.String() }))),
});

/** A `searchset` Bundle of one resource type (R4 §3.1.1.4 / http.html#search). */
export function BundleOf<T extends ReturnType<typeof Type.Object>>(resource: T) {
  return Type.Object({
    resourceType: Type.Literal('Bundle'),
    type: Type.Literal('searchset'),
    total: Type.Integer(),
    entry: Type.Array(
      Type.Object({
        resource,
        search: Type.Object({ mode: Type.Literal('match') }),
      }),
    ),
  });
}

export function searchset<T>(resources: readonly T[]): {
  resourceType: 'Bundle';
  type: 'searchset';
  total: number;
  entry: { resource: T; search: { mode: 'match' } }[];
} {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({ resource, search: { mode: 'match' } })),
  };
}

/** A Patient from a shaped record: the fields the view left out are simply absent. */
export function toFhirPatient(p: PatientFull | PatientSummary): Static<typeof FhirPatient> {
  const full = p as PatientFull;
  const identifier = [
    ...(p.mrn === undefined
      ? []
      : [
          {
            use: 'usual',
            type: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }],
            },
            system: SCRIP_MRN,
            value: p.mrn,
          },
        ]),
    ...(full.identifiers ?? []).map((i) => ({ system: i.system, value: i.value })),
  ];
  const name =
    p.familyName === undefined && p.givenName === undefined
      ? []
      : [
          {
            ...(p.familyName === undefined ? {} : { family: p.familyName }),
            ...(p.givenName === undefined ? {} : { given: [p.givenName] }),
          },
        ];
  return {
    resourceType: 'Patient',
    id: p.id,
    ...(identifier.length === 0 ? {} : { identifier }),
    ...(name.length === 0 ? {} : { name }),
    ...(full.phone === undefined
      ? {}
      : { telecom: [{ system: 'phone', value: full.phone, use: 'home' }] }),
    ...(p.birthDate === undefined ? {} : { birthDate: p.birthDate }),
    ...(full.address === undefined ? {} : { address: [{ text: full.address }] }),
  };
}

export function toFhirPractitioner(p: {
  readonly userId: string;
  readonly displayName: string;
  readonly active: boolean;
  readonly npi: string | undefined;
}): Static<typeof FhirPractitioner> {
  return {
    resourceType: 'Practitioner',
    id: p.userId,
    active: p.active,
    ...(p.npi === undefined ? {} : { identifier: [{ system: US_NPI, value: p.npi }] }),
    name: [{ text: p.displayName }],
  };
}

function coded(rxcui: string | undefined, text: string): Static<typeof CodeableConcept> {
  return {
    ...(rxcui === undefined ? {} : { coding: [{ system: RXNORM, code: rxcui, display: text }] }),
    text,
  };
}

export function toFhirAllergy(
  patientId: string,
  a: Allergy,
): Static<typeof FhirAllergyIntolerance> {
  const hasReaction = a.reaction !== undefined || a.severity !== undefined;
  return {
    resourceType: 'AllergyIntolerance',
    id: a.id,
    clinicalStatus: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
          code: a.status,
        },
      ],
    },
    code: coded(a.rxcui, a.substance),
    patient: { reference: `Patient/${patientId}` },
    recordedDate: a.recordedAt,
    ...(hasReaction
      ? {
          reaction: [
            {
              manifestation: [{ text: a.reaction ?? 'not recorded' }],
              ...(a.severity === undefined ? {} : { severity: a.severity }),
            },
          ],
        }
      : {}),
  };
}

export function toFhirMedicationStatement(
  patientId: string,
  m: Medication,
): Static<typeof FhirMedicationStatement> {
  const period = {
    ...(m.startedOn === undefined ? {} : { start: m.startedOn }),
    ...(m.stoppedOn === undefined ? {} : { end: m.stoppedOn }),
  };
  return {
    resourceType: 'MedicationStatement',
    id: m.id,
    status: m.status,
    medicationCodeableConcept: coded(m.rxcui, m.name),
    subject: { reference: `Patient/${patientId}` },
    ...(Object.keys(period).length === 0 ? {} : { effectivePeriod: period }),
    dateAsserted: m.recordedAt,
    ...(m.dosage === undefined ? {} : { dosage: [{ text: m.dosage }] }),
  };
}
