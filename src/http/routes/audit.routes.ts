import { hostname } from 'node:os';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError, type Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import { consistencyProofBetween, inclusionProofFor } from '../../audit/index.js';
import { searchAudit, type AuditQuery } from '../../audit/audit-search.js';
import { toFhirAuditEvent, toSyslogLine } from '../../audit/audit-export-formats.js';
import type { AuditActor } from '../../audit/audit-record.js';
import { defineRoute, type RouteDef } from '../route.js';

/**
 * The audit log for people (45 CFR 164.308(a)(1)(ii)(D), 164.312(b)): search, export to a SIEM
 * (FHIR R4 AuditEvent, RFC 5424 syslog), and proofs a reviewer can check offline against the
 * published key. Every search and export is itself an audit record.
 */
const Query = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    actor: Type.Optional(Type.String({ maxLength: 200 })),
    patient: Type.Optional(Type.String({ format: 'uuid' })),
    action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]{0,99}$' })),
    outcome: Type.Optional(
      Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
    ),
    before: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  { additionalProperties: false },
);

const Record_ = Type.Object({
  seq: Type.Integer(),
  time: Type.String(),
  tenantId: Type.Union([Type.String(), Type.Null()]),
  actor: Type.Object({
    kind: Type.String(),
    userId: Type.Union([Type.String(), Type.Null()]),
    role: Type.Union([Type.String(), Type.Null()]),
    sessionId: Type.Union([Type.String(), Type.Null()]),
  }),
  action: Type.String(),
  outcome: Type.String(),
  subjects: Type.Array(Type.Object({ type: Type.String(), id: Type.String() })),
  source: Type.Object({
    ip: Type.Union([Type.String(), Type.Null()]),
    userAgent: Type.Union([Type.String(), Type.Null()]),
  }),
  requestId: Type.Union([Type.String(), Type.Null()]),
  reason: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(
    Type.String(),
    Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()]),
  ),
  prevHash: Type.String(),
});

const Bundle = Type.Object({}, { additionalProperties: true });

function searcher(request: FastifyRequest): {
  actor: AuditActor;
  tenantId: NonNullable<FastifyRequest['principal']>['tenantId'];
} {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return {
    actor: { kind: 'user', userId: p.userId, sessionId: p.sessionId },
    tenantId: p.tenantId,
  };
}

function toQuery(q: Record<string, unknown>): AuditQuery {
  const str = (k: string): string | undefined => (typeof q[k] === 'string' ? q[k] : undefined);
  const num = (k: string): number | undefined => (typeof q[k] === 'number' ? q[k] : undefined);
  const from = str('from');
  const to = str('to');
  const outcome = str('outcome') as AuditQuery['outcome'];
  const out: Record<string, unknown> = {
    from: from === undefined ? undefined : new Date(from),
    to: to === undefined ? undefined : new Date(to),
    actorUserId: str('actor'),
    patientId: str('patient'),
    action: str('action'),
    outcome,
    before: num('before'),
    limit: num('limit'),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/**
 * The next page of an export: the same query with `before` set to the page's `nextBefore`, or
 * undefined on the last page. Relative to the server, so it holds behind any proxy.
 */
function nextPageUrl(
  path: string,
  query: Record<string, unknown>,
  nextBefore: number | null,
): string | undefined {
  if (nextBefore === null) return undefined;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (k !== 'before' && (typeof v === 'string' || typeof v === 'number'))
      params.set(k, String(v));
  }
  params.set('before', String(nextBefore));
  return `${path}?${params.toString()}`;
}

const FHIR_EXPORT = '/api/v1/audit/export/fhir';
const SYSLOG_EXPORT = '/api/v1/audit/export/syslog';

export function auditRoutes(db: Database, clock: Clock): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/events',
      permission: 'audit.read',
      summary: 'Search the audit log of your tenant (the search is audited)',
      tags: ['audit'],
      schema: {
        querystring: Query,
        response: {
          200: Type.Object({
            records: Type.Array(Record_),
            nextBefore: Type.Union([Type.Integer(), Type.Null()]),
          }),
        },
      },
      handler: async (request) => {
        const s = searcher(request);
        return searchAudit(
          db,
          s.tenantId,
          s.actor,
          toQuery(request.query as Record<string, unknown>),
          clock,
          { requestId: request.id },
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: FHIR_EXPORT,
      permission: 'audit.export',
      summary:
        'Audit records as a FHIR R4 Bundle of AuditEvent resources; a `next` link while more remain',
      tags: ['audit'],
      schema: { querystring: Query, response: { 200: Bundle } },
      handler: async (request) => {
        const s = searcher(request);
        const page = await searchAudit(
          db,
          s.tenantId,
          s.actor,
          toQuery(request.query as Record<string, unknown>),
          clock,
          { requestId: request.id, action: 'audit.export' },
        );
        const next = nextPageUrl(
          FHIR_EXPORT,
          request.query as Record<string, unknown>,
          page.nextBefore,
        );
        return {
          resourceType: 'Bundle',
          type: 'collection',
          timestamp: clock.now().toISOString(),
          ...(next === undefined ? {} : { link: [{ relation: 'next', url: next }] }),
          entry: page.records.map((r) => ({
            fullUrl: `urn:scrip:audit:${String(r.seq)}`,
            resource: toFhirAuditEvent(r, hostname()),
          })),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: SYSLOG_EXPORT,
      permission: 'audit.export',
      summary:
        'Audit records as RFC 5424 syslog lines (for a SIEM); a `Link: rel="next"` header (RFC 8288) while more remain',
      tags: ['audit'],
      schema: { querystring: Query, response: { 200: Type.String() } },
      handler: async (request, reply) => {
        const s = searcher(request);
        const page = await searchAudit(
          db,
          s.tenantId,
          s.actor,
          toQuery(request.query as Record<string, unknown>),
          clock,
          { requestId: request.id, action: 'audit.export' },
        );
        const next = nextPageUrl(
          SYSLOG_EXPORT,
          request.query as Record<string, unknown>,
          page.nextBefore,
        );
        if (next !== undefined) void reply.header('link', `<${next}>; rel="next"`);
        void reply.type('text/plain; charset=utf-8');
        return (
          page.records.map((r) => toSyslogLine(r, hostname())).join('\n') +
          (page.records.length > 0 ? '\n' : '')
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/proofs/inclusion/:seq',
      permission: 'audit.read',
      summary: 'Inclusion proof of one of your tenant’s records against the latest checkpoint',
      tags: ['audit'],
      schema: {
        params: Type.Object({ seq: Type.Integer({ minimum: 0 }) }),
        response: { 200: Bundle },
      },
      handler: async (request) => {
        const s = searcher(request);
        return inclusionProofFor(db, (request.params as { seq: number }).seq, undefined, {
          tenantId: s.tenantId,
          includeRecord: true,
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/audit/proofs/consistency',
      permission: 'audit.read',
      summary: 'Consistency proof between two checkpoints',
      tags: ['audit'],
      schema: {
        querystring: Type.Object(
          { size1: Type.Integer({ minimum: 1 }), size2: Type.Integer({ minimum: 1 }) },
          { additionalProperties: false },
        ),
        response: { 200: Bundle },
      },
      handler: async (request) => {
        const q = request.query as { size1: number; size2: number };
        return consistencyProofBetween(db, q.size1, q.size2);
      },
    }),
  ];
}
