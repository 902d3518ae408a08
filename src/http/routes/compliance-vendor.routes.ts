/**
 * Vendors (potential business associates, 45 CFR 164.308(b)(1)) with their risk ratings, the
 * security questionnaires sent to them, and the remediation items that follow.
 */
import { Type } from '@sinclair/typebox';
import {
  RISK_RATINGS,
  type Compliance,
  type QuestionnaireInput,
  type RemediationInput,
  type VendorInput,
} from '../../compliance/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  actorOf,
  DateString,
  idParam as id,
  IdParams,
  NullableDate,
  NullableUuid,
  QuestionnaireSchema,
  Reason,
  ReasonBody,
  reasonOf,
  RemediationSchema,
  tenantOf,
  toJson,
  VendorSchema,
} from './compliance.schemas.js';

const VendorBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    services: Type.String({ maxLength: 2000, default: '' }),
    contact: Type.String({ maxLength: 500, default: '' }),
    riskRating: Type.Union(RISK_RATINGS.map((r) => Type.Literal(r))),
    phiAccess: Type.Boolean(),
    reason: Reason,
  },
  { additionalProperties: false },
);

const QuestionnaireBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    sentOn: DateString,
    receivedOn: Type.Optional(NullableDate),
    status: Type.Union([Type.Literal('sent'), Type.Literal('received'), Type.Literal('reviewed')]),
    score: Type.Optional(Type.Union([Type.Integer({ minimum: 0, maximum: 100 }), Type.Null()])),
    summary: Type.String({ maxLength: 4000, default: '' }),
    reason: Reason,
  },
  { additionalProperties: false },
);

const RemediationBody = Type.Object(
  {
    questionnaireId: Type.Optional(NullableUuid),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    owner: Type.String({ minLength: 1, maxLength: 200 }),
    dueDate: DateString,
    status: Type.Union([
      Type.Literal('open'),
      Type.Literal('in_progress'),
      Type.Literal('done'),
      Type.Literal('risk_accepted'),
    ]),
    notes: Type.String({ maxLength: 4000, default: '' }),
    reason: Reason,
  },
  { additionalProperties: false },
);

export function complianceVendorRoutes(c: Compliance): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/vendors',
      permission: 'compliance.read',
      summary: 'Vendors with their risk ratings',
      tags: ['compliance'],
      schema: { response: { 200: Type.Object({ vendors: Type.Array(VendorSchema) }) } },
      handler: async (request) =>
        toJson({ vendors: await c.vendors.list(tenantOf(request), true) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/vendors',
      permission: 'compliance.manage',
      summary: 'Add a vendor',
      tags: ['compliance'],
      schema: { body: VendorBody, response: { 201: VendorSchema } },
      handler: async (request, reply) => {
        const v = await c.vendors.create(
          tenantOf(request),
          request.body as VendorInput,
          actorOf(request),
        );
        void reply.code(201);
        return toJson(v);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/vendors/:id',
      permission: 'compliance.manage',
      summary: 'Change a vendor (a new version)',
      tags: ['compliance'],
      schema: { params: IdParams, body: VendorBody, response: { 200: VendorSchema } },
      handler: async (request) =>
        toJson(
          await c.vendors.update(
            tenantOf(request),
            id(request),
            request.body as VendorInput,
            actorOf(request),
            reasonOf(request),
          ),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/vendors/:id/retire',
      permission: 'compliance.manage',
      summary: 'Retire a vendor without live integrations (kept on record)',
      tags: ['compliance'],
      schema: { params: IdParams, body: ReasonBody, response: { 200: VendorSchema } },
      handler: async (request) =>
        toJson(
          await c.vendors.retire(
            tenantOf(request),
            id(request),
            actorOf(request),
            reasonOf(request),
          ),
        ),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/vendors/:id/history',
      permission: 'compliance.read',
      summary: 'Every version of a vendor',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ versions: Type.Array(VendorSchema) }) },
      },
      handler: async (request) =>
        toJson({ versions: await c.vendors.history(tenantOf(request), id(request)) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/questionnaires',
      permission: 'compliance.read',
      summary: 'Security questionnaires sent to vendors',
      tags: ['compliance'],
      schema: {
        response: { 200: Type.Object({ questionnaires: Type.Array(QuestionnaireSchema) }) },
      },
      handler: async (request) =>
        toJson({ questionnaires: await c.vendors.questionnaires(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/vendors/:id/questionnaires',
      permission: 'compliance.manage',
      summary: "Record a vendor's security questionnaire",
      tags: ['compliance'],
      schema: { params: IdParams, body: QuestionnaireBody, response: { 201: QuestionnaireSchema } },
      handler: async (request, reply) => {
        const q = await c.vendors.addQuestionnaire(
          tenantOf(request),
          id(request),
          request.body as QuestionnaireInput,
          actorOf(request),
        );
        void reply.code(201);
        return toJson(q);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/questionnaires/:id',
      permission: 'compliance.manage',
      summary: 'Change a questionnaire (received, reviewed, scored)',
      tags: ['compliance'],
      schema: { params: IdParams, body: QuestionnaireBody, response: { 200: QuestionnaireSchema } },
      handler: async (request) =>
        toJson(
          await c.vendors.updateQuestionnaire(
            tenantOf(request),
            id(request),
            request.body as QuestionnaireInput,
            actorOf(request),
            reasonOf(request),
          ),
        ),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/remediation-items',
      permission: 'compliance.read',
      summary: 'Vendor remediation items with owners and due dates',
      tags: ['compliance'],
      schema: { response: { 200: Type.Object({ items: Type.Array(RemediationSchema) }) } },
      handler: async (request) =>
        toJson({ items: await c.vendors.remediationItems(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/vendors/:id/remediation-items',
      permission: 'compliance.manage',
      summary: 'Add a remediation item for a vendor',
      tags: ['compliance'],
      schema: { params: IdParams, body: RemediationBody, response: { 201: RemediationSchema } },
      handler: async (request, reply) => {
        const r = await c.vendors.addRemediation(
          tenantOf(request),
          id(request),
          request.body as RemediationInput,
          actorOf(request),
        );
        void reply.code(201);
        return toJson(r);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/remediation-items/:id',
      permission: 'compliance.manage',
      summary: 'Change a remediation item',
      tags: ['compliance'],
      schema: { params: IdParams, body: RemediationBody, response: { 200: RemediationSchema } },
      handler: async (request) =>
        toJson(
          await c.vendors.updateRemediation(
            tenantOf(request),
            id(request),
            request.body as RemediationInput,
            actorOf(request),
            reasonOf(request),
          ),
        ),
    }),
  ];
}
