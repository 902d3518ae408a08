import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { KeyAdmin, KeyRequest } from '../../crypto/key-admin.js';
import type { SigningKeyService } from '../../crypto/signing-keys.js';
import { defineRoute, type RouteDef } from '../route.js';

const Jwk = Type.Object({
  kty: Type.Literal('EC'),
  crv: Type.Literal('P-256'),
  x: Type.String(),
  y: Type.String(),
  kid: Type.String(),
  use: Type.Literal('sig'),
  alg: Type.Literal('ES256'),
});

const KeyRequestSchema = Type.Object({
  id: Type.String(),
  operation: Type.String(),
  params: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number()])),
  requestedBy: Type.String(),
  requestedAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.String({ format: 'date-time' }),
  status: Type.String(),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.Union([Type.String(), Type.Null()]),
});

function actor(request: FastifyRequest): string {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return p.userId;
}

function present(r: KeyRequest): Record<string, unknown> {
  return { ...r, requestedAt: r.requestedAt.toISOString(), expiresAt: r.expiresAt.toISOString() };
}

/** The JWKS (RFC 7517) and dual-controlled key administration (45 CFR 164.312(a)(2)(iv)). */
export function keyRoutes(signing: SigningKeyService, admin: KeyAdmin): RouteDef[] {
  const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
  return [
    defineRoute({
      method: 'GET',
      url: '/.well-known/jwks.json',
      permission: 'public',
      summary: 'Public signing keys (prescriptions, audit checkpoints)',
      tags: ['keys'],
      schema: { response: { 200: Type.Object({ keys: Type.Array(Jwk) }) } },
      handler: async (_request, reply) => {
        void reply.header('Cache-Control', 'public, max-age=300');
        return signing.jwks();
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/keys/status',
      permission: 'keys.admin',
      summary: 'Key versions, ages and rotation warnings',
      tags: ['keys'],
      schema: {
        response: {
          200: Type.Object({
            kekVersion: Type.Integer(),
            providerKind: Type.String(),
            maxKeyAgeDays: Type.Integer(),
            warnings: Type.Array(Type.String()),
            tenants: Type.Array(
              Type.Object({
                tenantId: Type.String(),
                keys: Type.Array(
                  Type.Object({
                    purpose: Type.String(),
                    version: Type.Integer(),
                    status: Type.String(),
                    kekVersion: Type.Union([Type.Integer(), Type.Null()]),
                    ageDays: Type.Integer(),
                    rows: Type.Integer(),
                  }),
                ),
                warnings: Type.Array(Type.String()),
              }),
            ),
          }),
        },
      },
      handler: async () => {
        const s = await admin.status();
        return { ...s, providerKind: s.provider.kind };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/keys/requests',
      permission: 'keys.admin',
      summary: 'Dual-control key requests',
      tags: ['keys'],
      schema: { response: { 200: Type.Object({ requests: Type.Array(KeyRequestSchema) }) } },
      handler: async () => ({ requests: (await admin.list()).map(present) }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/keys/requests',
      permission: 'keys.admin',
      stepUp: 'key.operation',
      summary: 'Request a dual-controlled key operation (a second administrator approves)',
      tags: ['keys'],
      schema: {
        // One object, not a union: ajv's removeAdditional would strip fields while trying branches.
        body: Type.Object(
          {
            operation: Type.Union([
              Type.Literal('rotate_kek'),
              Type.Literal('destroy_kek_version'),
              Type.Literal('shred_tenant'),
            ]),
            version: Type.Optional(Type.Integer({ minimum: 1 })),
            tenantId: Type.Optional(Type.String({ format: 'uuid' })),
          },
          { additionalProperties: false },
        ),
        response: { 201: KeyRequestSchema },
      },
      handler: async (request, reply) => {
        const body = request.body as {
          operation: 'rotate_kek' | 'destroy_kek_version' | 'shred_tenant';
          version?: number;
          tenantId?: string;
        };
        const params: Record<string, string | number> = {};
        if (body.version !== undefined) params.version = body.version;
        if (body.tenantId !== undefined) params.tenantId = body.tenantId;
        const created = await admin.request(body.operation, params, actor(request));
        void reply.code(201);
        return present(created);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/keys/requests/:id/approve',
      permission: 'keys.admin',
      stepUp: 'key.operation',
      summary: 'Approve (and execute) another administrator’s key request',
      tags: ['keys'],
      schema: { params: idParams, response: { 200: KeyRequestSchema } },
      handler: async (request) =>
        present(await admin.approve((request.params as { id: string }).id, actor(request))),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/keys/requests/:id/reject',
      permission: 'keys.admin',
      stepUp: 'key.operation',
      summary: 'Reject another administrator’s key request',
      tags: ['keys'],
      schema: { params: idParams, response: { 200: KeyRequestSchema } },
      handler: async (request) =>
        present(await admin.reject((request.params as { id: string }).id, actor(request))),
    }),
  ];
}
