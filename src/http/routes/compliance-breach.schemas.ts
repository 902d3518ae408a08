/** Request and response schemas of the breach assessment and notice routes (45 CFR 164.402-410). */
import { Type } from '@sinclair/typebox';
import {
  BREACH_DECISIONS,
  BREACH_EXCEPTIONS,
  FACTOR_RATINGS,
  PHI_TYPE_KEYS,
} from '../../compliance/program.js';
import {
  BaseVersion,
  DateOnly,
  DateTime,
  Nullable,
  literals,
} from './compliance-program.schemas.js';

// Breach ----------------------------------------------------------------------------------------

const Factor = Type.Object(
  { rating: literals(FACTOR_RATINGS), rationale: Type.String({ minLength: 1, maxLength: 4000 }) },
  { additionalProperties: false },
);
const Factors = Type.Object(
  {
    natureAndExtent: Factor,
    unauthorizedPerson: Factor,
    acquiredOrViewed: Factor,
    mitigation: Factor,
  },
  { additionalProperties: false },
);
const Notice = Type.Object(
  {
    whatHappened: Type.String({ maxLength: 4000 }),
    stepsIndividualsShouldTake: Type.String({ maxLength: 4000 }),
    whatWeAreDoing: Type.String({ maxLength: 4000 }),
    contact: Type.Object(
      {
        tollFreeNumber: Type.String({ maxLength: 40 }),
        email: Type.Optional(Type.String({ maxLength: 300 })),
        website: Type.Optional(Type.String({ maxLength: 300 })),
        postalAddress: Type.Optional(Type.String({ maxLength: 300 })),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
const AssessmentFields = {
  factors: Factors,
  decision: literals(BREACH_DECISIONS),
  exception: Nullable(literals(BREACH_EXCEPTIONS)),
  rationale: Type.String({ minLength: 1, maxLength: 4000 }),
  role: literals(['covered_entity', 'business_associate']),
  discoveredOn: DateOnly,
  occurredFrom: Nullable(DateOnly),
  occurredTo: Nullable(DateOnly),
  affectedByJurisdiction: Type.Record(Type.String({ maxLength: 20 }), Type.Integer({ minimum: 0 })),
  phiTypes: Type.Array(literals(PHI_TYPE_KEYS), { maxItems: PHI_TYPE_KEYS.length }),
  notice: Nullable(Notice),
};
export const AssessmentBody = Type.Object(
  { ...AssessmentFields, baseVersion: BaseVersion },
  { additionalProperties: false },
);
export const AssessmentSchema = Type.Object({
  incidentId: Type.String(),
  version: Type.Integer(),
  ...AssessmentFields,
  affectedTotal: Type.Integer(),
  assessedBy: Type.String(),
  assessedAt: DateTime,
});
const DeadlineSchema = Type.Object({
  recipient: Type.String(),
  jurisdiction: Nullable(Type.String()),
  dueOn: DateOnly,
  citation: Type.String(),
  basis: Type.String(),
  daysLeft: Type.Integer(),
  state: Type.String(),
  sentOn: Nullable(DateOnly),
});
export const NoticeRecordSchema = Type.Object({
  id: Type.String(),
  recipient: Type.String(),
  jurisdiction: Nullable(Type.String()),
  sentOn: DateOnly,
  method: Type.String(),
  recipientsCount: Nullable(Type.Integer()),
  recordedBy: Type.String(),
  recordedAt: DateTime,
});
export const BreachViewSchema = Type.Object({
  assessment: Nullable(AssessmentSchema),
  deadlines: Type.Array(DeadlineSchema),
  notices: Type.Array(NoticeRecordSchema),
  missingNoticeElements: Type.Array(Type.String()),
});
export const NoticeBody = Type.Object(
  {
    recipient: literals(['individuals', 'hhs', 'media', 'covered_entity']),
    jurisdiction: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
    sentOn: DateOnly,
    method: Type.String({ minLength: 1, maxLength: 200 }),
    recipientsCount: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  },
  { additionalProperties: false },
);
export const LetterSchema = Type.Object({
  subject: Type.String(),
  body: Type.String(),
  placeholders: Type.Array(Type.String()),
  elements: Type.Array(Type.Object({ element: Type.String(), citation: Type.String() })),
});
