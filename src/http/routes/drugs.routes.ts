import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import { DrugCatalogRepository } from '../../prescribing/drug-catalog.repository.js';
import type {
  ChangeControlService,
  ChangeKind,
  ChangeProposal,
  ProposalStatus,
} from '../../prescribing/change-control.service.js';
import type { Drug } from '../../prescribing/drug.js';
import { defineRoute, type RouteDef } from '../route.js';

/**
 * The drug catalog (reads: `catalog.read`) and its change control (changes: `catalog.manage`):
 * proposals for the catalog, the formulary and pharmacy routing, approved by a second person
 * before they take effect. Catalog data is reference data, not PHI; codes in URLs are RXCUIs and
 * NDCs only.
 */
const Ingredient = Type.Object({ rxcui: Type.String(), name: Type.String() });
const Limits = Type.Union([
  Type.Object({
    maxSingleDose: Type.Union([Type.Number(), Type.Null()]),
    maxDailyDose: Type.Union([Type.Number(), Type.Null()]),
    unit: Type.String(),
  }),
  Type.Null(),
]);
const DrugSchema = Type.Object({
  id: Type.String(),
  rxcui: Type.String(),
  tty: Type.String(),
  name: Type.String(),
  strength: Type.Union([Type.String(), Type.Null()]),
  doseForm: Type.Union([Type.String(), Type.Null()]),
  route: Type.Union([Type.String(), Type.Null()]),
  ingredients: Type.Array(Ingredient),
  ndcs: Type.Array(Type.String()),
  deaSchedule: Type.Union([Type.String(), Type.Null()]),
  limits: Limits,
  status: Type.String(),
  version: Type.Integer(),
  updatedAt: Type.String({ format: 'date-time' }),
});
const DateOrNull = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);
export const ProposalSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  summary: Type.String(),
  effectiveAt: Type.String({ format: 'date-time' }),
  status: Type.String(),
  proposedBy: Type.String(),
  proposedAt: Type.String({ format: 'date-time' }),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: DateOrNull,
  decisionNote: Type.Union([Type.String(), Type.Null()]),
  appliedAt: DateOrNull,
  appliedVersion: Type.Union([Type.Integer(), Type.Null()]),
});
const Detail = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000, default: 0 })),
};
const Kind = Type.Union([
  Type.Literal('catalog'),
  Type.Literal('formulary'),
  Type.Literal('routing'),
]);
const Decision = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
/** Payloads above this size are summarised, not echoed (an RxNorm import is megabytes). */
const MAX_ECHOED_PAYLOAD = 256 * 1024;

function caller(request: FastifyRequest): NonNullable<FastifyRequest['principal']> {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return p;
}

function actorOf(request: FastifyRequest): {
  userId: string;
  sessionId: string;
  requestId: string;
} {
  const p = caller(request);
  return { userId: p.userId, sessionId: p.sessionId, requestId: request.id };
}

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function presentDrug(d: Drug): Record<string, unknown> {
  return { ...d, updatedAt: d.updatedAt.toISOString() };
}

export function presentProposal(p: ChangeProposal): Record<string, unknown> {
  return {
    ...p,
    effectiveAt: p.effectiveAt.toISOString(),
    proposedAt: p.proposedAt.toISOString(),
    decidedAt: iso(p.decidedAt),
    appliedAt: iso(p.appliedAt),
  };
}

export function drugRoutes(db: Database, changes: ChangeControlService): RouteDef[] {
  const read = <T>(request: FastifyRequest, fn: Parameters<Database['withTenant']>[1]) =>
    db.withTenant(caller(request).tenantId, fn) as Promise<T>;
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/drugs',
      permission: 'catalog.read',
      summary: 'Search the drug catalog by name prefix (case-insensitive)',
      tags: ['catalog'],
      schema: {
        querystring: Type.Object(
          {
            prefix: Type.String({ minLength: 1, maxLength: 200 }),
            includeRetired: Type.Optional(Type.Boolean()),
            ...Paging,
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            drugs: Type.Array(DrugSchema),
            limit: Type.Integer(),
            offset: Type.Integer(),
            hasMore: Type.Boolean(),
          }),
        },
      },
      handler: async (request) => {
        const q = request.query as {
          prefix: string;
          includeRetired?: boolean;
          limit: number;
          offset: number;
        };
        const page = await read<Awaited<ReturnType<typeof DrugCatalogRepository.searchByPrefix>>>(
          request,
          (tx) =>
            DrugCatalogRepository.searchByPrefix(tx, q.prefix, {
              limit: q.limit,
              offset: q.offset,
              includeRetired: q.includeRetired === true,
            }),
        );
        return { ...page, drugs: page.items.map(presentDrug) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/drugs/by-code/:code',
      permission: 'catalog.read',
      summary: 'Drugs by RXCUI or NDC (11 digits, or 10 digits with hyphens)',
      tags: ['catalog'],
      schema: {
        params: Type.Object({ code: Type.String({ minLength: 1, maxLength: 20 }) }),
        response: { 200: Type.Object({ drugs: Type.Array(DrugSchema) }) },
      },
      handler: async (request) => {
        const { code } = request.params as { code: string };
        const drugs = await read<Drug[]>(request, (tx) =>
          DrugCatalogRepository.findByCode(tx, code),
        );
        return { drugs: drugs.map(presentDrug) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/drugs/:id',
      permission: 'catalog.read',
      summary: 'One drug of the catalog',
      tags: ['catalog'],
      schema: { params: IdParams, response: { 200: DrugSchema } },
      handler: async (request) =>
        presentDrug(
          await read<Drug>(request, (tx) =>
            DrugCatalogRepository.get(tx, (request.params as { id: string }).id),
          ),
        ),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/drugs/:id/history',
      permission: 'catalog.read',
      summary: 'Earlier states of a drug, each with the catalog version that replaced it',
      tags: ['catalog'],
      schema: {
        params: IdParams,
        response: {
          200: Type.Object({
            drug: DrugSchema,
            history: Type.Array(
              Type.Object({
                version: Type.Integer(),
                supersededBy: Type.Integer(),
                supersededAt: Type.String({ format: 'date-time' }),
                state: Type.Record(Type.String(), Type.Unknown()),
              }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const id = (request.params as { id: string }).id;
        return read(request, async (tx) => {
          const drug = await DrugCatalogRepository.get(tx, id);
          const history = await DrugCatalogRepository.history(tx, id);
          return {
            drug: presentDrug(drug),
            history: history.map((h) => ({ ...h, supersededAt: h.supersededAt.toISOString() })),
          };
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/catalog/versions',
      permission: 'catalog.read',
      summary: 'Applied changes of the catalog, formulary and routing, newest first',
      tags: ['catalog'],
      schema: {
        response: {
          200: Type.Object({
            versions: Type.Array(
              Type.Object({
                version: Type.Integer(),
                proposalId: Type.String(),
                kind: Type.String(),
                appliedAt: Type.String({ format: 'date-time' }),
                details: Detail,
              }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const versions = await read<Awaited<ReturnType<typeof DrugCatalogRepository.versions>>>(
          request,
          (tx) => DrugCatalogRepository.versions(tx),
        );
        return { versions: versions.map((v) => ({ ...v, appliedAt: v.appliedAt.toISOString() })) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/formulary',
      permission: 'catalog.read',
      summary: 'The formulary in force (optionally for one RXCUI)',
      tags: ['catalog'],
      schema: {
        querystring: Type.Object(
          { rxcui: Type.Optional(Type.String({ pattern: '^[0-9]{1,12}$' })) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            entries: Type.Array(
              Type.Object({
                rxcui: Type.String(),
                status: Type.String(),
                notes: Type.Union([Type.String(), Type.Null()]),
                version: Type.Integer(),
                effectiveFrom: Type.String({ format: 'date-time' }),
              }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const { rxcui } = request.query as { rxcui?: string };
        const entries = await read<Awaited<ReturnType<typeof DrugCatalogRepository.formulary>>>(
          request,
          (tx) => DrugCatalogRepository.formulary(tx, rxcui),
        );
        return {
          entries: entries.map((e) => ({ ...e, effectiveFrom: e.effectiveFrom.toISOString() })),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/change-proposals',
      permission: 'catalog.read',
      summary: 'Change proposals (catalog, formulary, routing), newest first',
      tags: ['catalog'],
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([
                Type.Literal('proposed'),
                Type.Literal('approved'),
                Type.Literal('rejected'),
                Type.Literal('applied'),
              ]),
            ),
            kind: Type.Optional(Kind),
            ...Paging,
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ proposals: Type.Array(ProposalSchema) }) },
      },
      handler: async (request) => {
        const q = request.query as {
          status?: ProposalStatus;
          kind?: ChangeKind;
          limit: number;
          offset: number;
        };
        const list = await changes.list(caller(request).tenantId, {
          ...(q.status === undefined ? {} : { status: q.status }),
          ...(q.kind === undefined ? {} : { kind: q.kind }),
          limit: q.limit,
          offset: q.offset,
        });
        return { proposals: list.map(presentProposal) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/change-proposals/:id',
      permission: 'catalog.read',
      summary: 'One change proposal, what it would change now, and its payload when small',
      tags: ['catalog'],
      schema: {
        params: IdParams,
        response: {
          200: Type.Object({
            proposal: ProposalSchema,
            preview: Detail,
            payload: Type.Unknown(),
            payloadTruncated: Type.Boolean(),
          }),
        },
      },
      handler: async (request) => {
        const tenantId = caller(request).tenantId;
        const id = (request.params as { id: string }).id;
        const { payload, ...proposal } = await changes.get(tenantId, id);
        const big = JSON.stringify(payload).length > MAX_ECHOED_PAYLOAD;
        const preview = proposal.status === 'proposed' ? await changes.preview(tenantId, id) : {};
        return {
          proposal: presentProposal(proposal),
          preview,
          payload: big ? null : payload,
          payloadTruncated: big,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/change-proposals',
      permission: 'catalog.manage',
      summary: 'Propose a catalog, formulary or routing change (a second person approves it)',
      tags: ['catalog'],
      schema: {
        body: Type.Object(
          {
            kind: Kind,
            summary: Type.String({ minLength: 1, maxLength: 500 }),
            effectiveAt: Type.Optional(Type.String({ format: 'date-time' })),
            payload: Type.Unknown(),
          },
          { additionalProperties: false },
        ),
        response: { 201: ProposalSchema },
      },
      handler: async (request, reply) => {
        const b = request.body as {
          kind: ChangeKind;
          summary: string;
          effectiveAt?: string;
          payload: unknown;
        };
        const p = await changes.propose(caller(request).tenantId, actorOf(request), {
          kind: b.kind,
          summary: b.summary,
          payload: b.payload,
          effectiveAt: b.effectiveAt === undefined ? undefined : new Date(b.effectiveAt),
        });
        void reply.code(201);
        return presentProposal(p);
      },
    }),
    ...(['approve', 'reject'] as const).map((verb) =>
      defineRoute({
        method: 'POST',
        url: `/api/v1/change-proposals/:id/${verb}`,
        permission: 'catalog.manage',
        // A patient-safety change takes effect on this decision: a fresh second factor.
        stepUp: 'catalog.change.decide',
        summary:
          verb === 'approve'
            ? 'Approve a change proposed by someone else (applied at once when due)'
            : 'Reject a change proposal',
        tags: ['catalog'],
        schema: { params: IdParams, body: Decision, response: { 200: ProposalSchema } },
        handler: async (request) => {
          const tenantId = caller(request).tenantId;
          const id = (request.params as { id: string }).id;
          const note = (request.body as { note?: string } | undefined)?.note;
          const p =
            verb === 'approve'
              ? await changes.approve(tenantId, actorOf(request), id, note)
              : await changes.reject(tenantId, actorOf(request), id, note);
          return presentProposal(p);
        },
      }),
    ),
  ];
}
