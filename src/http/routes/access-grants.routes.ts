import { Type } from '@sinclair/typebox';
import type { AccessOps, Grant } from '../../access/access-ops.js';
import { PERMISSIONS } from '../../access/permissions.js';
import { defineRoute, type RouteDef } from '../route.js';
import { accessCaller, iso } from './access-common.js';
import { requestMeta } from './auth.routes.js';

const STATES = ['requested', 'active', 'expired', 'denied', 'revoked', 'withdrawn'] as const;
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

const GrantSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  patientId: Nullable(Type.String()),
  permissions: Type.Array(Type.String()),
  reason: Type.String(),
  durationMinutes: Type.Integer(),
  state: Type.Union(STATES.map((s) => Type.Literal(s))),
  requestedAt: DateTime,
  decidedBy: Nullable(Type.String()),
  decidedAt: Nullable(DateTime),
  startsAt: Nullable(DateTime),
  expiresAt: Nullable(DateTime),
  endedBy: Nullable(Type.String()),
  endedAt: Nullable(DateTime),
});

function present(g: Grant): Record<string, unknown> {
  return {
    ...g,
    requestedAt: g.requestedAt.toISOString(),
    decidedAt: iso(g.decidedAt),
    startsAt: iso(g.startsAt),
    expiresAt: iso(g.expiresAt),
    endedAt: iso(g.endedAt),
  };
}

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const StateQuery = Type.Object(
  { state: Type.Optional(Type.Union(STATES.map((s) => Type.Literal(s)))) },
  { additionalProperties: false },
);

/**
 * Just-in-time access grants (45 CFR 164.308(a)(4)(ii)(B)-(C)): request, decide (by someone
 * else), withdraw, revoke. A grant is visible to its requester and to approvers; to anyone else,
 * and across tenants, it answers 404.
 */
export function accessGrantRoutes(ops: AccessOps): RouteDef[] {
  const decision = (verb: 'approve' | 'deny' | 'revoke' | 'withdraw', summary: string): RouteDef =>
    defineRoute({
      method: 'POST',
      url: `/api/v1/access/grants/:id/${verb}`,
      permission: verb === 'withdraw' ? 'access.grant.request' : 'access.grant.approve',
      summary,
      tags: ['access'],
      schema: { params: IdParams, response: { 200: GrantSchema } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const c = accessCaller(request);
        const meta = requestMeta(request);
        switch (verb) {
          case 'approve':
            return present(await ops.grants.approve(c, id, meta));
          case 'deny':
            return present(await ops.grants.deny(c, id, meta));
          case 'revoke':
            return present(await ops.grants.revoke(c, id, meta));
          case 'withdraw':
            return present(await ops.grants.withdraw(c, id, meta));
        }
      },
    });
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/access/grants',
      permission: 'access.grant.request',
      summary: 'Request a time-boxed grant (a patient or none, permissions your roles hold)',
      tags: ['access'],
      schema: {
        body: Type.Object(
          {
            patientId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
            permissions: Type.Array(Type.Union(PERMISSIONS.map((p) => Type.Literal(p))), {
              minItems: 1,
              maxItems: 20,
            }),
            reason: Type.String({ minLength: 1, maxLength: 1000 }),
            durationMinutes: Type.Integer({ minimum: 1, maximum: 10_080 }),
          },
          { additionalProperties: false },
        ),
        response: { 201: GrantSchema },
      },
      handler: async (request, reply) => {
        const b = request.body as {
          patientId: string | null;
          permissions: string[];
          reason: string;
          durationMinutes: number;
        };
        const g = await ops.grants.request(accessCaller(request), b, requestMeta(request));
        void reply.code(201);
        return present(g);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/grants',
      permission: 'access.grant.approve',
      summary: "The tenant's grants and requests (approvers)",
      tags: ['access'],
      schema: {
        querystring: StateQuery,
        response: { 200: Type.Object({ grants: Type.Array(GrantSchema) }) },
      },
      handler: async (request) => {
        const { state } = request.query as { state?: Grant['state'] };
        const grants = await ops.grants.list(accessCaller(request).tenantId, {
          ...(state === undefined ? {} : { state }),
        });
        return { grants: grants.map(present) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/grants/mine',
      permission: 'access.grant.request',
      summary: 'My grants and requests',
      tags: ['access'],
      schema: {
        querystring: StateQuery,
        response: { 200: Type.Object({ grants: Type.Array(GrantSchema) }) },
      },
      handler: async (request) => {
        const c = accessCaller(request);
        const { state } = request.query as { state?: Grant['state'] };
        const grants = await ops.grants.list(c.tenantId, {
          userId: c.userId,
          ...(state === undefined ? {} : { state }),
        });
        return { grants: grants.map(present) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/grants/:id',
      permission: 'authenticated',
      summary: 'One grant (its requester or an approver)',
      tags: ['access'],
      schema: { params: IdParams, response: { 200: GrantSchema } },
      handler: async (request) =>
        present(await ops.grants.get(accessCaller(request), (request.params as { id: string }).id)),
    }),
    decision('approve', 'Approve a pending request of someone else; the grant runs from now'),
    decision('deny', 'Deny a pending request of someone else'),
    decision('revoke', 'End a grant early'),
    decision('withdraw', 'Withdraw my own request or grant'),
  ];
}
