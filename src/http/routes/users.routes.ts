import { Type } from '@sinclair/typebox';
import type { Identity } from '../../identity/index.js';
import { ROLES, type Role } from '../../identity/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import { caller, requestMeta } from './auth.routes.js';

/** The step-up action a role change needs. */
export const ROLES_CHANGE_ACTION = 'user.roles.change';

const RoleList = Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), {
  minItems: 1,
  maxItems: 10,
});

/** Tenant user administration (permission user.admin); always within the caller's tenant. */
export function userRoutes(identity: Identity): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/users',
      permission: 'user.read',
      summary: 'Users of this tenant',
      tags: ['users'],
      schema: {
        response: {
          200: Type.Object({
            users: Type.Array(
              Type.Object({
                id: Type.String(),
                email: Type.String(),
                displayName: Type.String(),
                status: Type.String(),
                roles: Type.Array(Type.String()),
                lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
              }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const users = await identity.users.list(caller(request).tenantId);
        return {
          users: users.map((u) => ({ ...u, lastLoginAt: u.lastLoginAt?.toISOString() ?? null })),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/users/invitations',
      permission: 'user.admin',
      summary: 'Invite someone into this tenant (single-use link, expires)',
      tags: ['users'],
      schema: {
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 254 }),
            roles: RoleList,
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            token: Type.String(),
            expiresAt: Type.String({ format: 'date-time' }),
          }),
        },
      },
      handler: async (request, reply) => {
        const c = caller(request);
        const b = request.body as { email: string; roles: string[] };
        const link = await identity.onboarding.invite(
          c.tenantId,
          b.email,
          b.roles,
          { kind: 'user', userId: c.userId },
          requestMeta(request),
        );
        void reply.code(201).header('Cache-Control', 'no-store');
        return { token: link.token, expiresAt: link.expiresAt.toISOString() };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/users/:id/sessions/end',
      permission: 'user.admin',
      summary: "End a user's sessions in this tenant",
      tags: ['users'],
      schema: {
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Type.Object({ ended: Type.Integer() }) },
      },
      handler: async (request) => {
        const ended = await identity.users.endSessions(
          caller(request),
          (request.params as { id: string }).id,
          requestMeta(request),
        );
        return { ended };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/users/:id/roles',
      permission: 'user.admin',
      stepUp: ROLES_CHANGE_ACTION,
      summary:
        "Replace a user's roles in this tenant (not your own); ends their sessions here; needs a step-up",
      tags: ['users'],
      schema: {
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        body: Type.Object({ roles: RoleList }, { additionalProperties: false }),
        response: {
          200: Type.Object({ roles: Type.Array(Type.String()), endedSessions: Type.Integer() }),
        },
      },
      handler: async (request) => {
        const r = await identity.users.changeRoles(
          caller(request),
          (request.params as { id: string }).id,
          (request.body as { roles: Role[] }).roles,
          requestMeta(request),
        );
        return { roles: [...r.roles], endedSessions: r.ended };
      },
    }),
  ];
}
