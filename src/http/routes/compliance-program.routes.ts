/**
 * The compliance program over HTTP (part A of the compliance issue): the risk register and its
 * leadership report, incidents (compliance-incidents.routes.ts), policies and training
 * (compliance-policies.routes.ts). Reads need `compliance.read`, changes `compliance.manage`
 * (auditors read, compliance officers change); a member acknowledging a policy needs only to be
 * signed in. Everything stays inside the caller's tenant: another tenant's record answers 404,
 * exactly like a missing one. Every change is audited by the domain in its transaction.
 */
import { Type } from '@sinclair/typebox';
import {
  renderRiskReportHtml,
  type ComplianceProgram,
  type RiskInput,
} from '../../compliance/program.js';
import { defineRoute, type RouteDef } from '../route.js';
import { COMPLIANCE_PREFIX, idOf, programActor, tenantOf } from './compliance-http.js';
import { incidentRoutes } from './compliance-incidents.routes.js';
import { policyRoutes } from './compliance-policies.routes.js';
import {
  IdParams,
  NewRiskBody,
  RiskReportSchema,
  RiskRevisionBody,
  RiskSchema,
  TaskSchema,
} from './compliance-program.schemas.js';

type RiskBody = Omit<RiskInput, 'dueDate'> & { dueDate: string | null; reason?: string };

function riskInput(b: RiskBody): RiskInput {
  return {
    title: b.title,
    assetRefs: b.assetRefs,
    threat: b.threat,
    vulnerability: b.vulnerability,
    likelihood: b.likelihood,
    impact: b.impact,
    residualLikelihood: b.residualLikelihood,
    residualImpact: b.residualImpact,
    ownerId: b.ownerId,
    treatment: b.treatment,
    controlIds: b.controlIds,
    acceptanceCriteria: b.acceptanceCriteria,
    dueDate: b.dueDate,
    status: b.status,
  };
}

function riskRoutes(program: ComplianceProgram): RouteDef[] {
  const base = `${COMPLIANCE_PREFIX}/risks`;
  return [
    defineRoute({
      method: 'GET',
      url: base,
      permission: 'compliance.read',
      summary: 'The risk register: the current version of every risk',
      tags: ['compliance'],
      schema: { response: { 200: Type.Object({ risks: Type.Array(RiskSchema) }) } },
      handler: async (request) => ({ risks: await program.risks.list(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: base,
      permission: 'compliance.manage',
      summary: 'Record a risk (45 CFR 164.308(a)(1)(ii)(A))',
      tags: ['compliance'],
      schema: { body: NewRiskBody, response: { 201: RiskSchema } },
      handler: async (request, reply) => {
        const b = request.body as RiskBody;
        const risk = await program.risks.create(programActor(request), riskInput(b), b.reason);
        void reply.code(201);
        return risk;
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${base}/:id`,
      permission: 'compliance.read',
      summary: 'A risk with its full history and reassessment tasks',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        response: {
          200: Type.Object({
            current: RiskSchema,
            history: Type.Array(RiskSchema),
            tasks: Type.Array(TaskSchema),
          }),
        },
      },
      handler: async (request) => program.risks.get(tenantOf(request), idOf(request)),
    }),
    defineRoute({
      method: 'POST',
      url: `${base}/:id/versions`,
      permission: 'compliance.manage',
      summary: 'Revise a risk (a new version; the old ones stay as its history)',
      tags: ['compliance'],
      schema: { params: IdParams, body: RiskRevisionBody, response: { 200: RiskSchema } },
      handler: async (request) => {
        const b = request.body as RiskBody & { baseVersion: number; reason: string };
        return program.risks.revise(
          programActor(request),
          idOf(request),
          b.baseVersion,
          riskInput(b),
          b.reason,
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/reassessments`,
      permission: 'compliance.read',
      summary: 'Reassessment tasks opened by inventory changes',
      tags: ['compliance'],
      schema: {
        querystring: Type.Object(
          {
            status: Type.Optional(
              Type.Union([Type.Literal('open'), Type.Literal('done'), Type.Literal('all')]),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ tasks: Type.Array(TaskSchema) }) },
      },
      handler: async (request) => {
        const q = request.query as { status?: 'open' | 'done' | 'all' };
        return { tasks: await program.risks.tasks(tenantOf(request), q.status ?? 'open') };
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${COMPLIANCE_PREFIX}/reassessments/:id/complete`,
      permission: 'compliance.manage',
      summary: 'Complete a reassessment with the reassessed risk (a new version)',
      tags: ['compliance'],
      schema: {
        params: IdParams,
        body: RiskRevisionBody,
        response: { 200: Type.Object({ task: TaskSchema, risk: RiskSchema }) },
      },
      handler: async (request) => {
        const b = request.body as RiskBody & { baseVersion: number; reason: string };
        return program.risks.completeReassessment(
          programActor(request),
          idOf(request),
          b.baseVersion,
          riskInput(b),
          b.reason,
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/reports/risk`,
      permission: 'compliance.read',
      summary: 'The risk report for leadership, with the inherent and residual heat maps (JSON)',
      tags: ['compliance'],
      schema: { response: { 200: RiskReportSchema } },
      handler: async (request) => program.risks.report(tenantOf(request)),
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/reports/risk.html`,
      permission: 'compliance.read',
      summary: 'The risk report for leadership (HTML, every value escaped)',
      tags: ['compliance'],
      schema: { response: { 200: Type.String() } },
      handler: async (request, reply) => {
        const report = await program.risks.report(tenantOf(request));
        void reply.type('text/html; charset=utf-8');
        return renderRiskReportHtml(report);
      },
    }),
  ];
}

/** Every compliance-program route. */
export function complianceProgramRoutes(program: ComplianceProgram): RouteDef[] {
  return [...riskRoutes(program), ...incidentRoutes(program), ...policyRoutes(program)];
}
export { COMPLIANCE_PREFIX, CONTAINMENT_STEP_UP } from './compliance-http.js';
