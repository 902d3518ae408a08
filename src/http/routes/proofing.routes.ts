import { Type } from '@sinclair/typebox';
import {
  type AuthenticationResponseJSON,
  EPCS_APPROVE_ACTION,
  EVIDENCE_TYPES,
  type EpcsChange,
  type EpcsPermissionRequest,
  type Identity,
  type Proofing,
  type ProofingInput,
} from '../../identity/index.js';
import { AppError } from '../../core/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import { caller, requestMeta } from './auth.routes.js';
import { AuthenticationResponse } from './webauthn.schemas.js';

/** The step-up action binding a credential to the caller's proofing (proves possession). */
export const BIND_ACTION = 'epcs.credential.bind';

const Uuid = Type.String({ format: 'uuid' });
const DateTime = Type.String({ format: 'date-time' });
const DateOnly = Type.String({ format: 'date' });

const ProofingAnswer = Type.Object({
  id: Type.String(),
  userId: Type.String(),
  npi: Type.String(),
  ial: Type.String(),
  evidence: Type.Array(Type.Object({ type: Type.String(), reference: Type.String() })),
  proofedBy: Type.String(),
  proofedAt: DateTime,
  status: Type.String(),
  dea: Type.Array(
    Type.Object({
      deaNumber: Type.String(),
      schedules: Type.Array(Type.String()),
      state: Type.String(),
      expiresOn: DateOnly,
    }),
  ),
  licences: Type.Array(
    Type.Object({ state: Type.String(), number: Type.String(), expiresOn: DateOnly }),
  ),
  boundCredentials: Type.Array(
    Type.Object({ type: Type.String(), id: Type.String(), boundAt: DateTime }),
  ),
});

const RequestAnswer = Type.Object({
  id: Type.String(),
  prescriberId: Type.String(),
  change: Type.String(),
  requestedBy: Type.String(),
  requestedAt: DateTime,
  expiresAt: DateTime,
  status: Type.String(),
  approvedBy: Type.Union([Type.String(), Type.Null()]),
  approvedAt: Type.Union([DateTime, Type.Null()]),
});

function proofingJson(p: Proofing): Record<string, unknown> {
  return {
    ...p,
    proofedAt: p.proofedAt.toISOString(),
    boundCredentials: p.boundCredentials.map((b) => ({ ...b, boundAt: b.boundAt.toISOString() })),
  };
}

function requestJson(r: EpcsPermissionRequest): Record<string, unknown> {
  return {
    ...r,
    requestedAt: r.requestedAt.toISOString(),
    expiresAt: r.expiresAt.toISOString(),
    approvedAt: r.approvedAt?.toISOString() ?? null,
  };
}

/**
 * Prescriber identity proofing (21 CFR 1311.105) and the two-person EPCS permission
 * (21 CFR 1311.125). Administrators (user.admin) proof and enter requests; the approval needs a
 * DEA registrant with a fresh step-up for `epcs.permission.approve`.
 */
export function proofingRoutes(identity: Identity): RouteDef[] {
  return [
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/proofings',
      permission: 'user.admin',
      summary: "Record a prescriber's identity proofing, verified against the registry",
      tags: ['identity'],
      schema: {
        body: Type.Object(
          {
            userId: Uuid,
            npi: Type.String({ pattern: '^[0-9]{10}$' }),
            deaNumbers: Type.Array(Type.String({ pattern: '^[A-Za-z][A-Za-z9][0-9]{7}$' }), {
              maxItems: 20,
            }),
            licences: Type.Array(
              Type.Object(
                {
                  state: Type.String({ pattern: '^[A-Z]{2}$' }),
                  number: Type.String({ pattern: '^[A-Z0-9-]{1,40}$' }),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 60 },
            ),
            evidence: Type.Array(
              Type.Object(
                {
                  type: Type.Union(EVIDENCE_TYPES.map((t) => Type.Literal(t))),
                  reference: Type.String({ minLength: 1, maxLength: 200 }),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 10 },
            ),
            ial: Type.Literal('IAL2'),
          },
          { additionalProperties: false },
        ),
        response: { 201: ProofingAnswer },
      },
      handler: async (request, reply) => {
        const p = await identity.proofing.record(
          caller(request),
          request.body as ProofingInput,
          requestMeta(request),
        );
        void reply.code(201);
        return proofingJson(p);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/identity/proofings/:userId',
      permission: 'user.admin',
      summary: "A user's active proofing in this tenant",
      tags: ['identity'],
      schema: { params: Type.Object({ userId: Uuid }), response: { 200: ProofingAnswer } },
      handler: async (request) => {
        const { userId } = request.params as { userId: string };
        const p = await identity.proofing.get(caller(request).tenantId, userId);
        if (p === undefined) throw new AppError('not_found', 'no active proofing');
        return proofingJson(p);
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/proofing/bind-credential',
      permission: 'authenticated',
      stepUp: BIND_ACTION,
      summary:
        "Bind the caller's TOTP (enrolled after proofing) to their proofing; needs a step-up",
      tags: ['identity'],
      schema: { response: { 200: ProofingAnswer } },
      handler: async (request) =>
        proofingJson(await identity.proofing.bindTotp(caller(request), requestMeta(request))),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/identity/proofing/bind-passkey',
      permission: 'authenticated',
      summary:
        "Bind one of the caller's passkeys (registered after proofing) to their proofing: an assertion from that passkey over a step-up challenge for epcs.credential.bind",
      tags: ['identity', 'webauthn'],
      schema: {
        body: Type.Object({ response: AuthenticationResponse }, { additionalProperties: false }),
        response: { 200: ProofingAnswer },
      },
      handler: async (request) => {
        const c = caller(request);
        const meta = requestMeta(request);
        const { response } = request.body as { response: AuthenticationResponseJSON };
        const credentialId = await identity.webauthn.provePossession(
          c,
          BIND_ACTION,
          response,
          meta,
        );
        return proofingJson(await identity.proofing.bindPasskey(c, credentialId, meta));
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/epcs/permission-requests',
      permission: 'epcs.grant',
      summary: 'Enter a grant or revocation of EPCS signing permission (a second person approves)',
      tags: ['epcs'],
      schema: {
        body: Type.Object(
          {
            prescriberId: Uuid,
            change: Type.Union([Type.Literal('grant'), Type.Literal('revoke')]),
          },
          { additionalProperties: false },
        ),
        response: { 201: RequestAnswer },
      },
      handler: async (request, reply) => {
        const b = request.body as { prescriberId: string; change: EpcsChange };
        const r = await identity.epcs.request(
          caller(request),
          b.prescriberId,
          b.change,
          requestMeta(request),
        );
        void reply.code(201);
        return requestJson(r);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/epcs/permission-requests',
      permission: 'epcs.grant',
      summary: 'EPCS permission requests of this tenant',
      tags: ['epcs'],
      schema: { response: { 200: Type.Object({ requests: Type.Array(RequestAnswer) }) } },
      handler: async (request) => ({
        requests: (await identity.epcs.list(caller(request).tenantId)).map(requestJson),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/epcs/permission-requests/:id/approve',
      permission: 'authenticated',
      stepUp: EPCS_APPROVE_ACTION,
      summary: 'Approve an EPCS permission change (a second person, a DEA registrant, step-up)',
      tags: ['epcs'],
      schema: { params: Type.Object({ id: Uuid }), response: { 200: RequestAnswer } },
      handler: async (request) => {
        const { id } = request.params as { id: string };
        return requestJson(await identity.epcs.approve(caller(request), id, requestMeta(request)));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/epcs/permissions/:userId',
      permission: 'epcs.grant',
      summary: "A prescriber's current EPCS signing permission",
      tags: ['epcs'],
      schema: {
        params: Type.Object({ userId: Uuid }),
        response: {
          200: Type.Object({
            userId: Type.String(),
            granted: Type.Boolean(),
            changedAt: Type.Union([DateTime, Type.Null()]),
            requestId: Type.Union([Type.String(), Type.Null()]),
          }),
        },
      },
      handler: async (request) => {
        const { userId } = request.params as { userId: string };
        const s = await identity.epcs.current(caller(request).tenantId, userId);
        return {
          userId,
          granted: s.granted,
          changedAt: s.changedAt?.toISOString() ?? null,
          requestId: s.requestId ?? null,
        };
      },
    }),
  ];
}
