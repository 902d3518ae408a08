import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import { clinicalView, listView, shapeTo } from '../../access/minimum-necessary.js';
import type { Prescriptions } from '../../prescribing/prescription.module.js';
import type { DraftFields, DraftInput } from '../../prescribing/prescription.service.js';
import type { Actor, Prescription, RequestMeta } from '../../prescribing/prescription.types.js';
import type { LogSort } from '../../prescribing/prescriber-log.js';
import { RX_SIGN_ACTION } from '../../prescribing/prescription-signing.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  DraftBody,
  EpcsSignBody,
  Finding,
  PatchBody,
  present,
  ReadyBody,
  RxResponse,
  RxSummary,
  viewSchema,
} from './prescriptions.schemas.js';

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

/** Shapes a prescription to the caller's minimum-necessary view (45 CFR 164.502(b)). */
function shaped(request: FastifyRequest, p: Prescription): unknown {
  const schema = viewSchema(clinicalView(actor(request), 'rx.read'));
  return shapeTo(schema ?? RxSummary, present(p));
}

const idParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const patientParams = Type.Object({ patientId: Type.String({ format: 'uuid' }) });
const tags = ['prescriptions'];

const ReviewItem = Type.Object({
  id: Type.String(),
  status: Type.String(),
  dateOfIssue: Type.String(),
  patientName: Type.String(),
  patientAddress: Type.String(),
  drugName: Type.String(),
  strength: Type.String(),
  dosageForm: Type.String(),
  quantity: Type.String(),
  directions: Type.String(),
  refills: Type.Integer(),
  earliestFillDate: Type.Union([Type.String(), Type.Null()]),
  prescriberName: Type.String(),
  prescriberAddress: Type.String(),
  deaNumber: Type.Union([Type.String(), Type.Null()]),
  schedule: Type.String(),
});

const LogEntry = Type.Object({
  prescriptionId: Type.String(),
  signedAt: Type.String(),
  patientId: Type.String(),
  patientName: Type.String(),
  drugName: Type.String(),
  strength: Type.String(),
  doseForm: Type.String(),
  quantity: Type.String(),
  schedule: Type.String(),
  deaNumber: Type.String(),
  status: Type.String(),
});
const Sort = Type.Union([Type.Literal('date'), Type.Literal('patient'), Type.Literal('drug')]);

const Signed = Type.Object({ prescription: RxResponse, jws: Type.String() });

/**
 * Prescriptions (issue 7): draft, change, ready, sign (non-controlled with a step-up bound to
 * `rx.sign`; controlled through the EPCS review, 21 CFR 1311.140), cancel, renew, change, the
 * prescriber's controlled-substance logs (1311.120(b)(27)). Every route passes the patient
 * relationship check in the domain; a prescription of another tenant or patient answers 404.
 */
export function prescriptionRoutes(rx: Prescriptions): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/prescriptions',
      permission: 'rx.draft',
      summary: 'Draft a prescription (a prescriber, or an agent for a named prescriber)',
      tags,
      schema: { body: DraftBody, response: { 201: RxResponse } },
      handler: async (request, reply) => {
        const p = await rx.service.draft(actor(request), request.body as DraftInput, meta(request));
        void reply.code(201);
        return shaped(request, p);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescriptions/:id',
      permission: 'rx.read',
      summary: 'One prescription (with its JWS once signed), shaped to the caller’s view',
      tags,
      schema: { params: idParams, response: { 200: RxResponse } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        return shaped(request, await rx.service.get(actor(request), id, meta(request)));
      },
    }),
    defineRoute({
      method: 'PATCH',
      url: '/api/v1/prescriptions/:id',
      permission: 'rx.draft',
      summary: 'Change a draft or ready prescription (signed ones are immutable)',
      tags,
      schema: { params: idParams, body: PatchBody, response: { 200: RxResponse } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const patch = request.body as Partial<DraftFields>;
        return shaped(request, await rx.service.update(actor(request), id, patch, meta(request)));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescriptions/:id/safety-checks',
      permission: 'rx.draft',
      summary: 'Run the safety checks now (findings and the keys to override them)',
      tags,
      schema: {
        params: idParams,
        response: { 200: Type.Object({ findings: Type.Array(Finding) }) },
      },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        return { findings: await rx.service.safetyPreview(actor(request), id, meta(request)) };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/prescriptions/:id/ready',
      permission: 'rx.sign',
      summary:
        'The prescriber marks a prescription ready to sign (overriding findings with reasons)',
      tags,
      schema: { params: idParams, body: ReadyBody, response: { 200: RxResponse } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const body = request.body as {
          overrides?: { key: string; reason: string }[];
          deaNumber?: string;
        };
        return shaped(request, await rx.service.markReady(actor(request), id, body, meta(request)));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/prescriptions/:id/sign',
      permission: 'rx.sign',
      stepUp: RX_SIGN_ACTION,
      summary: 'Sign a non-controlled prescription (fresh step-up bound to rx.sign)',
      tags,
      schema: { params: idParams, response: { 200: Signed } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const s = await rx.signing.signNonControlled(actor(request), id, meta(request));
        return { prescription: shaped(request, s.prescription), jws: s.jws };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/prescriptions/:id/cancel',
      permission: 'rx.cancel',
      summary: 'Cancel a prescription (a CancelRx is sent for one already transmitted)',
      tags,
      schema: { params: idParams, response: { 200: RxResponse } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        const who = actor(request);
        const p = await rx.service.cancel(who, id, meta(request), (tx, signed) =>
          rx.signing.enqueueCancel(tx, who.tenantId, signed),
        );
        return shaped(request, p);
      },
    }),
    ...(['renew', 'change'] as const).map((verb) =>
      defineRoute({
        method: 'POST',
        url: `/api/v1/prescriptions/:id/${verb}`,
        permission: 'rx.draft',
        summary: `${verb === 'renew' ? 'Renew' : 'Change'} a signed prescription: a new linked draft`,
        tags,
        schema: { params: idParams, body: PatchBody, response: { 201: RxResponse } },
        handler: async (request, reply) => {
          const { id } = request.params as { id: string };
          const kind = verb === 'renew' ? 'renewal' : 'change';
          const patch = request.body as Partial<DraftFields>;
          const p = await rx.service.derive(actor(request), id, kind, patch, meta(request));
          void reply.code(201);
          return shaped(request, p);
        },
      }),
    ),
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients/:patientId/prescriptions',
      permission: 'rx.read',
      summary: 'A patient’s prescriptions (summaries)',
      tags,
      schema: {
        params: patientParams,
        response: { 200: Type.Object({ prescriptions: Type.Array(RxSummary) }) },
      },
      handler: async (request) => {
        const { patientId } = request.params as { patientId: string };
        const who = actor(request);
        const list = await rx.service.listForPatient(who, patientId, meta(request));
        if (listView(clinicalView(who, 'rx.read')) === 'none') return { prescriptions: [] };
        return { prescriptions: list.map((p) => shapeTo(RxSummary, present(p))) };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients/:patientId/epcs-review',
      permission: 'rx.sign.controlled',
      summary:
        'EPCS signing review: controlled prescriptions awaiting signature, and the attestation',
      tags,
      schema: {
        params: patientParams,
        response: {
          200: Type.Object({
            patientId: Type.String(),
            items: Type.Array(ReviewItem),
            attestation: Type.String(),
            deaNumbers: Type.Array(Type.String()),
          }),
        },
      },
      handler: async (request) => {
        const { patientId } = request.params as { patientId: string };
        return rx.review.review(actor(request), patientId, meta(request));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/:patientId/epcs-sign',
      permission: 'rx.sign.controlled',
      summary:
        'Sign: completing the two-factor authentication (step-up rx.sign.controlled, after the review) signs the listed prescriptions',
      tags,
      schema: {
        params: patientParams,
        body: EpcsSignBody,
        response: { 200: Type.Object({ signed: Type.Array(Signed) }) },
      },
      handler: async (request) => {
        const { patientId } = request.params as { patientId: string };
        const body = request.body as { prescriptionIds: string[]; deaNumber?: string };
        const list = await rx.signing.signControlled(
          actor(request),
          patientId,
          body,
          meta(request),
        );
        return {
          signed: list.map((s) => ({ prescription: shaped(request, s.prescription), jws: s.jws })),
        };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescribers/me/controlled-report',
      permission: 'rx.sign.controlled',
      summary: 'On-demand report of my controlled-substance prescriptions (up to two years)',
      tags,
      schema: {
        querystring: Type.Object(
          {
            from: Type.String({ format: 'date' }),
            to: Type.String({ format: 'date' }),
            sort: Type.Optional(Sort),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ entries: Type.Array(LogEntry) }) },
      },
      handler: async (request) => {
        const q = request.query as { from: string; to: string; sort?: LogSort };
        const entries = await rx.logs.report(
          actor(request),
          {
            from: new Date(`${q.from}T00:00:00Z`),
            to: new Date(`${q.to}T00:00:00Z`),
            sort: q.sort ?? 'date',
          },
          meta(request),
        );
        return { entries };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/prescribers/me/monthly-logs/:month',
      permission: 'rx.sign.controlled',
      summary: 'My monthly log of controlled-substance prescriptions (21 CFR 1311.120(b)(27))',
      tags,
      schema: {
        params: Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$' }) }),
        querystring: Type.Object({ sort: Type.Optional(Sort) }, { additionalProperties: false }),
        response: { 200: Type.Object({ month: Type.String(), entries: Type.Array(LogEntry) }) },
      },
      handler: async (request) => {
        const { month } = request.params as { month: string };
        const { sort } = request.query as { sort?: LogSort };
        const entries = await rx.logs.monthly(actor(request), month, sort ?? 'date', meta(request));
        return { month, entries };
      },
    }),
  ];
}
