import { Type, type TSchema } from '@sinclair/typebox';
import type { ClinicalView } from '../../access/minimum-necessary.js';
import type { ReceivedPrescription } from '../../pharmacy/index.js';

/**
 * Request and response schemas of the pharmacy inbox routes, one response schema per
 * minimum-necessary view (45 CFR 164.502(b)): lists return {@link InboxSummary} (no sig, no
 * notes, no addresses, no signature), a single read by pharmacy staff {@link InboxDispensing}.
 */
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Decimal = Type.String({ pattern: '^(0|[1-9][0-9]{0,10})(\\.[0-9]{0,4}[1-9])?$' });

const Pharmacy = Type.Object({ id: Type.String(), ncpdpId: Type.String(), name: Type.String() });

const common = {
  id: Type.String(),
  pharmacy: Pharmacy,
  status: Type.String(),
  cancelStatus: Type.String(),
  deaSchedule: Nullable(Type.String()),
  controlled: Type.Boolean(),
  signatureStatus: Type.String(),
  receivedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  quantityDispensed: Type.String(),
};

export const InboxSummary = Type.Object({
  ...common,
  patient: Nullable(
    Type.Object({ lastName: Type.String(), firstName: Type.String(), birthDate: Type.String() }),
  ),
  drug: Nullable(
    Type.Object({ description: Type.String(), quantity: Type.String(), unitCode: Type.String() }),
  ),
  prescriber: Nullable(
    Type.Object({ lastName: Type.String(), firstName: Type.String(), npi: Type.String() }),
  ),
});

const Address = Type.Object({
  line1: Type.String(),
  line2: Type.Optional(Type.String()),
  city: Type.String(),
  state: Type.String(),
  postalCode: Type.String(),
  countryCode: Type.Optional(Type.String()),
});

const Medication = Type.Object({
  drugDescription: Type.String(),
  ndc: Type.Optional(Type.String()),
  strength: Type.Optional(Type.Object({ value: Type.String(), unitCode: Type.String() })),
  rxnorm: Type.Optional(Type.Object({ code: Type.String(), qualifier: Type.String() })),
  deaSchedule: Type.Optional(Type.String()),
  quantity: Type.Object({
    value: Type.String(),
    codeListQualifier: Type.String(),
    unitCode: Type.String(),
  }),
  daysSupply: Type.Optional(Type.Integer()),
  writtenDate: Type.String(),
  substitutions: Type.String(),
  numberOfRefills: Type.Integer(),
  note: Type.Optional(Type.String()),
  sig: Type.String(),
  earliestFillDate: Type.Optional(Type.String()),
});

const Action = Type.Object({
  kind: Type.String(),
  messageType: Type.String(),
  messageId: Type.String(),
  actorId: Type.String(),
  at: Type.String({ format: 'date-time' }),
  quantity: Type.Optional(Type.String()),
  fillStatus: Type.Optional(Type.String()),
  decision: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  note: Type.Optional(Type.String()),
});

export const InboxDispensing = Type.Object({
  ...common,
  senderId: Type.String(),
  messageId: Type.String(),
  prescriberOrderNumber: Nullable(Type.String()),
  patient: Nullable(
    Type.Object({
      lastName: Type.String(),
      firstName: Type.String(),
      middleName: Type.Optional(Type.String()),
      gender: Type.String(),
      birthDate: Type.String(),
      address: Type.Optional(Address),
      phone: Type.Optional(Type.String()),
    }),
  ),
  prescriber: Nullable(
    Type.Object({
      lastName: Type.String(),
      firstName: Type.String(),
      npi: Type.String(),
      deaNumber: Type.Optional(Type.String()),
      stateLicenseNumber: Type.Optional(Type.String()),
      address: Type.Optional(Address),
      phone: Type.Optional(Type.String()),
    }),
  ),
  drug: Nullable(
    Type.Object({ description: Type.String(), quantity: Type.String(), unitCode: Type.String() }),
  ),
  medication: Nullable(Medication),
  signature: Type.Object({
    status: Type.String(),
    keyId: Nullable(Type.String()),
    verifiedAt: Nullable(Type.String({ format: 'date-time' })),
    jws: Nullable(Type.String()),
  }),
  actions: Type.Array(Action),
});

/** The response schema of a single read: pharmacy staff get the dispensing view. */
export function itemSchema(view: ClinicalView): TSchema {
  return view === 'full' || view === 'dispensing' ? InboxDispensing : InboxSummary;
}

/** Every field any view may carry; {@link shapeTo} keeps the view's part. */
export function present(p: ReceivedPrescription): Record<string, unknown> {
  const b = p.body;
  const pick = (d: Readonly<Record<string, unknown>>): Record<string, unknown> =>
    Object.fromEntries(
      ['quantity', 'fillStatus', 'decision', 'code', 'note']
        .filter((k) => typeof d[k] === 'string')
        .map((k) => [k, d[k]]),
    );
  return {
    id: p.id,
    pharmacy: p.pharmacy,
    status: p.status,
    cancelStatus: p.cancelStatus,
    deaSchedule: p.deaSchedule,
    controlled: p.deaSchedule !== null,
    signatureStatus: p.signature.status,
    receivedAt: p.receivedAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    quantityDispensed: p.quantityDispensed,
    senderId: p.senderId,
    messageId: p.messageId,
    prescriberOrderNumber: p.prescriberOrderNumber,
    patient:
      b === null
        ? null
        : {
            lastName: b.patient.name.last,
            firstName: b.patient.name.first,
            ...(b.patient.name.middle === undefined ? {} : { middleName: b.patient.name.middle }),
            gender: b.patient.gender,
            birthDate: b.patient.dateOfBirth,
            ...(b.patient.address === undefined ? {} : { address: b.patient.address }),
            ...(b.patient.phone === undefined ? {} : { phone: b.patient.phone }),
          },
    prescriber:
      b === null
        ? null
        : {
            lastName: b.prescriber.name.last,
            firstName: b.prescriber.name.first,
            npi: b.prescriber.npi,
            ...(b.prescriber.deaNumber === undefined ? {} : { deaNumber: b.prescriber.deaNumber }),
            ...(b.prescriber.stateLicenseNumber === undefined
              ? {}
              : { stateLicenseNumber: b.prescriber.stateLicenseNumber }),
            ...(b.prescriber.address === undefined ? {} : { address: b.prescriber.address }),
            ...(b.prescriber.phone === undefined ? {} : { phone: b.prescriber.phone }),
          },
    drug:
      b === null
        ? null
        : {
            description: b.medicationPrescribed.drugDescription,
            quantity: b.medicationPrescribed.quantity.value,
            unitCode: b.medicationPrescribed.quantity.unitCode,
          },
    medication: b === null ? null : b.medicationPrescribed,
    signature: {
      status: p.signature.status,
      keyId: p.signature.keyId,
      verifiedAt: p.signature.verifiedAt?.toISOString() ?? null,
      jws: p.signature.jws,
    },
    actions: p.actions.map((a) => ({
      kind: a.kind,
      messageType: a.messageType,
      messageId: a.messageId,
      actorId: a.actorId,
      at: a.at.toISOString(),
      ...pick(a.detail),
    })),
  };
}

export const InboxQuery = Type.Object(
  {
    status: Type.Optional(
      Type.Union(
        ['received', 'accepted', 'partially_dispensed', 'dispensed', 'cancelled'].map((s) =>
          Type.Literal(s),
        ),
      ),
    ),
    // At most 50: one audit record names every prescription listed (its subject limit).
    limit: Type.Integer({ minimum: 1, maximum: 50, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const DispenseBody = Type.Object(
  {
    quantity: Decimal,
    ndc: Type.Optional(Type.String({ pattern: '^[0-9]{11}$' })),
    daysSupply: Type.Optional(Type.Integer({ minimum: 1, maximum: 999 })),
    note: Type.Optional(Text(70)),
  },
  { additionalProperties: false },
);

/** One object, not a union: ajv's removeAdditional would strip fields while trying branches. */
export const CancelAnswerBody = Type.Object(
  {
    decision: Type.Union([Type.Literal('approve'), Type.Literal('deny')]),
    note: Type.Optional(Text(210)),
    reasonCode: Type.Optional(Type.String({ pattern: '^[A-Z0-9]{2,3}$' })),
    reason: Type.Optional(Text(70)),
  },
  { additionalProperties: false },
);

export const RenewalBody = Type.Object(
  { note: Type.Optional(Text(210)) },
  { additionalProperties: false },
);

export const ChangeBody = Type.Object(
  {
    code: Type.Union(['G', 'T', 'P', 'U', 'S', 'OS', 'D'].map((c) => Type.Literal(c))),
    requested: Type.Array(
      Type.Object(
        {
          drugDescription: Text(105),
          rxnorm: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,9}$' })),
          ndc: Type.Optional(Type.String({ pattern: '^[0-9]{11}$' })),
          quantity: Type.Optional(Decimal),
          daysSupply: Type.Optional(Type.Integer({ minimum: 1, maximum: 999 })),
          sig: Type.Optional(Text(1000)),
          note: Type.Optional(Text(210)),
        },
        { additionalProperties: false },
      ),
      { maxItems: 9 },
    ),
  },
  { additionalProperties: false },
);

export const LocationBody = Type.Object(
  {
    ncpdpId: Type.String({ pattern: '^[0-9]{7}$' }),
    npi: Type.Optional(Type.String({ pattern: '^[12][0-9]{9}$' })),
    name: Text(70),
  },
  { additionalProperties: false },
);

export const LocationAnswer = Type.Object({
  id: Type.String(),
  ncpdpId: Type.String(),
  npi: Nullable(Type.String()),
  name: Type.String(),
  active: Type.Boolean(),
  members: Type.Array(Type.String()),
});

export const SenderAnswer = Type.Object({
  senderId: Type.String(),
  kids: Type.Array(Type.String()),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const TrustBody = Type.Object(
  {
    jwks: Type.Object(
      {
        keys: Type.Array(Type.Object({}, { additionalProperties: true }), {
          minItems: 1,
          maxItems: 20,
        }),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: false },
);
