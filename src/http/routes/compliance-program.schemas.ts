/**
 * Request and response schemas of the compliance-program API. Responses list every field they
 * carry; anything else a service returns is stripped on the way out.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import {
  CONTAINMENT_ACTIONS,
  INCIDENT_CATEGORIES,
  INCIDENT_ROLES,
  INCIDENT_STATUSES,
  PLAYBOOK_PHASES,
  RISK_STATUSES,
  SEVERITIES,
  TIMELINE_KINDS,
  TREATMENTS,
} from '../../compliance/program.js';

export const literals = (values: readonly string[]) =>
  Type.Union(values.map((v) => Type.Literal(v)));
export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const DateOnly = Type.String({ format: 'date' });
export const DateTime = Type.String({ format: 'date-time' });
export const Id = Type.String({ format: 'uuid' });
export const Reason = Type.String({ minLength: 1, maxLength: 1000 });
export const BaseVersion = Type.Integer({ minimum: 0 });
export const Detail = Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]);

export const IdParams = Type.Object({ id: Id });
export const Ok = (props: Record<string, TSchema>) => Type.Object(props);

// Risk register ---------------------------------------------------------------------------------

const RiskFields = {
  title: Type.String({ minLength: 1, maxLength: 200 }),
  assetRefs: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
    maxItems: 50,
    description:
      'Ids of active assets of the inventory (GET /api/v1/compliance/inventory); a change to ' +
      'one of them opens a reassessment of the risk. Anything else: 400 naming assetRefs.',
  }),
  threat: Type.String({ minLength: 1, maxLength: 2000 }),
  vulnerability: Type.String({ minLength: 1, maxLength: 2000 }),
  likelihood: Type.Integer({ minimum: 1, maximum: 5 }),
  impact: Type.Integer({ minimum: 1, maximum: 5 }),
  residualLikelihood: Type.Integer({ minimum: 1, maximum: 5 }),
  residualImpact: Type.Integer({ minimum: 1, maximum: 5 }),
  ownerId: Id,
  treatment: literals(TREATMENTS),
  controlIds: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 50 }),
  acceptanceCriteria: Type.String({ maxLength: 2000 }),
  dueDate: Nullable(DateOnly),
  status: literals(RISK_STATUSES),
};

export const NewRiskBody = Type.Object(
  { ...RiskFields, reason: Type.Optional(Reason) },
  { additionalProperties: false },
);
export const RiskRevisionBody = Type.Object(
  { ...RiskFields, baseVersion: BaseVersion, reason: Reason },
  { additionalProperties: false },
);

export const RiskSchema = Type.Object({
  riskId: Type.String(),
  version: Type.Integer(),
  ...RiskFields,
  ownerId: Type.String(),
  inherentScore: Type.Integer(),
  residualScore: Type.Integer(),
  reason: Type.String(),
  taskId: Nullable(Type.String()),
  changedBy: Type.String(),
  changedAt: DateTime,
});

export const TaskSchema = Type.Object({
  id: Type.String(),
  riskId: Type.String(),
  assetRef: Type.String(),
  cause: Type.String(),
  openedAt: DateTime,
  dueDate: DateOnly,
  status: Type.String(),
  completedBy: Nullable(Type.String()),
  completedAt: Nullable(DateTime),
  riskVersion: Nullable(Type.Integer()),
});

const HeatMap = Type.Array(Type.Array(Type.Integer()));
const ReportRisk = Type.Object({
  riskId: Type.String(),
  title: Type.String(),
  ownerId: Type.String(),
  assetRefs: Type.Array(Type.String()),
  inherentScore: Type.Integer(),
  residualScore: Type.Integer(),
  treatment: Type.String(),
  status: Type.String(),
  dueDate: Nullable(DateOnly),
  daysOverdue: Type.Integer(),
  version: Type.Integer(),
});
export const RiskReportSchema = Type.Object({
  generatedAt: DateTime,
  asOf: DateOnly,
  organisation: Type.String(),
  totals: Type.Object({
    risks: Type.Integer(),
    active: Type.Integer(),
    byStatus: Type.Record(Type.String(), Type.Integer()),
    byTreatment: Type.Record(Type.String(), Type.Integer()),
    overdue: Type.Integer(),
    openReassessments: Type.Integer(),
    overdueReassessments: Type.Integer(),
  }),
  heatMap: Type.Object({ inherent: HeatMap, residual: HeatMap }),
  topRisks: Type.Array(ReportRisk),
  overdue: Type.Array(ReportRisk),
  reassessments: Type.Array(Type.Object({ ...TaskSchema.properties, daysOverdue: Type.Integer() })),
});

// Incidents -------------------------------------------------------------------------------------

const Roles = Type.Partial(
  Type.Object(Object.fromEntries(INCIDENT_ROLES.map((r) => [r, Id])), {
    additionalProperties: false,
  }),
);

export const NewIncidentBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    summary: Type.String({ maxLength: 4000 }),
    category: literals(INCIDENT_CATEGORIES),
    severity: literals(SEVERITIES),
    discoveredAt: DateTime,
    roles: Type.Optional(Roles),
  },
  { additionalProperties: false },
);

export const IncidentUpdateBody = Type.Object(
  {
    baseVersion: BaseVersion,
    reason: Reason,
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    summary: Type.Optional(Type.String({ maxLength: 4000 })),
    severity: Type.Optional(literals(SEVERITIES)),
    status: Type.Optional(literals(INCIDENT_STATUSES)),
    discoveredAt: Type.Optional(DateTime),
    roles: Type.Optional(Roles),
    lessonsLearned: Type.Optional(Type.String({ minLength: 1, maxLength: 8000 })),
  },
  { additionalProperties: false },
);

const IncidentVersionSchema = Type.Object({
  version: Type.Integer(),
  title: Type.String(),
  summary: Type.String(),
  severity: Type.String(),
  status: Type.String(),
  discoveredAt: DateTime,
  roles: Type.Record(Type.String(), Type.String()),
  lessonsLearned: Nullable(Type.String()),
  reason: Type.String(),
  changedBy: Type.String(),
  changedAt: DateTime,
});

export const TimelineEntrySchema = Type.Object({
  id: Type.String(),
  entry: Type.Integer(),
  at: DateTime,
  kind: literals(TIMELINE_KINDS),
  actorUserId: Nullable(Type.String()),
  text: Nullable(Type.String()),
  details: Type.Record(Type.String(), Detail),
});

const PlaybookItemSchema = Type.Object({
  key: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
  phase: literals(PLAYBOOK_PHASES),
  text: Type.String({ minLength: 1, maxLength: 500 }),
});

export const ChecklistItemSchema = Type.Object({
  ...PlaybookItemSchema.properties,
  done: Type.Boolean(),
  by: Nullable(Type.String()),
  at: Nullable(DateTime),
});

export const IncidentSummarySchema = Type.Object({
  id: Type.String(),
  category: Type.String(),
  playbookVersion: Type.Integer(),
  createdBy: Type.String(),
  createdAt: DateTime,
  current: IncidentVersionSchema,
  checklist: Type.Object({ total: Type.Integer(), done: Type.Integer() }),
});

export const IncidentDetailSchema = Type.Object({
  ...IncidentSummarySchema.properties,
  history: Type.Array(IncidentVersionSchema),
  checklistItems: Type.Array(ChecklistItemSchema),
  timeline: Type.Array(TimelineEntrySchema),
  evidence: Type.Array(
    Type.Object({
      id: Type.String(),
      fromSeq: Type.Integer(),
      toSeq: Type.Integer(),
      records: Type.Integer(),
      checkpointSize: Type.Integer(),
      createdBy: Type.String(),
      createdAt: DateTime,
    }),
  ),
});

export const ContainmentBody = Type.Object(
  {
    action: literals(CONTAINMENT_ACTIONS),
    userId: Type.Optional(Id),
    integrationId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'For suspend_integration: the id of the integration to suspend, as listed by GET ' +
          '/api/v1/compliance/integrations (404 when this tenant has no such integration).',
      }),
    ),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export const ContainmentResultSchema = Type.Object({
  action: Type.String(),
  target: Type.String(),
  endedSessions: Nullable(Type.Integer()),
  keyRequestId: Nullable(Type.String()),
  entry: TimelineEntrySchema,
});

export const EvidenceBody = Type.Object(
  {
    fromSeq: Type.Integer({ minimum: 0 }),
    toSeq: Type.Integer({ minimum: 1 }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
  },
  { additionalProperties: false },
);

const InclusionBundle = Type.Object({
  type: Type.String(),
  version: Type.Integer(),
  origin: Type.String(),
  leafIndex: Type.Integer(),
  treeSize: Type.Integer(),
  leafHash: Type.Optional(Type.String()),
  leaf: Type.Optional(Type.String()),
  proof: Type.Array(Type.String()),
  checkpoint: Type.String(),
});

export const EvidenceSchema = Type.Object({
  id: Type.String(),
  incidentId: Type.String(),
  fromSeq: Type.Integer(),
  toSeq: Type.Integer(),
  records: Type.Integer(),
  checkpointSize: Type.Integer(),
  checkpoint: Type.String(),
  proofs: Type.Array(InclusionBundle),
  note: Nullable(Type.String()),
  createdBy: Type.String(),
  createdAt: DateTime,
});

export const PlaybookSchema = Type.Object({
  category: Type.String(),
  version: Type.Integer(),
  items: Type.Array(PlaybookItemSchema),
  reason: Nullable(Type.String()),
  changedBy: Nullable(Type.String()),
  changedAt: Nullable(DateTime),
});

export const PlaybookBody = Type.Object(
  {
    baseVersion: BaseVersion,
    items: Type.Array(PlaybookItemSchema, { minItems: 1, maxItems: 50 }),
    reason: Reason,
  },
  { additionalProperties: false },
);

const TabletopFields = {
  heldOn: DateOnly,
  title: Type.String({ minLength: 1, maxLength: 200 }),
  category: literals(INCIDENT_CATEGORIES),
  scenario: Type.String({ minLength: 1, maxLength: 8000 }),
  participants: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: 100 }),
  findings: Type.String({ maxLength: 8000 }),
  actionItems: Type.Array(
    Type.Object(
      {
        text: Type.String({ minLength: 1, maxLength: 1000 }),
        ownerId: Nullable(Id),
        dueDate: Nullable(DateOnly),
      },
      { additionalProperties: false },
    ),
    { maxItems: 100 },
  ),
};
export const TabletopBody = Type.Object(TabletopFields, { additionalProperties: false });
export const TabletopRevisionBody = Type.Object(
  { ...TabletopFields, baseVersion: BaseVersion, reason: Reason },
  { additionalProperties: false },
);
export const TabletopSchema = Type.Object({
  id: Type.String(),
  version: Type.Integer(),
  ...TabletopFields,
  category: Type.String(),
  actionItems: Type.Array(
    Type.Object({
      text: Type.String(),
      ownerId: Nullable(Type.String()),
      dueDate: Nullable(DateOnly),
    }),
  ),
  reason: Type.String(),
  changedBy: Type.String(),
  changedAt: DateTime,
});
