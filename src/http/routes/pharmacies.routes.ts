import { Type, type Static } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import {
  assertPharmacy,
  SERVICE_LEVELS,
  type Pharmacy,
} from '../../network/pharmacy-directory.repository.js';
import type { PharmacyDirectoryService } from '../../network/pharmacy-directory.service.js';
import type { ChangeControlService } from '../../prescribing/change-control.service.js';
import { defineRoute, type RouteDef } from '../route.js';
import { presentProposal, ProposalSchema } from './drugs.routes.js';

/**
 * The pharmacy directory over HTTP (issues 7 and 8). Reading needs `pharmacies.read`
 * (prescribers pick a pharmacy). The directory decides where prescriptions are routed, so a
 * write (`pharmacies.manage`) changes nothing by itself: it answers 202 with a `routing` change
 * proposal, which a second person approves through /api/v1/change-proposals (`catalog.manage`,
 * never the proposer) and which takes effect on its effective date (docs/pharmacy-directory.md).
 * A tenant sees only its own directory: another tenant's pharmacy id answers 404.
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

/** A directory row, and when the change takes effect (default: on approval) and why. */
const ProposeBody = Type.Object(
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
    effectiveAt: Type.Optional(Type.String({ format: 'date-time' })),
    summary: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
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

export function pharmacyRoutes(
  directory: PharmacyDirectoryService,
  changes: ChangeControlService,
): RouteDef[] {
  /**
   * Proposes one row: a new NCPDP ID (`replaces` undefined; an existing one is 409) or a change to
   * the pharmacy `replaces` (404 when not in this tenant; its NCPDP ID cannot change).
   */
  const propose = async (
    request: FastifyRequest,
    reply: FastifyReply,
    replaces: string | undefined,
  ): Promise<Record<string, unknown>> => {
    const { effectiveAt, summary, ...row } = request.body as Static<typeof ProposeBody>;
    const input = assertPharmacy(row);
    const { tenantId, userId, sessionId } = principal(request);
    if (replaces === undefined) {
      if ((await directory.byNcpdpId(tenantId, input.ncpdpId)) !== undefined) {
        throw new AppError('conflict', 'a pharmacy with this NCPDP ID exists', {
          detail: 'ncpdpId',
        });
      }
    } else if ((await directory.get(tenantId, replaces)).ncpdpId !== input.ncpdpId) {
      throw new AppError('validation_failed', 'the NCPDP ID of a pharmacy cannot change', {
        detail: 'ncpdpId',
      });
    }
    const verb = replaces === undefined ? 'Add' : 'Change';
    const proposal = await changes.propose(
      tenantId,
      { userId, sessionId, requestId: request.id },
      {
        kind: 'routing',
        payload: { upsert: [input] },
        summary: summary ?? `${verb} pharmacy ${input.ncpdpId} (${input.name})`,
        effectiveAt: effectiveAt === undefined ? undefined : new Date(effectiveAt),
      },
    );
    void reply.code(202);
    return presentProposal(proposal);
  };
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
      summary: 'Propose adding a pharmacy to the directory (a second person approves it)',
      tags: ['pharmacies'],
      schema: { body: ProposeBody, response: { 202: ProposalSchema } },
      handler: (request, reply) => propose(request, reply, undefined),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/pharmacies/:id',
      permission: 'pharmacies.manage',
      summary:
        'Propose replacing a pharmacy of the directory (e.g. rotate its pins, deactivate it); a second person approves it',
      tags: ['pharmacies'],
      schema: { params: IdParams, body: ProposeBody, response: { 202: ProposalSchema } },
      handler: (request, reply) => propose(request, reply, (request.params as { id: string }).id),
    }),
  ];
}
