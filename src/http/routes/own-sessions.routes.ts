import { Type } from '@sinclair/typebox';
import type { Identity, OwnSession } from '../../identity/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import { clearSessionCookies } from '../session-auth.js';
import { caller, noStore, requestMeta } from './auth.routes.js';

/** One of the caller's signed-in sessions (never its token or hash). */
export const OwnSessionView = Type.Object({
  id: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  lastSeenAt: Type.String({ format: 'date-time' }),
  idleExpiresAt: Type.String({ format: 'date-time' }),
  absoluteExpiresAt: Type.String({ format: 'date-time' }),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  current: Type.Boolean(),
});

function ownSessionView(s: OwnSession): Record<string, unknown> {
  return {
    id: s.id,
    createdAt: s.createdAt.toISOString(),
    lastSeenAt: s.lastSeenAt.toISOString(),
    idleExpiresAt: s.idleExpiresAt.toISOString(),
    absoluteExpiresAt: s.absoluteExpiresAt.toISOString(),
    userAgent: s.userAgent,
    ip: s.ip,
    current: s.current,
  };
}

/**
 * My signed-in sessions (issue 10 item 2): the list the account screen shows, and ending one of
 * them. Only the caller's own cookie sessions in the current tenant.
 */
export function ownSessionRoutes(identity: Identity): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/auth/sessions',
      permission: 'session',
      summary: 'My signed-in sessions in this tenant (device, address, times), newest first',
      tags: ['auth'],
      schema: { response: { 200: Type.Object({ sessions: Type.Array(OwnSessionView) }) } },
      handler: async (request, reply) => {
        noStore(reply);
        const sessions = await identity.account.listSessions(caller(request));
        return { sessions: sessions.map(ownSessionView) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/auth/sessions/:id',
      permission: 'session',
      summary: 'End one of my sessions (and its bearer tokens); ending this one signs out here',
      tags: ['auth'],
      schema: {
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Type.Object({ ok: Type.Boolean(), current: Type.Boolean() }) },
      },
      handler: async (request, reply) => {
        const r = await identity.account.endSession(
          caller(request),
          (request.params as { id: string }).id,
          requestMeta(request),
        );
        if (r.current) clearSessionCookies(reply);
        return { ok: true, current: r.current };
      },
    }),
  ];
}
