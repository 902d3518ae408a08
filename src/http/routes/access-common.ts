import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { AccessCaller } from '../../access/access-ops.js';

/** The signed-in caller with the permissions its session resolved. */
export function accessCaller(request: FastifyRequest): AccessCaller {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return {
    userId: p.userId,
    tenantId: p.tenantId,
    sessionId: p.sessionId,
    permissions: p.permissions,
  };
}

export const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
