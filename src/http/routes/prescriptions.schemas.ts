import { Type, type TSchema } from '@sinclair/typebox';
import type { ClinicalView } from '../../access/minimum-necessary.js';
import type { Prescription } from '../../prescribing/prescription.types.js';

/** Request and response schemas of the prescription routes (one per minimum-necessary view). */

const Uuid = Type.String({ format: 'uuid' });
const DateOnly = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' });
const Text = (max: number, min = 1): TSchema => Type.String({ minLength: min, maxLength: max });

export const Practice = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    line: Text(200),
    city: Text(100),
    state: Type.String({ pattern: '^[A-Z]{2}$' }),
    postalCode: Type.String({ pattern: '^[0-9]{5}(-[0-9]{4})?$' }),
    phone: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: false },
);

const Quantity = Type.Object(
  {
    value: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
    unit: Type.String({ minLength: 1, maxLength: 40 }),
  },
  { additionalProperties: false },
);

const Diagnosis = Type.Object(
  { code: Type.String({ maxLength: 10 }), display: Type.Optional(Type.String({ maxLength: 200 })) },
  { additionalProperties: false },
);

/** The editable fields (all optional in a PATCH, renewal or change). */
const editable = {
  rxcui: Type.String({ pattern: '^[0-9]{1,12}$' }),
  quantity: Quantity,
  daysSupply: Type.Integer({ minimum: 1, maximum: 366 }),
  sig: Text(1000),
  refills: Type.Integer({ minimum: 0, maximum: 99 }),
  substitutionAllowed: Type.Boolean(),
  diagnosis: Type.Optional(Diagnosis),
  earliestFillDate: Type.Optional(DateOnly),
  notesToPharmacist: Type.Optional(Type.String({ maxLength: 1000 })),
  pharmacyNcpdpId: Type.String({ pattern: '^[0-9]{7}$' }),
  practice: Practice,
  deaNumber: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z9][0-9]{7}$' })),
};

export const DraftBody = Type.Object(
  { patientId: Uuid, prescriberId: Type.Optional(Uuid), ...editable },
  { additionalProperties: false },
);

export const PatchBody = Type.Partial(Type.Object(editable, { additionalProperties: false }), {
  additionalProperties: false,
});

export const ReadyBody = Type.Object(
  {
    overrides: Type.Optional(
      Type.Array(
        Type.Object(
          { key: Type.String({ maxLength: 100 }), reason: Text(1000) },
          { additionalProperties: false },
        ),
        { maxItems: 50 },
      ),
    ),
    deaNumber: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z9][0-9]{7}$' })),
  },
  { additionalProperties: false },
);

export const EpcsSignBody = Type.Object(
  {
    prescriptionIds: Type.Array(Uuid, { minItems: 1, maxItems: 20, uniqueItems: true }),
    deaNumber: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z9][0-9]{7}$' })),
  },
  { additionalProperties: false },
);

export const Finding = Type.Object({
  key: Type.String(),
  kind: Type.String(),
  severity: Type.String(),
  message: Type.String(),
  overrideReason: Type.Optional(Type.String()),
});

const Drug = Type.Object({
  rxcui: Type.String(),
  name: Type.String(),
  strength: Type.String(),
  doseForm: Type.String(),
  route: Type.String(),
  deaSchedule: Type.Union([Type.String(), Type.Null()]),
});

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const summaryFields = {
  id: Type.String(),
  patientId: Type.String(),
  status: Type.String(),
  kind: Type.String(),
  deaSchedule: Nullable(Type.String()),
  drugName: Type.String(),
  strength: Type.String(),
  createdAt: Type.String(),
  signedAt: Nullable(Type.String()),
};

/** Lists and anyone with read access beyond the treating and dispensing sides. */
export const RxSummary = Type.Object(summaryFields);

/** The pharmacy side: what dispensing needs (no diagnosis, no safety findings or overrides). */
export const RxDispensing = Type.Object({
  ...summaryFields,
  prescriberId: Type.String(),
  previousId: Nullable(Type.String()),
  drug: Drug,
  quantity: Quantity,
  daysSupply: Type.Integer(),
  sig: Type.String(),
  refills: Type.Integer(),
  substitutionAllowed: Type.Boolean(),
  earliestFillDate: Nullable(Type.String()),
  notesToPharmacist: Nullable(Type.String()),
  pharmacyNcpdpId: Type.String(),
  practice: Practice,
  deaNumber: Nullable(Type.String()),
  jws: Nullable(Type.String()),
  keyId: Nullable(Type.String()),
});

/** The treating side: the whole record. */
export const RxFull = Type.Object({
  ...RxDispensing.properties,
  draftedBy: Type.String(),
  version: Type.Integer(),
  diagnosis: Nullable(Diagnosis),
  findings: Type.Array(Finding),
  readyAt: Nullable(Type.String()),
  updatedAt: Type.String(),
  errorCode: Nullable(Type.String()),
});

/** The response schema: the widest view, every field beyond the summary optional. */
export const RxResponse = Type.Intersect([RxSummary, Type.Partial(RxFull)]);

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/** The full presentation of a prescription, before shaping to a view. */
export function present(p: Prescription): Record<string, unknown> {
  const c = p.content;
  return {
    id: p.id,
    patientId: p.patientId,
    status: p.status,
    kind: p.kind,
    deaSchedule: p.deaSchedule,
    drugName: c.drug.name,
    strength: c.drug.strength,
    createdAt: p.createdAt.toISOString(),
    signedAt: iso(p.signedAt),
    prescriberId: p.prescriberId,
    previousId: p.previousId,
    drug: c.drug,
    quantity: c.quantity,
    daysSupply: c.daysSupply,
    sig: c.sig,
    refills: c.refills,
    substitutionAllowed: c.substitutionAllowed,
    earliestFillDate: c.earliestFillDate ?? null,
    notesToPharmacist: c.notesToPharmacist ?? null,
    pharmacyNcpdpId: c.pharmacyNcpdpId,
    practice: c.practice,
    deaNumber: c.deaNumber ?? null,
    jws: p.jws,
    keyId: p.keyId,
    draftedBy: p.draftedBy,
    version: p.version,
    diagnosis: c.diagnosis ?? null,
    findings: p.findings,
    readyAt: iso(p.readyAt),
    updatedAt: p.updatedAt.toISOString(),
    errorCode: p.errorCode,
  };
}

export function viewSchema(view: ClinicalView): TSchema | undefined {
  switch (view) {
    case 'full':
      return RxFull;
    case 'dispensing':
      return RxDispensing;
    case 'summary':
      return RxSummary;
    case 'none':
      return undefined;
  }
}
