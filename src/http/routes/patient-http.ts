import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { AccessMeta } from '../../access/patient-access.js';
import type { PatientActor } from '../../prescribing/index.js';

/** The signed-in principal as a patient actor (the route's permission was checked already). */
export function patientActor(request: FastifyRequest): PatientActor {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return p;
}

export function accessMeta(request: FastifyRequest): AccessMeta {
  const ua = request.headers['user-agent'];
  return {
    requestId: request.id,
    ip: request.ip,
    ...(ua === undefined ? {} : { userAgent: ua.slice(0, 512) }),
  };
}

export const Id = Type.String({ format: 'uuid' });
export const PatientParams = Type.Object({ id: Id });
export const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
export const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });

export const Rxcui = Type.String({ pattern: '^[0-9]{1,10}$' });
export const Created = Type.Object({ id: Type.String() });
