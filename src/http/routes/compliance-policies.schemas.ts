/** Request and response schemas of the policy and training routes (45 CFR 164.316, 164.308(a)(5)). */
import { Type } from '@sinclair/typebox';
import { REVIEW_OUTCOMES } from '../../compliance/program.js';
import {
  BaseVersion,
  DateOnly,
  DateTime,
  Id,
  Nullable,
  Reason,
  literals,
} from './compliance-program.schemas.js';

// Policies and training -------------------------------------------------------------------------

const PolicyContentFields = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  body: Type.String({ minLength: 1, maxLength: 200_000 }),
  effectiveDate: DateOnly,
  reviewCycleMonths: Type.Integer({ minimum: 1, maximum: 36 }),
  acknowledgementDays: Type.Integer({ minimum: 1, maximum: 365, default: 30 }),
};
export const NewPolicyBody = Type.Object(
  { key: Type.String({ pattern: '^[a-z][a-z0-9_-]{1,63}$' }), ...PolicyContentFields },
  { additionalProperties: false },
);
export const PolicyRevisionBody = Type.Object(
  { ...PolicyContentFields, baseVersion: BaseVersion, reason: Reason },
  { additionalProperties: false },
);
export const PolicyReviewBody = Type.Object(
  {
    outcome: literals(REVIEW_OUTCOMES),
    note: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 2000 }))),
    reviewedOn: Type.Optional(DateOnly),
  },
  { additionalProperties: false },
);
const PolicyVersionSchema = Type.Object({
  version: Type.Integer(),
  title: Type.String(),
  bodySha256: Type.String(),
  authorId: Type.String(),
  effectiveDate: DateOnly,
  reviewCycleMonths: Type.Integer(),
  acknowledgementDays: Type.Integer(),
  reason: Type.String(),
  createdAt: DateTime,
  approvedBy: Nullable(Type.String()),
  approvedAt: Nullable(DateTime),
});
export const PolicySummarySchema = Type.Object({
  id: Type.String(),
  key: Type.String(),
  createdBy: Type.String(),
  createdAt: DateTime,
  latest: PolicyVersionSchema,
  effective: Nullable(PolicyVersionSchema),
  nextReview: Nullable(DateOnly),
  reviewDue: Type.Boolean(),
  acknowledgements: Nullable(
    Type.Object({ required: Type.Integer(), acknowledged: Type.Integer() }),
  ),
});
export const PolicyDetailSchema = Type.Object({
  ...PolicySummarySchema.properties,
  versions: Type.Array(Type.Object({ ...PolicyVersionSchema.properties, body: Type.String() })),
  reviews: Type.Array(
    Type.Object({
      id: Type.String(),
      version: Type.Integer(),
      reviewedBy: Type.String(),
      reviewedOn: DateOnly,
      outcome: Type.String(),
      note: Nullable(Type.String()),
      nextReview: DateOnly,
    }),
  ),
  missingAcknowledgements: Type.Array(Type.String()),
});
export const MyPolicySchema = Type.Object({
  policyId: Type.String(),
  key: Type.String(),
  version: Type.Integer(),
  title: Type.String(),
  body: Type.String(),
  effectiveDate: DateOnly,
  acknowledgeBy: DateOnly,
  acknowledgedAt: Nullable(DateTime),
});

export const TrainingBody = Type.Object(
  {
    userId: Id,
    course: Type.String({ pattern: '^[a-z][a-z0-9_.-]{1,63}$' }),
    completedOn: DateOnly,
    expiresOn: Nullable(DateOnly),
    evidenceRef: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 500 }))),
    supersedes: Type.Optional(Nullable(Id)),
  },
  { additionalProperties: false },
);
export const TrainingSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  course: Type.String(),
  completedOn: DateOnly,
  expiresOn: Nullable(DateOnly),
  evidenceRef: Nullable(Type.String()),
  supersedes: Nullable(Type.String()),
  recordedBy: Type.String(),
  recordedAt: DateTime,
  state: Type.String(),
});
