import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError, type Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import {
  acknowledgeAlert,
  closeAlert,
  decideEpcsReviewItem,
  getEpcsReview,
  listAlerts,
  loadRuleSet,
  RULE_IDS,
  RULE_SEVERITY,
  setRuleConfig,
  type Alert,
  type EpcsReview,
  type RuleConfig,
  type RuleId,
} from '../../monitoring/index.js';
import { defineRoute, type RouteDef } from '../route.js';

/**
 * Alerts for the people who act on them (45 CFR 164.308(a)(1)(ii)(D), 164.308(a)(6)) and the
 * daily EPCS incident report (21 CFR 1311.150(b)). A tenant sees its own alerts only; every
 * acknowledgement and decision is an audit record written by the monitoring domain. The rules
 * are configurable per tenant (issue 6 point 9); a change needs a step-up and is audited.
 */
const AlertSchema = Type.Object({
  id: Type.String(),
  rule: Type.String(),
  severity: Type.String(),
  subject: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(
    Type.String(),
    Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
  ),
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
  count: Type.Integer(),
  status: Type.String(),
  acknowledgedBy: Type.Union([Type.String(), Type.Null()]),
  acknowledgedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
});

const ReviewItem = Type.Object({
  id: Type.String(),
  seq: Type.Integer(),
  category: Type.String(),
  action: Type.String(),
  outcome: Type.String(),
  at: Type.String({ format: 'date-time' }),
  actorUserId: Type.Union([Type.String(), Type.Null()]),
  decision: Type.Union([Type.String(), Type.Null()]),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
  decidedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  note: Type.Union([Type.String(), Type.Null()]),
});

const Review = Type.Object({
  id: Type.String(),
  day: Type.String(),
  timeZone: Type.String(),
  counts: Type.Record(Type.String(), Type.Integer()),
  items: Type.Array(ReviewItem),
});

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

function present(a: Alert): Record<string, unknown> {
  return {
    ...a,
    firstSeen: a.firstSeen.toISOString(),
    lastSeen: a.lastSeen.toISOString(),
    acknowledgedAt: iso(a.acknowledgedAt),
  };
}

function presentReview(r: EpcsReview): Record<string, unknown> {
  return {
    ...r,
    items: r.items.map((i) => ({ ...i, at: i.at.toISOString(), decidedAt: iso(i.decidedAt) })),
  };
}

function caller(request: FastifyRequest): NonNullable<FastifyRequest['principal']> {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return p;
}

const Note = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 2000 })) },
  { additionalProperties: false },
);
const IdParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** The step-up a rule change needs: turning a detection off must be a deliberate act. */
export const RULE_UPDATE_STEP_UP = 'monitoring.rule.update';

const RuleName = Type.Union(RULE_IDS.map((r) => Type.Literal(r)));
const ParamValue = Type.Union([
  Type.String({ maxLength: 200 }),
  Type.Number(),
  Type.Boolean(),
  Type.Array(Type.Union([Type.String({ maxLength: 200 }), Type.Number()]), { maxItems: 50 }),
]);
const RuleSchema = Type.Object({
  rule: Type.String(),
  severity: Type.String(),
  enabled: Type.Boolean(),
  params: Type.Record(Type.String(), ParamValue),
});

function presentRule(rule: RuleId, config: RuleConfig): Static<typeof RuleSchema> {
  const { enabled, ...params } = config as RuleConfig & Record<string, unknown>;
  return {
    rule,
    severity: RULE_SEVERITY[rule],
    enabled,
    params: params as Static<typeof RuleSchema>['params'],
  };
}

export function alertRoutes(db: Database, clock: Clock): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/alerts',
      permission: 'alerts.read',
      summary: 'Alerts of your tenant',
      tags: ['monitoring'],
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([
                Type.Literal('open'),
                Type.Literal('acknowledged'),
                Type.Literal('closed'),
              ]),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ alerts: Type.Array(AlertSchema) }) },
      },
      handler: async (request) => {
        const q = request.query as { status?: 'open' | 'acknowledged' | 'closed' };
        const alerts = await listAlerts(
          db,
          caller(request).tenantId,
          q.status === undefined ? {} : { status: q.status },
        );
        return { alerts: alerts.map(present) };
      },
    }),
    ...(['acknowledge', 'close'] as const).map((verb) =>
      defineRoute({
        method: 'POST',
        url: `/api/v1/alerts/:id/${verb}`,
        permission: 'alerts.manage',
        summary: verb === 'acknowledge' ? 'Acknowledge an alert' : 'Close an alert',
        tags: ['monitoring'],
        schema: { params: IdParams, body: Note, response: { 200: AlertSchema } },
        handler: async (request) => {
          const p = caller(request);
          const body = (request.body ?? {}) as { note?: string };
          const d = {
            tenantId: p.tenantId,
            alertId: (request.params as { id: string }).id,
            userId: p.userId,
            ...(body.note === undefined ? {} : { note: body.note }),
          };
          return present(
            verb === 'acknowledge'
              ? await acknowledgeAlert(db, d, clock)
              : await closeAlert(db, d, clock),
          );
        },
      }),
    ),
    defineRoute({
      method: 'GET',
      url: '/api/v1/alerts/rules',
      permission: 'alerts.read',
      summary: "The alert rules in effect for your tenant (defaults and the tenant's changes)",
      tags: ['monitoring'],
      schema: { response: { 200: Type.Object({ rules: Type.Array(RuleSchema) }) } },
      handler: async (request) => {
        const set = await db.withTenant(caller(request).tenantId, (tx) => loadRuleSet(tx));
        return { rules: RULE_IDS.map((r) => presentRule(r, set[r])) };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/alerts/rules/:rule',
      permission: 'alerts.manage',
      stepUp: RULE_UPDATE_STEP_UP,
      summary:
        "Change one alert rule for your tenant (audited); params replace the tenant's overrides",
      tags: ['monitoring'],
      schema: {
        params: Type.Object({ rule: RuleName }),
        body: Type.Object(
          {
            enabled: Type.Optional(Type.Boolean()),
            params: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), ParamValue)),
          },
          { additionalProperties: false },
        ),
        response: { 200: RuleSchema },
      },
      handler: async (request) => {
        const p = caller(request);
        const rule = (request.params as { rule: RuleId }).rule;
        const body = request.body as { enabled?: boolean; params?: Record<string, unknown> };
        const effective = await setRuleConfig(
          db,
          p.tenantId,
          rule,
          {
            ...(body.enabled === undefined ? {} : { enabled: body.enabled }),
            ...(body.params === undefined ? {} : { params: body.params }),
          },
          { userId: p.userId },
          clock,
        );
        return presentRule(rule, effective);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/epcs/reviews/:day',
      permission: 'alerts.read',
      summary: 'The daily EPCS incident report of one day (YYYY-MM-DD, tenant time zone)',
      tags: ['monitoring'],
      schema: {
        params: Type.Object({ day: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }) }),
        response: { 200: Review },
      },
      handler: async (request) =>
        presentReview(
          await getEpcsReview(
            db,
            caller(request).tenantId,
            (request.params as { day: string }).day,
          ),
        ),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/epcs/reviews/items/:id/decision',
      permission: 'alerts.manage',
      summary: 'Mark an EPCS report item a security incident or not (final)',
      tags: ['monitoring'],
      schema: {
        params: IdParams,
        body: Type.Object(
          {
            decision: Type.Union([Type.Literal('incident'), Type.Literal('not_incident')]),
            note: Type.Optional(Type.String({ maxLength: 2000 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: ReviewItem },
      },
      handler: async (request) => {
        const p = caller(request);
        const body = request.body as { decision: 'incident' | 'not_incident'; note?: string };
        const item = await decideEpcsReviewItem(
          db,
          p.tenantId,
          {
            itemId: (request.params as { id: string }).id,
            decision: body.decision,
            userId: p.userId,
            ...(body.note === undefined ? {} : { note: body.note }),
          },
          clock,
        );
        return { ...item, at: item.at.toISOString(), decidedAt: iso(item.decidedAt) };
      },
    }),
  ];
}
