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
export function healthRoutes(db: Database, maxKeyAgeDays: number): RouteDef[] {
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
            checks: Type.Object({
              database: Type.String(),
              migrations: Type.String(),
              keys: Type.String(),
            }),
            warnings: Type.Array(Type.String()),
          }),
          503: Problem,
        },
      },
      handler: async (request, reply) => {
        let pending: readonly string[];
        let overdue: number;
        try {
          [pending, overdue] = await db.withoutTenant(async (tx) => {
            const status = await migrationStatus(tx);
            if (status.pending.length > 0) return [status.pending, 0] as const;
            const keys = await tx.query<{ n: number }>('SELECT scrip_overdue_data_keys($1) AS n', [
              maxKeyAgeDays,
            ]);
            return [status.pending, keys.rows[0]?.n ?? 0] as const;
          });
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
        // An old key is a warning for operators (scrip keys status), not a reason to stop serving.
        return {
          status: 'ready' as const,
          checks: {
            database: 'ok',
            migrations: 'current',
            keys: overdue > 0 ? 'rotation_due' : 'ok',
          },
          warnings:
            overdue > 0
              ? [`${String(overdue)} data keys are older than ${String(maxKeyAgeDays)} days`]
              : [],
        };
      },
    }),
  ];
}
