import { Type } from '@sinclair/typebox';
import type { Database } from '../../db/index.js';
import { migrationStatus } from '../../db/index.js';
import { problem, sendProblem } from '../problem.js';
import { defineRoute, type RouteDef } from '../route.js';

const Problem = Type.Object({
  type: Type.String(),
  title: Type.String(),
  status: Type.Integer(),
  code: Type.String(),
  requestId: Type.String(),
  detail: Type.Optional(Type.String()),
});

/** Liveness and readiness for orchestrators; neither says anything about data. */
export function healthRoutes(db: Database): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/healthz',
      permission: 'public',
      summary: 'Process is up',
      tags: ['operations'],
      schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } },
      handler: async () => ({ status: 'ok' as const }),
    }),
    defineRoute({
      method: 'GET',
      url: '/readyz',
      permission: 'public',
      summary: 'Database reachable and migrations current',
      tags: ['operations'],
      schema: {
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            checks: Type.Object({ database: Type.String(), migrations: Type.String() }),
          }),
          503: Problem,
        },
      },
      handler: async (request, reply) => {
        let pending: readonly string[];
        try {
          pending = (await db.withoutTenant(async (tx) => migrationStatus(tx))).pending;
        } catch (err) {
          request.log.warn({ err }, 'readiness check failed');
          return sendProblem(
            reply,
            problem('unavailable', request.id, { detail: 'database not ready' }),
          );
        }
        if (pending.length > 0) {
          return sendProblem(
            reply,
            problem('unavailable', request.id, { detail: 'migrations pending' }),
          );
        }
        return { status: 'ready' as const, checks: { database: 'ok', migrations: 'current' } };
      },
    }),
  ];
}
