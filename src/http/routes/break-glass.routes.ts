import { Type } from '@sinclair/typebox';
import {
  BREAK_GLASS_CATEGORIES,
  BREAK_GLASS_STEP_UP,
  type AccessOps,
  type BreakGlassSession,
} from '../../access/access-ops.js';
import { BREAK_GLASS_MAX_MINUTES } from '../../access/access-settings.js';
import { defineRoute, type RouteDef } from '../route.js';
import { accessCaller, iso } from './access-common.js';
import { requestMeta } from './auth.routes.js';

const DateTime = Type.String({ format: 'date-time' });
const NullableDate = Type.Union([DateTime, Type.Null()]);

const SessionSchema = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  patientId: Type.String(),
  category: Type.String(),
  reason: Type.String(),
  writeAllowed: Type.Boolean(),
  startedAt: DateTime,
  expiresAt: DateTime,
  endedAt: NullableDate,
  active: Type.Boolean(),
  reviewStatus: Type.String(),
  reviewedBy: Type.Union([Type.String(), Type.Null()]),
  reviewedAt: NullableDate,
  reviewOutcome: Type.Union([Type.String(), Type.Null()]),
  reviewNotes: Type.Union([Type.String(), Type.Null()]),
});

function present(s: BreakGlassSession): Record<string, unknown> {
  return {
    ...s,
    startedAt: s.startedAt.toISOString(),
    expiresAt: s.expiresAt.toISOString(),
    endedAt: iso(s.endedAt),
    reviewedAt: iso(s.reviewedAt),
  };
}

const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const List = Type.Object({ sessions: Type.Array(SessionSchema) });

/**
 * Break-glass, the emergency access procedure (45 CFR 164.312(a)(2)(ii)): start (reason,
 * category, step-up), end early, and the post-hoc review queue closed by someone else.
 */
export function breakGlassRoutes(ops: AccessOps): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/break-glass',
      permission: 'breakglass.use',
      stepUp: BREAK_GLASS_STEP_UP,
      summary:
        "Emergency access to a patient outside one's relationships: reason, category, step-up; time-boxed, alerted, reviewed",
      tags: ['access'],
      schema: {
        body: Type.Object(
          {
            patientId: Type.String({ format: 'uuid' }),
            category: Type.Union(BREAK_GLASS_CATEGORIES.map((c) => Type.Literal(c))),
            reason: Type.String({ minLength: 10, maxLength: 2000 }),
            minutes: Type.Optional(Type.Integer({ minimum: 1, maximum: BREAK_GLASS_MAX_MINUTES })),
          },
          { additionalProperties: false },
        ),
        response: { 201: SessionSchema },
      },
      handler: async (request, reply) => {
        const b = request.body as {
          patientId: string;
          category: string;
          reason: string;
          minutes?: number;
        };
        const { session } = await ops.breakGlass.start(
          accessCaller(request),
          b,
          requestMeta(request),
        );
        void reply.code(201);
        return present(session);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/break-glass/:id/end',
      permission: 'breakglass.use',
      summary: 'End my break-glass session early',
      tags: ['access'],
      schema: { params: IdParams, response: { 200: SessionSchema } },
      handler: async (request) =>
        present(
          await ops.breakGlass.end(
            accessCaller(request),
            (request.params as { id: string }).id,
            requestMeta(request),
          ),
        ),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/break-glass/mine',
      permission: 'breakglass.use',
      summary: 'My break-glass sessions',
      tags: ['access'],
      schema: { response: { 200: List } },
      handler: async (request) => {
        const c = accessCaller(request);
        const sessions = await ops.breakGlass.list(c.tenantId, { userId: c.userId });
        return { sessions: sessions.map(present) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/break-glass/reviews',
      permission: 'breakglass.review',
      summary: 'The post-hoc review queue (open reviews by default, oldest first)',
      tags: ['access'],
      schema: {
        querystring: Type.Object(
          { status: Type.Optional(Type.Union([Type.Literal('open'), Type.Literal('closed')])) },
          { additionalProperties: false },
        ),
        response: { 200: List },
      },
      handler: async (request) => {
        const { status } = request.query as { status?: 'open' | 'closed' };
        const sessions = await ops.breakGlass.list(accessCaller(request).tenantId, {
          review: status ?? 'open',
        });
        return { sessions: sessions.map(present) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/break-glass/:id',
      permission: 'authenticated',
      summary: 'One break-glass session (the user who broke the glass, or a reviewer)',
      tags: ['access'],
      schema: { params: IdParams, response: { 200: SessionSchema } },
      handler: async (request) =>
        present(
          await ops.breakGlass.get(accessCaller(request), (request.params as { id: string }).id),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/break-glass/:id/review',
      permission: 'breakglass.review',
      summary: 'Close the review of a finished session (not your own): justified or unjustified',
      tags: ['access'],
      schema: {
        params: IdParams,
        body: Type.Object(
          {
            outcome: Type.Union([Type.Literal('justified'), Type.Literal('unjustified')]),
            notes: Type.String({ minLength: 1, maxLength: 2000 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SessionSchema },
      },
      handler: async (request) =>
        present(
          await ops.breakGlass.closeReview(
            accessCaller(request),
            (request.params as { id: string }).id,
            request.body as { outcome: 'justified' | 'unjustified'; notes: string },
            requestMeta(request),
          ),
        ),
    }),
  ];
}
