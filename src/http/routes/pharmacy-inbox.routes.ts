import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import type { AuditActor } from '../../audit/index.js';
import { clinicalView, shapeTo } from '../../access/minimum-necessary.js';
import type { PharmacyActor, PharmacyModule, RequestMeta } from '../../pharmacy/index.js';
import type { ReceivedPrescription } from '../../pharmacy/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  CancelAnswerBody,
  ChangeBody,
  DispenseBody,
  InboxDispensing,
  InboxQuery,
  InboxSummary,
  itemSchema,
  LocationAnswer,
  LocationBody,
  present,
  RenewalBody,
  SenderAnswer,
  TrustBody,
} from './pharmacy-inbox.schemas.js';

function actor(request: FastifyRequest): PharmacyActor {
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

function auditActor(request: FastifyRequest): AuditActor {
  const a = actor(request);
  return { kind: 'user', userId: a.userId, sessionId: a.sessionId };
}

function meta(request: FastifyRequest): RequestMeta {
  return {
    requestId: request.id,
    ip: request.ip,
    ...(request.headers['user-agent'] === undefined
      ? {}
      : { userAgent: request.headers['user-agent'] }),
  };
}

/** Shapes one received prescription to the caller's minimum-necessary view. */
function shaped(request: FastifyRequest, p: ReceivedPrescription): unknown {
  return shapeTo(itemSchema(clinicalView(actor(request), 'rx.read')), present(p));
}

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const memberParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  userId: Type.String({ format: 'uuid' }),
});
const senderParams = Type.Object({ senderId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,35}$' }) });
const Membership = Type.Object({
  pharmacyId: Type.String(),
  userId: Type.String(),
  member: Type.Boolean(),
});
const Item = Type.Union([InboxDispensing, InboxSummary]);
const tags = ['pharmacy'];

/**
 * The pharmacy side over HTTP (issue 8 item 6; issue 5 point 2). Inbox reads need
 * `pharmacy.receive`, actions `pharmacy.dispense` (a technician reads, only a pharmacist acts),
 * and both membership of the prescription's pharmacy: anything else answers 404 like a missing
 * prescription. Set-up: pharmacies and trusted prescriber systems need `pharmacies.manage`,
 * staff membership (which opens a pharmacy's PHI) `user.admin`.
 */
export function pharmacyInboxRoutes(ph: PharmacyModule): RouteDef[] {
  const act = (
    verb: string,
    summary: string,
    body: Parameters<typeof defineRoute>[0]['schema']['body'],
    run: (request: FastifyRequest, id: string) => Promise<ReceivedPrescription>,
  ): RouteDef =>
    defineRoute({
      method: 'POST',
      url: `/api/v1/pharmacy/inbox/:id/${verb}`,
      permission: 'pharmacy.dispense',
      summary,
      tags,
      schema: {
        params: idParams,
        ...(body === undefined ? {} : { body }),
        response: { 200: Item },
      },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        return shaped(request, await run(request, id));
      },
    });
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/pharmacy/inbox',
      permission: 'pharmacy.receive',
      summary: "Received prescriptions of the caller's pharmacies (summaries, newest first)",
      tags,
      schema: {
        querystring: InboxQuery,
        response: { 200: Type.Object({ items: Type.Array(InboxSummary) }) },
      },
      handler: async (request) => {
        const q = request.query as Static<typeof InboxQuery>;
        const who = actor(request);
        const items = await ph.inbox.list(
          who,
          {
            ...(q.status === undefined
              ? {}
              : { status: q.status as ReceivedPrescription['status'] }),
            limit: q.limit,
            offset: q.offset,
          },
          meta(request),
        );
        // Lists are summaries whatever the role (minimum necessary, 45 CFR 164.514(d)).
        return { items: items.map((p) => shapeTo(InboxSummary, present(p))) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/pharmacy/inbox/:id',
      permission: 'pharmacy.receive',
      summary: 'One received prescription with its signature verification (dispensing view)',
      tags,
      schema: { params: idParams, response: { 200: Item } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        return shaped(request, await ph.inbox.get(actor(request), id, meta(request)));
      },
    }),
    act(
      'accept',
      'Accept a received prescription (Status 000 "accepted by pharmacy" to the prescriber)',
      undefined,
      (request, id) => ph.inbox.accept(actor(request), id, meta(request)),
    ),
    act(
      'dispense',
      'Record a fill (RxFill Dispensed or PartiallyDispensed)',
      DispenseBody,
      (request, id) =>
        ph.inbox.dispense(
          actor(request),
          id,
          request.body as Static<typeof DispenseBody>,
          meta(request),
        ),
    ),
    act(
      'cancel-response',
      "Answer the prescriber's CancelRx (CancelRxResponse Approved or Denied)",
      CancelAnswerBody,
      (request, id) => {
        const b = request.body as Static<typeof CancelAnswerBody>;
        if (b.decision === 'deny' && b.reasonCode === undefined) {
          throw new AppError('validation_failed', 'a denial needs a reason code', {
            detail: 'reasonCode',
          });
        }
        return ph.inbox.answerCancel(
          actor(request),
          id,
          b.decision === 'approve'
            ? { decision: 'approve', ...(b.note === undefined ? {} : { note: b.note }) }
            : {
                decision: 'deny',
                reasonCode: b.reasonCode ?? '',
                ...(b.reason === undefined ? {} : { reason: b.reason }),
              },
          meta(request),
        );
      },
    ),
    act(
      'renewal-request',
      'Ask the prescriber to renew (RxRenewalRequest)',
      RenewalBody,
      (request, id) =>
        ph.inbox.requestRenewal(
          actor(request),
          id,
          request.body as Static<typeof RenewalBody>,
          meta(request),
        ),
    ),
    act(
      'change-request',
      'Ask the prescriber for a change (RxChangeRequest with a MessageRequestCode)',
      ChangeBody,
      (request, id) =>
        ph.inbox.requestChange(
          actor(request),
          id,
          request.body as Parameters<PharmacyModule['inbox']['requestChange']>[2],
          meta(request),
        ),
    ),
    defineRoute({
      method: 'GET',
      url: '/api/v1/pharmacy/locations',
      permission: 'pharmacies.read',
      summary: "The tenant's pharmacies (NCPDP IDs) and their staff",
      tags,
      schema: { response: { 200: Type.Object({ items: Type.Array(LocationAnswer) }) } },
      handler: async (request) => ({
        items: await ph.setup.listLocations(actor(request).tenantId),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/pharmacy/locations',
      permission: 'pharmacies.manage',
      summary: 'Add a pharmacy of this tenant (the NCPDP ID the network addresses)',
      tags,
      schema: { body: LocationBody, response: { 201: LocationAnswer } },
      handler: async (request, reply) => {
        const b = request.body as Static<typeof LocationBody>;
        const loc = await ph.setup.createLocation(actor(request).tenantId, b, auditActor(request));
        void reply.code(201);
        return loc;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/pharmacy/locations/:id/members/:userId',
      permission: 'user.admin',
      summary: "Make a user staff of a pharmacy (opens that pharmacy's inbox to them)",
      tags,
      schema: { params: memberParams, response: { 200: Membership } },
      handler: async (request) => {
        const { id, userId } = request.params as Static<typeof memberParams>;
        await ph.setup.addMember(actor(request).tenantId, id, userId, auditActor(request));
        return { pharmacyId: id, userId, member: true };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/pharmacy/locations/:id/members/:userId',
      permission: 'user.admin',
      summary: 'Remove a user from the staff of a pharmacy',
      tags,
      schema: { params: memberParams, response: { 200: Membership } },
      handler: async (request) => {
        const { id, userId } = request.params as Static<typeof memberParams>;
        await ph.setup.removeMember(actor(request).tenantId, id, userId, auditActor(request));
        return { pharmacyId: id, userId, member: false };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/pharmacy/trusted-senders',
      permission: 'pharmacies.manage',
      summary: 'Prescriber systems whose signed prescriptions this tenant accepts',
      tags,
      schema: { response: { 200: Type.Object({ items: Type.Array(SenderAnswer) }) } },
      handler: async (request) => ({
        items: (await ph.setup.listSenders(actor(request).tenantId)).map((s) => ({
          ...s,
          kids: [...s.kids],
          updatedAt: s.updatedAt.toISOString(),
        })),
      }),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/pharmacy/trusted-senders/:senderId',
      permission: 'pharmacies.manage',
      summary: "Register or replace a prescriber system's JWKS (its network id is Header From)",
      tags,
      schema: { params: senderParams, body: TrustBody, response: { 200: SenderAnswer } },
      handler: async (request) => {
        const { senderId } = request.params as Static<typeof senderParams>;
        const b = request.body as Static<typeof TrustBody>;
        const s = await ph.setup.trustSender(
          actor(request).tenantId,
          senderId,
          b.jwks,
          auditActor(request),
        );
        return { ...s, kids: [...s.kids], updatedAt: s.updatedAt.toISOString() };
      },
    }),
  ];
}
