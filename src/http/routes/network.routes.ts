import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { Prescriptions } from '../../prescribing/prescription.module.js';
import type { Actor, RequestMeta } from '../../prescribing/prescription.types.js';
import type { Database } from '../../db/index.js';
import { DELIVERY_EVENTS, deliveryTimeline } from '../../network/delivery-timeline.js';
import type { NetworkNode } from '../../network/network-node.js';
import type { PrescriberRequest } from '../../network/prescriber-requests.js';
import { PRINT_CSS } from '../../network/print-copy.js';
import { defineRoute, type RouteDef } from '../route.js';
import { policyAllowingStyle } from '../security-headers.js';

/** The printed copy's policy: the site's, plus its one hashed style. */
const PRINT_PAGE_POLICY = policyAllowingStyle(PRINT_CSS);

function actor(request: FastifyRequest): Actor {
  const p = request.principal;
  if (p === undefined) throw new AppError('unauthenticated', 'no principal');
  return {
    tenantId: p.tenantId,
    userId: p.userId,
    sessionId: p.sessionId,
    permissions: p.permissions,
    roles: p.roles,
  };
}

function meta(request: FastifyRequest): RequestMeta {
  return { requestId: request.id, ip: request.ip, userAgent: request.headers['user-agent'] };
}

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

const DeliveryEvent = Type.Object({
  event: Type.Union(DELIVERY_EVENTS.map((e) => Type.Literal(e))),
  code: Nullable(Type.String()),
  messageId: Nullable(Type.String()),
  at: Type.String({ format: 'date-time' }),
});
const Timeline = Type.Object({
  prescriptionId: Type.String(),
  status: Type.String(),
  events: Type.Array(DeliveryEvent),
});

export const FailedTransmissions = Type.Object({
  items: Type.Array(
    Type.Object({ prescriptionId: Type.String(), failedAt: Type.String({ format: 'date-time' }) }),
  ),
});

const RequestView = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('renewal'), Type.Literal('change')]),
  status: Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied')]),
  prescriptionId: Nullable(Type.String()),
  patientId: Nullable(Type.String()),
  pharmacy: Type.Object({ ncpdpId: Type.String(), name: Type.String() }),
  drugDescription: Type.String(),
  changeCode: Nullable(Type.String()),
  receivedAt: Type.String({ format: 'date-time' }),
  decidedAt: Nullable(Type.String({ format: 'date-time' })),
  responseMessageId: Nullable(Type.String()),
  resultPrescriptionId: Nullable(Type.String()),
});

const ApproveBody = Type.Object(
  { note: Type.Optional(Type.String({ minLength: 1, maxLength: 70 })) },
  { additionalProperties: false },
);
const DenyBody = Type.Object(
  {
    reasonCode: Type.String({ pattern: '^[A-Z0-9]{2,3}$' }),
    note: Type.Optional(Type.String({ minLength: 1, maxLength: 70 })),
  },
  { additionalProperties: false },
);

const present = (r: PrescriberRequest) => ({
  ...r,
  receivedAt: r.receivedAt.toISOString(),
  decidedAt: r.decidedAt === null ? null : r.decidedAt.toISOString(),
});

/**
 * The network node's routes for prescribers (issue 8 item 8; docs/network.md): a prescription's
 * delivery timeline (read like the prescription itself: relationship-checked and audited), and
 * the queue of pharmacy renewal and change requests with approve/deny (the answer goes out
 * through the network outbox), and the print path of a failed transmission (21 CFR 1311.170(f)):
 * the prescriber's failed transmissions still to print, and the printed copy itself.
 */
export function networkRoutes(network: NetworkNode, rx: Prescriptions, db: Database): RouteDef[] {
  const tags = ['network'];
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescriptions/:id/delivery',
      permission: 'rx.read',
      summary: 'A prescription’s delivery timeline (queued, sent, acknowledged, dispensed...)',
      tags,
      schema: { params: idParams, response: { 200: Timeline } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const who = actor(request);
        // The relationship check and the audited read of the prescription itself.
        const p = await rx.service.get(who, id, meta(request));
        const events = await db.withTenant(who.tenantId, (tx) => deliveryTimeline(tx, id));
        return {
          prescriptionId: id,
          status: p.status,
          events: events.map((e) => ({ ...e, at: e.at.toISOString() })),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescriptions/:id/print',
      permission: 'rx.sign',
      summary:
        'The printable copy of the caller’s prescription whose transmission failed (1311.170)',
      tags,
      schema: { params: idParams, response: { 200: Type.String() } },
      handler: async (request, reply) => {
        const { id } = request.params as { id: string };
        const who = actor(request);
        // The relationship check and the audited read of the prescription itself.
        await rx.service.get(who, id, meta(request));
        const page = await network.printCopies.print(
          { ...who, requestId: request.id, ip: request.ip },
          id,
        );
        void reply
          .type('text/html; charset=utf-8')
          .header('Cache-Control', 'no-store')
          .header('Content-Security-Policy', PRINT_PAGE_POLICY);
        return page;
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/transmission-failures',
      permission: 'rx.sign',
      summary: 'The caller’s prescriptions whose transmission failed and that are not printed yet',
      tags,
      schema: { response: { 200: FailedTransmissions } },
      handler: async (request) => ({
        items: (await network.printCopies.needingAttention(actor(request))).map((f) => ({
          prescriptionId: f.prescriptionId,
          failedAt: f.failedAt.toISOString(),
        })),
      }),
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescriber-requests',
      permission: 'rx.respond',
      summary: 'Pending renewal and change requests from pharmacies for the caller',
      tags,
      schema: { response: { 200: Type.Object({ items: Type.Array(RequestView) }) } },
      handler: async (request) => ({
        items: (await network.requests.listPending(actor(request))).map(present),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/prescriber-requests/:id/approve',
      permission: 'rx.respond',
      summary: 'Approve a pharmacy request (a renewal also creates the linked renewal draft)',
      tags,
      schema: { params: idParams, body: ApproveBody, response: { 200: RequestView } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const body = request.body as { note?: string };
        return present(
          await network.requests.decide(actor(request), id, {
            decision: 'approve',
            note: body.note,
          }),
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/prescriber-requests/:id/deny',
      permission: 'rx.respond',
      summary: 'Deny a pharmacy request with a SCRIPT reason code',
      tags,
      schema: { params: idParams, body: DenyBody, response: { 200: RequestView } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const body = request.body as { reasonCode: string; note?: string };
        return present(
          await network.requests.decide(actor(request), id, {
            decision: 'deny',
            reasonCode: body.reasonCode,
            note: body.note,
          }),
        );
      },
    }),
  ];
}
