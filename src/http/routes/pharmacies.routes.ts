import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { AuditActor } from '../../audit/index.js';
import { AppError } from '../../core/index.js';
import {
  assertPharmacy,
  SERVICE_LEVELS,
  type Pharmacy,
} from '../../network/pharmacy-directory.repository.js';
import type { PharmacyDirectoryService } from '../../network/pharmacy-directory.service.js';
import { defineRoute, type RouteDef } from '../route.js';

/**
 * The pharmacy directory over HTTP (issue 8). Reading needs `pharmacies.read` (prescribers pick
 * a pharmacy), changes need `pharmacies.manage`; each change is audited by the service. A
 * tenant sees only its own directory: another tenant's pharmacy id answers 404.
 */
const Address = Type.Object(
  { line: Type.String(), city: Type.String(), state: Type.String(), zip: Type.String() },
  { additionalProperties: false },
);
const Pins = Type.Object(
  { primary: Type.String(), backup: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const Level = Type.Union(SERVICE_LEVELS.map((l) => Type.Literal(l)));

const PharmacyBody = Type.Object(
  {
    ncpdpId: Type.String({ pattern: '^[0-9]{7}$' }),
    npi: Type.String({ pattern: '^[0-9]{10}$' }),
    name: Type.String({ minLength: 1, maxLength: 70 }),
    address: Address,
    phone: Type.String({ pattern: '^[0-9]{10}$' }),
    serviceLevels: Type.Array(Level, { minItems: 1, maxItems: 5 }),
    endpointUrl: Type.String({ maxLength: 2048 }),
    pins: Pins,
    active: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const PharmacyAnswer = Type.Object({
  id: Type.String(),
  ncpdpId: Type.String(),
  npi: Type.String(),
  name: Type.String(),
  address: Address,
  phone: Type.String(),
  serviceLevels: Type.Array(Type.String()),
  endpointUrl: Type.String(),
  pins: Pins,
  active: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const SearchQuery = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 70 })),
    city: Type.Optional(Type.String({ minLength: 1, maxLength: 35 })),
    zip: Type.Optional(Type.String({ pattern: '^[0-9]{3,9}$' })),
    ncpdpId: Type.Optional(Type.String({ pattern: '^[0-9]{7}$' })),
    active: Type.Optional(Type.Boolean()),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    offset: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
  },
  { additionalProperties: false },
);

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

function present(p: Pharmacy): Static<typeof PharmacyAnswer> {
  return {
    ...p,
    serviceLevels: [...p.serviceLevels],
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}

function principal(request: FastifyRequest): NonNullable<FastifyRequest['principal']> {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return p;
}

function actor(request: FastifyRequest): AuditActor {
  const p = principal(request);
  return { kind: 'user', userId: p.userId, sessionId: p.sessionId };
}

export function pharmacyRoutes(directory: PharmacyDirectoryService): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/pharmacies',
      permission: 'pharmacies.read',
      summary: 'Search the pharmacy directory (name prefix, city, ZIP prefix, NCPDP ID)',
      tags: ['pharmacies'],
      schema: {
        querystring: SearchQuery,
        response: {
          200: Type.Object({
            items: Type.Array(PharmacyAnswer),
            total: Type.Integer(),
            limit: Type.Integer(),
            offset: Type.Integer(),
          }),
        },
      },
      handler: async (request) => {
        const q = request.query as Static<typeof SearchQuery>;
        const r = await directory.search(principal(request).tenantId, {
          ...(q.name === undefined ? {} : { name: q.name }),
          ...(q.city === undefined ? {} : { city: q.city }),
          ...(q.zip === undefined ? {} : { zip: q.zip }),
          ...(q.ncpdpId === undefined ? {} : { ncpdpId: q.ncpdpId }),
          activeOnly: q.active === true,
          limit: q.limit,
          offset: q.offset,
        });
        return { items: r.items.map(present), total: r.total, limit: q.limit, offset: q.offset };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/pharmacies/:id',
      permission: 'pharmacies.read',
      summary: 'One pharmacy of the directory',
      tags: ['pharmacies'],
      schema: { params: IdParams, response: { 200: PharmacyAnswer } },
      handler: async (request) =>
        present(
          await directory.get(principal(request).tenantId, (request.params as { id: string }).id),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/pharmacies',
      permission: 'pharmacies.manage',
      summary: 'Add a pharmacy to the directory',
      tags: ['pharmacies'],
      schema: { body: PharmacyBody, response: { 201: PharmacyAnswer } },
      handler: async (request, reply) => {
        const input = assertPharmacy(request.body);
        const p = await directory.create(principal(request).tenantId, input, actor(request));
        void reply.code(201);
        return present(p);
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/pharmacies/:id',
      permission: 'pharmacies.manage',
      summary: 'Replace a pharmacy of the directory (e.g. rotate its pins, deactivate it)',
      tags: ['pharmacies'],
      schema: { params: IdParams, body: PharmacyBody, response: { 200: PharmacyAnswer } },
      handler: async (request) => {
        const input = assertPharmacy(request.body);
        return present(
          await directory.update(
            principal(request).tenantId,
            (request.params as { id: string }).id,
            input,
            actor(request),
          ),
        );
      },
    }),
  ];
}
