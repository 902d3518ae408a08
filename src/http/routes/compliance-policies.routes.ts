/**
 * Policies and training over HTTP (45 CFR 164.316, 164.308(a)(5)). Compliance officers write and
 * approve policies (never their own version) and record training; every signed-in member reads
 * the policies in force and acknowledges them for themselves.
 */
import { Type } from '@sinclair/typebox';
import type { ComplianceProgram, PolicyContent, TrainingInput } from '../../compliance/program.js';
import { defineRoute, type RouteDef } from '../route.js';
import { COMPLIANCE_PREFIX, idOf, programActor, tenantOf } from './compliance-http.js';
import { IdParams } from './compliance-program.schemas.js';
import {
  MyPolicySchema,
  NewPolicyBody,
  PolicyDetailSchema,
  PolicyReviewBody,
  PolicyRevisionBody,
  PolicySummarySchema,
  TrainingBody,
  TrainingSchema,
} from './compliance-policies.schemas.js';

const POLICIES = `${COMPLIANCE_PREFIX}/policies`;
const tags = ['compliance'];
const VersionParams = Type.Object({
  id: Type.String({ format: 'uuid' }),
  version: Type.Integer({ minimum: 1 }),
});

function content(b: PolicyContent): PolicyContent {
  return {
    title: b.title,
    body: b.body,
    effectiveDate: b.effectiveDate,
    reviewCycleMonths: b.reviewCycleMonths,
    acknowledgementDays: b.acknowledgementDays,
  };
}

export function policyRoutes(program: ComplianceProgram): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: POLICIES,
      permission: 'compliance.read',
      summary: 'Policies: latest and in-force versions, next review, acknowledgements',
      tags,
      schema: { response: { 200: Type.Object({ policies: Type.Array(PolicySummarySchema) }) } },
      handler: async (request) => ({ policies: await program.policies.list(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: POLICIES,
      permission: 'compliance.manage',
      summary: 'Create a policy (its first version, authored by you, awaiting approval)',
      tags,
      schema: { body: NewPolicyBody, response: { 201: PolicyDetailSchema } },
      handler: async (request, reply) => {
        const b = request.body as PolicyContent & { key: string };
        const p = await program.policies.create(programActor(request), b.key, content(b));
        void reply.code(201);
        return p;
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${POLICIES}/:id`,
      permission: 'compliance.read',
      summary: 'A policy with every version, review and missing acknowledgement',
      tags,
      schema: { params: IdParams, response: { 200: PolicyDetailSchema } },
      handler: async (request) => program.policies.get(tenantOf(request), idOf(request)),
    }),
    defineRoute({
      method: 'POST',
      url: `${POLICIES}/:id/versions`,
      permission: 'compliance.manage',
      summary: 'A new version of a policy (authored by you, awaiting approval)',
      tags,
      schema: { params: IdParams, body: PolicyRevisionBody, response: { 200: PolicyDetailSchema } },
      handler: async (request) => {
        const b = request.body as PolicyContent & { baseVersion: number; reason: string };
        return program.policies.revise(
          programActor(request),
          idOf(request),
          b.baseVersion,
          content(b),
          b.reason,
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${POLICIES}/:id/versions/:version/approve`,
      permission: 'compliance.manage',
      summary: 'Approve the newest version of a policy (not your own)',
      tags,
      schema: { params: VersionParams, response: { 200: PolicyDetailSchema } },
      handler: async (request) => {
        const { id, version } = request.params as { id: string; version: number };
        return program.policies.approve(programActor(request), id, version);
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${POLICIES}/:id/reviews`,
      permission: 'compliance.manage',
      summary: 'Record the periodic review of the version in force (sets the next review)',
      tags,
      schema: { params: IdParams, body: PolicyReviewBody, response: { 200: PolicyDetailSchema } },
      handler: async (request) => {
        const b = request.body as { outcome: string; note?: string | null; reviewedOn?: string };
        return program.policies.review(programActor(request), idOf(request), {
          outcome: b.outcome,
          note: b.note ?? null,
          ...(b.reviewedOn === undefined ? {} : { reviewedOn: b.reviewedOn }),
        });
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/me/policies',
      permission: 'authenticated',
      summary: 'The policies in force for you to read and acknowledge',
      tags,
      schema: { response: { 200: Type.Object({ policies: Type.Array(MyPolicySchema) }) } },
      handler: async (request) => ({
        policies: await program.policies.mine(programActor(request)),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/me/policies/:id/versions/:version/acknowledge',
      permission: 'authenticated',
      summary: 'Acknowledge that you read an approved policy version',
      tags,
      schema: {
        params: VersionParams,
        response: {
          200: Type.Object({
            policyId: Type.String(),
            version: Type.Integer(),
            acknowledgedAt: Type.String({ format: 'date-time' }),
          }),
        },
      },
      handler: async (request) => {
        const { id, version } = request.params as { id: string; version: number };
        return program.policies.acknowledge(programActor(request), id, version);
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/training`,
      permission: 'compliance.read',
      summary: 'The training record in force per member and course, with its state',
      tags,
      schema: { response: { 200: Type.Object({ records: Type.Array(TrainingSchema) }) } },
      handler: async (request) => ({ records: await program.training.current(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/training/history`,
      permission: 'compliance.read',
      summary: 'Every training record (corrections included), optionally for one member',
      tags,
      schema: {
        querystring: Type.Object(
          { userId: Type.Optional(Type.String({ format: 'uuid' })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ records: Type.Array(TrainingSchema) }) },
      },
      handler: async (request) => ({
        records: await program.training.history(
          tenantOf(request),
          (request.query as { userId?: string }).userId,
        ),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: `${COMPLIANCE_PREFIX}/training`,
      permission: 'compliance.manage',
      summary: 'Record a completed training (or correct an earlier record)',
      tags,
      schema: { body: TrainingBody, response: { 201: TrainingSchema } },
      handler: async (request, reply) => {
        const b = request.body as Omit<TrainingInput, 'evidenceRef' | 'supersedes'> & {
          evidenceRef?: string | null;
          supersedes?: string | null;
        };
        const r = await program.training.record(programActor(request), {
          ...b,
          evidenceRef: b.evidenceRef ?? null,
          supersedes: b.supersedes ?? null,
        });
        void reply.code(201);
        return r;
      },
    }),
  ];
}
