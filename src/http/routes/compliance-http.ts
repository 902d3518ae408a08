/** Shared pieces of the compliance-program routes. */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { ProgramActor } from '../../compliance/program.js';

export const COMPLIANCE_PREFIX = '/api/v1/compliance';
/** The step-up a containment action needs (it acts on accounts, integrations and keys). */
export const CONTAINMENT_STEP_UP = 'compliance.containment';

/** The signed-in caller as the compliance domain's actor. */
export function programActor(request: FastifyRequest): ProgramActor {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return { tenantId: p.tenantId, userId: p.userId, sessionId: p.sessionId, requestId: request.id };
}

/** The tenant of the signed-in caller. */
export function tenantOf(request: FastifyRequest): ProgramActor['tenantId'] {
  return programActor(request).tenantId;
}

export function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}
