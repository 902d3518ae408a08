import { Type } from '@sinclair/typebox';
import type { Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import {
  accessReviewEvidence,
  disableStaleAccounts,
  escalateOverdueReviews,
  type AccessOps,
  type StaleAccountReport,
} from '../../access/access-ops.js';
import type { Campaign, ReviewItem } from '../../access/access-review.types.js';
import { ROLES } from '../../access/role-catalog.js';
import { defineRoute, type RouteDef } from '../route.js';
import { accessCaller, iso } from './access-common.js';
import { requestMeta } from './auth.routes.js';

const DateTime = Type.String({ format: 'date-time' });
const NullableDate = Type.Union([DateTime, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);
const RoleName = Type.Union(ROLES.map((r) => Type.Literal(r)));

const ItemSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  roles: Type.Array(Type.String()),
  decision: NullableString,
  decidedBy: NullableString,
  decidedAt: NullableDate,
  note: NullableString,
  outcome: NullableString,
  appliedAt: NullableDate,
});

const CampaignFields = {
  id: Type.String(),
  name: Type.String(),
  scope: Type.String(),
  scopeRoles: Type.Array(Type.String()),
  reviewers: Type.Array(Type.String()),
  dueAt: DateTime,
  status: Type.String(),
  createdBy: Type.String(),
  createdAt: DateTime,
  openedAt: NullableDate,
  escalatedAt: NullableDate,
  closedBy: NullableString,
  closedAt: NullableDate,
  unreviewedAtClose: Type.Union([Type.Integer(), Type.Null()]),
};
const CampaignSchema = Type.Object(CampaignFields);
const CampaignWithItems = Type.Object({ ...CampaignFields, items: Type.Array(ItemSchema) });

function presentItem(i: ReviewItem): Record<string, unknown> {
  return { ...i, decidedAt: iso(i.decidedAt), appliedAt: iso(i.appliedAt) };
}

function present(c: Campaign & { items?: ReviewItem[] }): Record<string, unknown> {
  return {
    ...c,
    dueAt: c.dueAt.toISOString(),
    createdAt: c.createdAt.toISOString(),
    openedAt: iso(c.openedAt),
    escalatedAt: iso(c.escalatedAt),
    closedAt: iso(c.closedAt),
    ...(c.items === undefined ? {} : { items: c.items.map(presentItem) }),
  };
}

const StaleSchema = Type.Object({
  days: Type.Integer(),
  cutoff: DateTime,
  dryRun: Type.Boolean(),
  accounts: Type.Array(
    Type.Object({
      userId: Type.String(),
      lastActivity: DateTime,
      neverLoggedIn: Type.Boolean(),
      endedSessions: Type.Integer(),
    }),
  ),
});

function presentStale(r: StaleAccountReport): Record<string, unknown> {
  return {
    days: r.days,
    cutoff: r.cutoff.toISOString(),
    dryRun: r.dryRun,
    accounts: r.accounts.map((a) => ({ ...a, lastActivity: a.lastActivity.toISOString() })),
  };
}

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Days = Type.Integer({ minimum: 1, maximum: 3650 });

/**
 * Access reviews (recertification, 45 CFR 164.308(a)(3)(ii)(B), 164.308(a)(4)(ii)(C)) and stale
 * account disabling (164.308(a)(3)(ii)(C)). Campaigns of another tenant answer 404.
 */
export function accessReviewRoutes(ops: AccessOps, db: Database, clock: Clock): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/access-reviews',
      permission: 'access.review',
      summary: 'Create a review campaign (scope: all memberships, or selected roles)',
      tags: ['access'],
      schema: {
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            roles: Type.Optional(Type.Array(RoleName, { maxItems: 20 })),
            reviewers: Type.Array(Type.String({ format: 'uuid' }), { minItems: 1, maxItems: 20 }),
            dueAt: DateTime,
          },
          { additionalProperties: false },
        ),
        response: { 201: CampaignSchema },
      },
      handler: async (request, reply) => {
        const b = request.body as {
          name: string;
          roles?: string[];
          reviewers: string[];
          dueAt: string;
        };
        const c = await ops.reviews.create(
          accessCaller(request),
          { name: b.name, roles: b.roles ?? [], reviewers: b.reviewers, dueAt: new Date(b.dueAt) },
          requestMeta(request),
        );
        void reply.code(201);
        return present(c);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access-reviews',
      permission: 'access.review',
      summary: "The tenant's review campaigns",
      tags: ['access'],
      schema: { response: { 200: Type.Object({ campaigns: Type.Array(CampaignSchema) }) } },
      handler: async (request) => ({
        campaigns: (await ops.reviews.list(accessCaller(request).tenantId)).map(present),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access-reviews/evidence',
      permission: 'compliance.read',
      summary: 'Evidence of the closed campaigns (JSON, identifiers only)',
      tags: ['access'],
      schema: {
        response: {
          200: Type.Object({
            kind: Type.String(),
            version: Type.Integer(),
            tenantId: Type.String(),
            campaigns: Type.Array(
              Type.Object({
                ...CampaignFields,
                items: Type.Array(Type.Omit(ItemSchema, ['id'])),
              }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const tenantId = accessCaller(request).tenantId;
        return db.withTenant(tenantId, (tx) => accessReviewEvidence(tx, tenantId));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access-reviews/escalate',
      permission: 'access.review',
      summary: 'Escalate overdue campaigns with unreviewed items now (also runs on a schedule)',
      tags: ['access'],
      schema: {
        response: {
          200: Type.Object({
            escalated: Type.Array(
              Type.Object({ campaignId: Type.String(), unreviewed: Type.Integer() }),
            ),
          }),
        },
      },
      handler: async (request) => {
        const c = accessCaller(request);
        return { escalated: await escalateOverdueReviews(db, clock, c.tenantId, c) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access-reviews/:id',
      permission: 'access.review',
      summary: 'One campaign with its items',
      tags: ['access'],
      schema: { params: IdParams, response: { 200: CampaignWithItems } },
      handler: async (request) =>
        present(
          await ops.reviews.get(
            accessCaller(request).tenantId,
            (request.params as { id: string }).id,
          ),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access-reviews/:id/open',
      permission: 'access.review',
      summary: 'Open a draft campaign: snapshot the memberships in scope',
      tags: ['access'],
      schema: { params: IdParams, response: { 200: CampaignSchema } },
      handler: async (request) =>
        present(
          await ops.reviews.open(
            accessCaller(request),
            (request.params as { id: string }).id,
            requestMeta(request),
          ),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access-reviews/:id/items/:itemId/decision',
      permission: 'access.review',
      summary: 'Attest one item: keep or revoke (reviewers of the campaign; never your own)',
      tags: ['access'],
      schema: {
        params: Type.Object({
          id: Type.String({ format: 'uuid' }),
          itemId: Type.String({ format: 'uuid' }),
        }),
        body: Type.Object(
          {
            decision: Type.Union([Type.Literal('keep'), Type.Literal('revoke')]),
            note: Type.Optional(Type.String({ maxLength: 1000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ItemSchema },
      },
      handler: async (request) => {
        const p = request.params as { id: string; itemId: string };
        const item = await ops.reviews.decide(
          accessCaller(request),
          p.id,
          p.itemId,
          request.body as { decision: 'keep' | 'revoke'; note?: string },
          requestMeta(request),
        );
        return presentItem(item);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access-reviews/:id/close',
      permission: 'access.review',
      summary: 'Close: apply revocations, freeze the evidence (unreviewed items only if accepted)',
      tags: ['access'],
      schema: {
        params: IdParams,
        body: Type.Object(
          { acceptUnreviewed: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            campaign: CampaignSchema,
            revoked: Type.Integer(),
            kept: Type.Integer(),
            unreviewed: Type.Integer(),
            endedSessions: Type.Integer(),
          }),
        },
      },
      handler: async (request) => {
        const r = await ops.reviews.close(
          accessCaller(request),
          (request.params as { id: string }).id,
          request.body as { acceptUnreviewed?: boolean },
          requestMeta(request),
        );
        return { ...r, campaign: present(r.campaign) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/access/stale-accounts',
      permission: 'user.admin',
      summary: 'Preview (dry run) the accounts unused for N days (default 90)',
      tags: ['access'],
      schema: {
        querystring: Type.Object({ days: Type.Optional(Days) }, { additionalProperties: false }),
        response: { 200: StaleSchema },
      },
      handler: async (request) => {
        const { days } = request.query as { days?: number };
        const c = accessCaller(request);
        return presentStale(
          await disableStaleAccounts(db, c.tenantId, clock, days ?? 90, { dryRun: true }),
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/access/stale-accounts/disable',
      permission: 'user.admin',
      summary: 'Disable the accounts unused for N days (default 90) and end their sessions',
      tags: ['access'],
      schema: {
        body: Type.Object({ days: Type.Optional(Days) }, { additionalProperties: false }),
        response: { 200: StaleSchema },
      },
      handler: async (request) => {
        const { days } = (request.body ?? {}) as { days?: number };
        const c = accessCaller(request);
        return presentStale(
          await disableStaleAccounts(db, c.tenantId, clock, days ?? 90, { actor: c }),
        );
      },
    }),
  ];
}
