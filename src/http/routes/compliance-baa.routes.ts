/**
 * Business Associate Agreements with their signed documents, the BAA policy and check, and the
 * integrations the BAA gate guards (45 CFR 164.308(b), 164.314(a)). Enabling an integration that
 * sends PHI without a BAA in force answers 409 problem+json whose `detail` says why.
 */
import { Type } from '@sinclair/typebox';
import {
  INTEGRATION_KINDS,
  type BaaInput,
  type Compliance,
  type IntegrationInput,
} from '../../compliance/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  actorOf,
  BaaSchema,
  base64Bytes,
  DateString,
  DocumentBody,
  idParam as id,
  IdParams,
  IntegrationSchema,
  NullableDate,
  NullableUuid,
  Reason,
  ReasonBody,
  reasonOf,
  tenantOf,
  toJson,
  Uuid,
} from './compliance.schemas.js';

const BaaTerms = {
  parties: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { minItems: 2, maxItems: 10 }),
  effectiveDate: DateString,
  expiryDate: NullableDate,
  permittedUses: Type.String({ minLength: 1, maxLength: 4000 }),
  breachNoticeDays: Type.Integer({ minimum: 1, maximum: 60 }),
  subcontractorFlowDown: Type.Boolean(),
  auditRights: Type.Boolean(),
  returnDestruction: Type.String({ minLength: 1, maxLength: 2000 }),
};

const BaaCreateBody = Type.Object(
  { vendorId: Uuid, ...BaaTerms, document: Type.Optional(DocumentBody) },
  { additionalProperties: false },
);
const BaaUpdateBody = Type.Object({ ...BaaTerms, reason: Reason }, { additionalProperties: false });

const IntegrationBody = Type.Object(
  {
    kind: Type.Union(INTEGRATION_KINDS.map((k) => Type.Literal(k))),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    ref: Type.String({ minLength: 1, maxLength: 500 }),
    vendorId: NullableUuid,
    assetId: Type.Optional(NullableUuid),
    sendsPhi: Type.Boolean(),
    reason: Reason,
  },
  { additionalProperties: false },
);

const RequiredReasonBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500 }) },
  { additionalProperties: false },
);

const PolicySchema = Type.Object({
  warnDays: Type.Array(Type.Integer({ minimum: 1, maximum: 365 }), { minItems: 1, maxItems: 5 }),
  suspendOnExpiry: Type.Boolean(),
});

function baaRoutes(c: Compliance): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/baas',
      permission: 'compliance.read',
      summary: 'Business associate agreements (terms and document digests)',
      tags: ['compliance'],
      schema: { response: { 200: Type.Object({ baas: Type.Array(BaaSchema) }) } },
      handler: async (request) => toJson({ baas: await c.baas.list(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/baas',
      permission: 'compliance.manage',
      summary: 'Record a BAA, optionally with its signed document (base64)',
      tags: ['compliance'],
      schema: { body: BaaCreateBody, response: { 201: BaaSchema } },
      handler: async (request, reply) => {
        const body = request.body as BaaInput & {
          document?: { contentBase64: string; mediaType: string };
        };
        const { document, ...terms } = body;
        const baa = await c.baas.create(
          tenantOf(request),
          terms,
          actorOf(request),
          document === undefined
            ? undefined
            : {
                bytes: base64Bytes(document.contentBase64, 'document.contentBase64'),
                mediaType: document.mediaType,
              },
        );
        void reply.code(201);
        return toJson(baa);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/baas/:id',
      permission: 'compliance.manage',
      summary: "Change a BAA's terms (a renewal moves its expiry date)",
      tags: ['compliance'],
      schema: { params: IdParams, body: BaaUpdateBody, response: { 200: BaaSchema } },
      handler: async (request) => {
        const { reason, ...terms } = request.body as Omit<BaaInput, 'vendorId'> & {
          reason?: string;
        };
        return toJson(
          await c.baas.update(tenantOf(request), id(request), terms, actorOf(request), reason),
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/baas/:id/terminate',
      permission: 'compliance.manage',
      summary: 'Terminate a BAA (kept on record)',
      tags: ['compliance'],
      schema: { params: IdParams, body: ReasonBody, response: { 200: BaaSchema } },
      handler: async (request) =>
        toJson(
          await c.baas.terminate(
            tenantOf(request),
            id(request),
            actorOf(request),
            reasonOf(request),
          ),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/baas/:id/document',
      permission: 'compliance.manage',
      summary: 'Attach the signed document (stored encrypted; its SHA-256 recorded)',
      tags: ['compliance'],
      schema: { params: IdParams, body: DocumentBody, response: { 200: BaaSchema } },
      handler: async (request) => {
        const body = request.body as { contentBase64: string; mediaType: string };
        return toJson(
          await c.baas.attachDocument(
            tenantOf(request),
            id(request),
            { bytes: base64Bytes(body.contentBase64, 'contentBase64'), mediaType: body.mediaType },
            actorOf(request),
          ),
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/baas/:id/document',
      permission: 'compliance.read',
      summary: 'The signed document, decrypted and checked against its SHA-256 (audited)',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: {
          200: Type.Object({
            mediaType: Type.String(),
            byteLength: Type.Integer(),
            sha256: Type.String(),
            contentBase64: Type.String(),
          }),
        },
      },
      handler: async (request) => {
        const doc = await c.baas.readDocument(tenantOf(request), id(request), actorOf(request));
        return {
          mediaType: doc.mediaType,
          byteLength: doc.byteLength,
          sha256: doc.sha256,
          contentBase64: doc.bytes.toString('base64'),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/baas/:id/history',
      permission: 'compliance.read',
      summary: 'Every version of a BAA',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ versions: Type.Array(BaaSchema) }) },
      },
      handler: async (request) =>
        toJson({ versions: await c.baas.history(tenantOf(request), id(request)) }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/baa-policy',
      permission: 'compliance.read',
      summary: 'When BAA expiry alerts fire and whether expiry suspends integrations',
      tags: ['compliance'],
      schema: { response: { 200: PolicySchema } },
      handler: async (request) => c.baaPolicy(tenantOf(request)),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/baa-policy',
      permission: 'compliance.manage',
      summary: 'Set the BAA policy',
      tags: ['compliance'],
      schema: {
        body: Type.Object(
          {
            warnDays: Type.Array(Type.Integer({ minimum: 1, maximum: 365 }), {
              minItems: 1,
              maxItems: 5,
            }),
            suspendOnExpiry: Type.Boolean(),
          },
          { additionalProperties: false },
        ),
        response: { 200: PolicySchema },
      },
      handler: async (request) =>
        c.setBaaPolicy(
          tenantOf(request),
          request.body as { warnDays: number[]; suspendOnExpiry: boolean },
          actorOf(request),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/baa-checks/run',
      permission: 'compliance.manage',
      summary: 'Run the BAA expiry check now (alerts; suspensions by policy)',
      tags: ['compliance'],
      schema: {
        response: {
          200: Type.Object({
            checked: Type.Integer(),
            alerts: Type.Array(
              Type.Object({
                id: Type.String(),
                severity: Type.String(),
                subject: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
            suspended: Type.Array(IntegrationSchema),
          }),
        },
      },
      handler: async (request) => toJson(await c.runBaaChecks(tenantOf(request))),
    }),
  ];
}

function integrationRoutes(c: Compliance): RouteDef[] {
  const statusRoute = (
    verb: 'enable' | 'disable' | 'suspend' | 'retire',
    summary: string,
  ): RouteDef =>
    defineRoute({
      method: 'POST',
      url: `/api/v1/compliance/integrations/:id/${verb}`,
      permission: 'compliance.manage',
      summary,
      tags: ['compliance'],
      schema: {
        params: IdParams,
        body: verb === 'suspend' ? RequiredReasonBody : ReasonBody,
        response: { 200: IntegrationSchema },
      },
      handler: async (request) => {
        const t = tenantOf(request);
        const a = actorOf(request);
        const reason = reasonOf(request);
        switch (verb) {
          case 'enable':
            return toJson(await c.integrations.enable(t, id(request), a));
          case 'disable':
            return toJson(await c.integrations.disable(t, id(request), a, reason));
          case 'suspend':
            return toJson(await c.integrations.suspend(t, id(request), a, reason ?? ''));
          case 'retire':
            return toJson(await c.integrations.retire(t, id(request), a, reason));
        }
      },
    });
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/integrations',
      permission: 'compliance.read',
      summary: 'Integrations that send data to vendors, with their gate status',
      tags: ['compliance'],
      schema: { response: { 200: Type.Object({ integrations: Type.Array(IntegrationSchema) }) } },
      handler: async (request) =>
        toJson({ integrations: await c.integrations.list(tenantOf(request), true) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/compliance/integrations',
      permission: 'compliance.manage',
      summary: 'Register an integration (disabled until enabled through the BAA gate)',
      tags: ['compliance'],
      schema: { body: IntegrationBody, response: { 201: IntegrationSchema } },
      handler: async (request, reply) => {
        const i = await c.integrations.create(
          tenantOf(request),
          request.body as IntegrationInput,
          actorOf(request),
        );
        void reply.code(201);
        return toJson(i);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/compliance/integrations/:id',
      permission: 'compliance.manage',
      summary: 'Change an integration (refused if enabled and it would send PHI without a BAA)',
      tags: ['compliance'],
      schema: { params: IdParams, body: IntegrationBody, response: { 200: IntegrationSchema } },
      handler: async (request) =>
        toJson(
          await c.integrations.update(
            tenantOf(request),
            id(request),
            request.body as IntegrationInput,
            actorOf(request),
            reasonOf(request),
          ),
        ),
    }),
    statusRoute(
      'enable',
      'Enable an integration: one that sends PHI needs a BAA in force (409 otherwise)',
    ),
    statusRoute('disable', 'Disable an integration'),
    statusRoute('suspend', 'Suspend an integration (e.g. incident containment)'),
    statusRoute('retire', 'Retire an integration (kept on record)'),
    defineRoute({
      method: 'GET',
      url: '/api/v1/compliance/integrations/:id/history',
      permission: 'compliance.read',
      summary: 'Every version of an integration',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ versions: Type.Array(IntegrationSchema) }) },
      },
      handler: async (request) =>
        toJson({ versions: await c.integrations.history(tenantOf(request), id(request)) }),
    }),
  ];
}

/** BAAs, the BAA policy and check, and integrations. */
export function complianceBaaRoutes(c: Compliance): RouteDef[] {
  return [...baaRoutes(c), ...integrationRoutes(c)];
}
