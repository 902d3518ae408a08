/** Request and response schemas shared by the compliance routes. */
import { Type, type TProperties } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { ComplianceActor } from '../../compliance/index.js';

export const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const DateString = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
export const NullableDate = Type.Union([DateString, Type.Null()]);
export const DateTime = Type.String({ format: 'date-time' });
export const NullableString = Type.Union([Type.String(), Type.Null()]);
export const Uuid = Type.String({ format: 'uuid' });
export const NullableUuid = Type.Union([Uuid, Type.Null()]);
export const AttributeValue = Type.Union([
  Type.String(),
  Type.Number(),
  Type.Boolean(),
  Type.Null(),
]);
export const Attributes = Type.Record(Type.String(), AttributeValue);

/** An optional reason for a change, kept on the new version and in its audit record. */
export const Reason = Type.Optional(Type.String({ minLength: 1, maxLength: 500 }));

/** The version columns every program record carries (nothing is deleted, only superseded). */
const VersionFields = {
  id: Type.String(),
  version: Type.Integer(),
  versionId: Type.String(),
  createdAt: DateTime,
  changedAt: DateTime,
  changedBy: Type.String(),
  changeReason: NullableString,
  supersededAt: Type.Union([DateTime, Type.Null()]),
};

export function versioned<P extends TProperties>(fields: P) {
  return Type.Object({ ...VersionFields, ...fields });
}

export const AssetSchema = versioned({
  kind: Type.String(),
  name: Type.String(),
  description: Type.String(),
  owner: Type.String(),
  phiClassification: Type.String(),
  vendorId: NullableString,
  attributes: Attributes,
  platformKey: NullableString,
  source: Type.String(),
  status: Type.String(),
});

export const FlowSchema = versioned({
  name: Type.String(),
  sourceAssetId: Type.String(),
  destinationAssetId: Type.String(),
  phiCategories: Type.Array(Type.String()),
  transport: Type.String(),
  encryption: Type.String(),
  vendorId: NullableString,
  description: Type.String(),
  platformKey: NullableString,
  source: Type.String(),
  status: Type.String(),
});

export const VendorSchema = versioned({
  name: Type.String(),
  services: Type.String(),
  contact: Type.String(),
  riskRating: Type.String(),
  phiAccess: Type.Boolean(),
  status: Type.String(),
});

export const QuestionnaireSchema = versioned({
  vendorId: Type.String(),
  title: Type.String(),
  sentOn: Type.String(),
  receivedOn: NullableString,
  status: Type.String(),
  score: Type.Union([Type.Integer(), Type.Null()]),
  summary: Type.String(),
});

export const RemediationSchema = versioned({
  vendorId: Type.String(),
  questionnaireId: NullableString,
  title: Type.String(),
  owner: Type.String(),
  dueDate: Type.String(),
  status: Type.String(),
  notes: Type.String(),
});

export const BaaSchema = versioned({
  vendorId: Type.String(),
  parties: Type.Array(Type.String()),
  effectiveDate: Type.String(),
  expiryDate: NullableString,
  permittedUses: Type.String(),
  breachNoticeDays: Type.Integer(),
  subcontractorFlowDown: Type.Boolean(),
  auditRights: Type.Boolean(),
  returnDestruction: Type.String(),
  status: Type.String(),
  documentId: NullableString,
  documentSha256: NullableString,
});

export const IntegrationSchema = versioned({
  kind: Type.String(),
  name: Type.String(),
  ref: Type.String(),
  vendorId: NullableString,
  assetId: NullableString,
  sendsPhi: Type.Boolean(),
  status: Type.String(),
  statusReason: NullableString,
  platformKey: NullableString,
});

/** Dates become ISO strings: the response schemas see plain JSON. */
export function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** The signed-in person as the actor of a compliance change. */
export function actorOf(request: FastifyRequest): ComplianceActor {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return { kind: 'user', userId: p.userId, sessionId: p.sessionId, requestId: request.id };
}

export function tenantOf(
  request: FastifyRequest,
): NonNullable<FastifyRequest['principal']>['tenantId'] {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return p.tenantId;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (RFC 4648 §4) to bytes; `validation_failed` naming `field` otherwise. */
export function base64Bytes(value: string, field: string): Buffer {
  if (!BASE64_RE.test(value)) {
    throw new AppError('validation_failed', 'not base64', { detail: field });
  }
  return Buffer.from(value, 'base64');
}

export const DocumentBody = Type.Object(
  {
    contentBase64: Type.String({ minLength: 4, maxLength: 12_000_000 }),
    mediaType: Type.String({ pattern: '^[a-z]+/[a-z0-9.+-]{1,100}$' }),
  },
  { additionalProperties: false },
);

export const ReasonBody = Type.Object({ reason: Reason }, { additionalProperties: false });

/** The `:id` path parameter of a route. */
export const idParam = (request: { params: unknown }): string =>
  (request.params as { id: string }).id;

/** The optional `reason` of a change body. */
export const reasonOf = (request: { body: unknown }): string | undefined =>
  (request.body as { reason?: string } | undefined)?.reason;
