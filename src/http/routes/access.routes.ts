import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { ContextGate } from '../../access/context-gate.js';
import { ContextPolicySchema } from '../../access/context-policy.js';
import { PERMISSIONS } from '../../access/permissions.js';
import { ROLES } from '../../access/role-catalog.js';
import type { AccessCaller, RoleCatalogService } from '../../access/role-catalog.service.js';
import { DEVICE_COOKIE } from '../context-check.js';
import { defineRoute, type RouteDef } from '../route.js';

function accessCaller(request: FastifyRequest): AccessCaller {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return {
    userId: p.userId,
    tenantId: p.tenantId,
    sessionId: p.sessionId,
    requestId: request.id,
    ip: request.ip,
    ...(request.headers['user-agent'] === undefined
      ? {}
      : { userAgent: request.headers['user-agent'] }),
  };
}

const Catalog = Type.Record(
  Type.Union(ROLES.map((r) => Type.Literal(r))),
  Type.Array(Type.Union(PERMISSIONS.map((p) => Type.Literal(p))), { maxItems: PERMISSIONS.length }),
);
const Version = Type.Object({
  id: Type.String({ format: 'uuid' }),
  version: Type.Integer(),
  catalog: Catalog,
  reason: Type.String(),
  status: Type.String(),
  proposedBy: Type.String(),
  proposedAt: Type.String({ format: 'date-time' }),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const IdParams = Type.Object(
  { id: Type.String({ format: 'uuid' }) },
  { additionalProperties: false },
);

function versionOut(
  v: Awaited<ReturnType<RoleCatalogService['propose']>>,
): Record<string, unknown> {
  return {
    ...v,
    proposedAt: v.proposedAt.toISOString(),
    decidedAt: v.decidedAt?.toISOString() ?? null,
  };
}

/**
 * Access administration: the role catalog (two-person changes), the context policy, trusted
 * devices. 45 CFR 164.308(a)(4)(ii)(B)-(C).
 */
export function accessRoutes(roles: RoleCatalogService, gate: ContextGate): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/roles',
      permission: 'user.read',
      summary: 'The role catalog in force (built-in version 0 until a change is approved)',
      tags: ['access'],
      schema: {
        response: {
          200: Type.Object({
            version: Type.Integer(),
            catalog: Catalog,
            permissions: Type.Array(Type.String()),
          }),
        },
      },
      handler: async (request) => {
        const c = await roles.current(accessCaller(request).tenantId);
        return { ...c, permissions: [...PERMISSIONS] };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/roles/versions',
      permission: 'role.admin',
      summary: 'Every proposed, approved and rejected role catalog version',
      tags: ['access'],
      schema: { response: { 200: Type.Object({ versions: Type.Array(Version) }) } },
      handler: async (request) => ({
        versions: (await roles.history(accessCaller(request).tenantId)).map(versionOut),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access/roles/versions',
      permission: 'role.admin',
      stepUp: 'access.roles.change',
      summary: 'Propose a new role catalog (a second administrator approves it)',
      tags: ['access'],
      schema: {
        body: Type.Object(
          { catalog: Catalog, reason: Type.String({ minLength: 1, maxLength: 1000 }) },
          { additionalProperties: false },
        ),
        response: { 201: Version },
      },
      handler: async (request, reply) => {
        const b = request.body as { catalog: Record<string, string[]>; reason: string };
        const v = await roles.propose(accessCaller(request), b.catalog, b.reason);
        void reply.code(201);
        return versionOut(v);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access/roles/versions/:id/decision',
      permission: 'role.admin',
      stepUp: 'access.roles.change',
      summary: 'Approve or reject a proposed role catalog (never your own)',
      tags: ['access'],
      schema: {
        params: IdParams,
        body: Type.Object(
          { decision: Type.Union([Type.Literal('approved'), Type.Literal('rejected')]) },
          { additionalProperties: false },
        ),
        response: { 200: Version },
      },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const { decision } = request.body as { decision: 'approved' | 'rejected' };
        return versionOut(await roles.decide(accessCaller(request), id, decision));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/context-policy',
      permission: 'access.policy',
      summary: 'The context policy in force (networks, device posture, hours per role)',
      tags: ['access'],
      schema: {
        response: {
          200: Type.Object({
            version: Type.Integer(),
            policy: Type.Union([ContextPolicySchema, Type.Null()]),
          }),
        },
      },
      handler: async (request) => {
        const p = await gate.policy(accessCaller(request).tenantId);
        return p === undefined ? { version: 0, policy: null } : p;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/access/context-policy',
      permission: 'access.policy',
      stepUp: 'access.policy.change',
      summary: 'Publish a new context policy version',
      tags: ['access'],
      schema: {
        body: ContextPolicySchema,
        response: { 200: Type.Object({ version: Type.Integer() }) },
      },
      handler: async (request) => ({
        version: await gate.setPolicy(accessCaller(request), request.body),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access/devices',
      permission: 'authenticated',
      stepUp: 'access.device.register',
      context: 'exempt_device',
      summary:
        'Register this browser as a trusted device (sets a device cookie); pending until another user approves it when the device rule denies',
      tags: ['access'],
      schema: {
        body: Type.Object(
          { label: Type.String({ minLength: 1, maxLength: 100 }) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            id: Type.String({ format: 'uuid' }),
            expiresAt: Type.String({ format: 'date-time' }),
            status: Type.Union([Type.Literal('pending'), Type.Literal('trusted')]),
          }),
        },
      },
      handler: async (request, reply) => {
        const { label } = request.body as { label: string };
        const d = await gate.registerDevice(accessCaller(request), label);
        void reply
          .code(201)
          .header(
            'Set-Cookie',
            `${DEVICE_COOKIE}=${d.token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${String(d.maxAgeSeconds)}`,
          )
          .header('Cache-Control', 'no-store');
        return { id: d.id, expiresAt: d.expiresAt.toISOString(), status: d.status };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/devices/pending',
      permission: 'access.policy',
      context: 'exempt_device',
      summary: 'Registered devices nobody has approved yet',
      tags: ['access'],
      schema: {
        response: {
          200: Type.Object({
            devices: Type.Array(
              Type.Object({
                id: Type.String({ format: 'uuid' }),
                userId: Type.String({ format: 'uuid' }),
                label: Type.String(),
                registeredAt: Type.String({ format: 'date-time' }),
                expiresAt: Type.String({ format: 'date-time' }),
              }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const list = await gate.devices.pending(accessCaller(request).tenantId);
        return {
          devices: list.map((d) => ({
            ...d,
            registeredAt: d.registeredAt.toISOString(),
            expiresAt: d.expiresAt.toISOString(),
          })),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access/devices/:id/approve',
      permission: 'access.policy',
      stepUp: 'access.device.approve',
      context: 'exempt_device',
      summary: "Approve another user's pending device (never your own); needs a step-up",
      tags: ['access'],
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ userId: Type.String({ format: 'uuid' }) }) },
      },
      handler: async (request) =>
        gate.devices.approve(accessCaller(request), (request.params as { id: string }).id),
    }),
  ];
}
