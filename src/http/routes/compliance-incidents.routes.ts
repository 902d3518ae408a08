/**
 * Incidents over HTTP (45 CFR 164.308(a)(6)): the incident record and timeline, playbooks,
 * containment actions (step-up required), preserved audit evidence, the breach assessment and
 * clock (164.402-164.410), the draft notice letter, and tabletop exercises.
 */
import { Type } from '@sinclair/typebox';
import { AppError } from '../../core/index.js';
import type {
  BreachAssessmentInput,
  ComplianceProgram,
  ContainmentRequest,
  IncidentChange,
  NewIncident,
  NoticeRecipient,
  PlaybookItem,
  TabletopInput,
} from '../../compliance/program.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  CONTAINMENT_STEP_UP,
  COMPLIANCE_PREFIX,
  idOf,
  programActor,
  tenantOf,
} from './compliance-http.js';
import {
  ChecklistItemSchema,
  ContainmentBody,
  ContainmentResultSchema,
  EvidenceBody,
  EvidenceSchema,
  IdParams,
  IncidentDetailSchema,
  IncidentSummarySchema,
  IncidentUpdateBody,
  NewIncidentBody,
  PlaybookBody,
  PlaybookSchema,
  TabletopBody,
  TabletopRevisionBody,
  TabletopSchema,
  TimelineEntrySchema,
} from './compliance-program.schemas.js';
import {
  AssessmentBody,
  AssessmentSchema,
  BreachViewSchema,
  LetterSchema,
  NoticeBody,
  NoticeRecordSchema,
} from './compliance-breach.schemas.js';

const INCIDENTS = `${COMPLIANCE_PREFIX}/incidents`;
const tags = ['compliance'];

function containmentRequest(b: {
  action: ContainmentRequest['action'];
  userId?: string;
  integrationId?: string;
}): ContainmentRequest {
  const need = (field: string, v: string | undefined): string => {
    if (v === undefined) {
      throw new AppError('validation_failed', `${field} is required for ${b.action}`, {
        detail: field,
      });
    }
    return v;
  };
  switch (b.action) {
    case 'end_sessions':
    case 'disable_account':
      return { action: b.action, userId: need('userId', b.userId) };
    case 'suspend_integration':
      return { action: b.action, integrationId: need('integrationId', b.integrationId) };
    case 'rotate_keys':
      return { action: b.action };
  }
}

export function incidentRoutes(program: ComplianceProgram): RouteDef[] {
  return [
    defineRoute({
      method: 'GET',
      url: INCIDENTS,
      permission: 'compliance.read',
      summary: 'Incidents of your tenant, newest first',
      tags,
      schema: { response: { 200: Type.Object({ incidents: Type.Array(IncidentSummarySchema) }) } },
      handler: async (request) => ({ incidents: await program.incidents.list(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: INCIDENTS,
      permission: 'compliance.manage',
      summary: "Open an incident (with the category's playbook checklist)",
      tags,
      schema: { body: NewIncidentBody, response: { 201: IncidentDetailSchema } },
      handler: async (request, reply) => {
        const b = request.body as Omit<NewIncident, 'roles'> & { roles?: NewIncident['roles'] };
        const detail = await program.incidents.create(programActor(request), {
          ...b,
          roles: b.roles ?? {},
        });
        void reply.code(201);
        return detail;
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${INCIDENTS}/:id`,
      permission: 'compliance.read',
      summary: 'An incident: history, checklist, timeline and preserved evidence',
      tags,
      schema: { params: IdParams, response: { 200: IncidentDetailSchema } },
      handler: async (request) => program.incidents.get(tenantOf(request), idOf(request)),
    }),
    defineRoute({
      method: 'POST',
      url: `${INCIDENTS}/:id/versions`,
      permission: 'compliance.manage',
      summary: 'Update an incident (severity, status, roles, lessons learned): a new version',
      tags,
      schema: {
        params: IdParams,
        body: IncidentUpdateBody,
        response: { 200: IncidentDetailSchema },
      },
      handler: async (request) => {
        const { baseVersion, reason, ...change } = request.body as IncidentChange & {
          baseVersion: number;
          reason: string;
        };
        return program.incidents.update(
          programActor(request),
          idOf(request),
          baseVersion,
          change,
          reason,
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${INCIDENTS}/:id/notes`,
      permission: 'compliance.manage',
      summary: 'Add a note to the incident timeline',
      tags,
      schema: {
        params: IdParams,
        body: Type.Object(
          { text: Type.String({ minLength: 1, maxLength: 4000 }) },
          { additionalProperties: false },
        ),
        response: { 201: TimelineEntrySchema },
      },
      handler: async (request, reply) => {
        const entry = await program.incidents.addNote(
          programActor(request),
          idOf(request),
          (request.body as { text: string }).text,
        );
        void reply.code(201);
        return entry;
      },
    }),
    defineRoute({
      method: 'PUT',
      url: `${INCIDENTS}/:id/checklist/:item`,
      permission: 'compliance.manage',
      summary: 'Tick or untick a playbook checklist item',
      tags,
      schema: {
        params: Type.Object({
          id: Type.String({ format: 'uuid' }),
          item: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
        }),
        body: Type.Object({ done: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(ChecklistItemSchema) }) },
      },
      handler: async (request) => {
        const { id, item } = request.params as { id: string; item: string };
        return {
          items: await program.incidents.setChecklistItem(
            programActor(request),
            id,
            item,
            (request.body as { done: boolean }).done,
          ),
        };
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${INCIDENTS}/:id/containment`,
      permission: 'compliance.manage',
      stepUp: CONTAINMENT_STEP_UP,
      summary:
        "Run a containment action: end a user's sessions, disable an account, suspend an integration, or request a key rotation (step-up)",
      tags,
      schema: {
        params: IdParams,
        body: ContainmentBody,
        response: { 200: ContainmentResultSchema },
      },
      handler: async (request) => {
        const b = request.body as Parameters<typeof containmentRequest>[0] & { note?: string };
        return program.containment.run(
          programActor(request),
          idOf(request),
          containmentRequest(b),
          b.note,
        );
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${INCIDENTS}/:id/evidence`,
      permission: 'compliance.manage',
      summary: 'Preserve an audit range with the signed checkpoint and inclusion proofs',
      tags,
      schema: { params: IdParams, body: EvidenceBody, response: { 201: EvidenceSchema } },
      handler: async (request, reply) => {
        const b = request.body as { fromSeq: number; toSeq: number; note?: string };
        const e = await program.evidence.preserve(
          programActor(request),
          idOf(request),
          b.fromSeq,
          b.toSeq,
          b.note,
        );
        void reply.code(201);
        return e;
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${INCIDENTS}/:id/evidence/:evidenceId`,
      permission: 'compliance.read',
      summary: 'Preserved evidence with its checkpoint and proofs (scrip audit verify-proof)',
      tags,
      schema: {
        params: Type.Object({
          id: Type.String({ format: 'uuid' }),
          evidenceId: Type.String({ format: 'uuid' }),
        }),
        response: { 200: EvidenceSchema },
      },
      handler: async (request) => {
        const { id, evidenceId } = request.params as { id: string; evidenceId: string };
        return program.evidence.get(tenantOf(request), id, evidenceId);
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${INCIDENTS}/:id/breach`,
      permission: 'compliance.read',
      summary: 'The breach assessment, the notice deadlines as of today, and the notices sent',
      tags,
      schema: { params: IdParams, response: { 200: BreachViewSchema } },
      handler: async (request) => program.breach.view(tenantOf(request), idOf(request)),
    }),
    defineRoute({
      method: 'GET',
      url: `${INCIDENTS}/:id/breach/assessments`,
      permission: 'compliance.read',
      summary: 'Every version of the four-factor breach assessment',
      tags,
      schema: {
        params: IdParams,
        response: { 200: Type.Object({ assessments: Type.Array(AssessmentSchema) }) },
      },
      handler: async (request) => ({
        assessments: await program.breach.history(tenantOf(request), idOf(request)),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: `${INCIDENTS}/:id/breach/assessments`,
      permission: 'compliance.manage',
      summary: 'Record the four-factor risk assessment (45 CFR 164.402(2)) and its decision',
      tags,
      schema: { params: IdParams, body: AssessmentBody, response: { 200: BreachViewSchema } },
      handler: async (request) => {
        const { baseVersion, ...input } = request.body as BreachAssessmentInput & {
          baseVersion: number;
        };
        return program.breach.assess(programActor(request), idOf(request), baseVersion, input);
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${INCIDENTS}/:id/breach/notices`,
      permission: 'compliance.manage',
      summary: 'Record a breach notice sent (individuals, HHS, media, covered entity)',
      tags,
      schema: { params: IdParams, body: NoticeBody, response: { 201: NoticeRecordSchema } },
      handler: async (request, reply) => {
        const b = request.body as {
          recipient: NoticeRecipient;
          jurisdiction?: string | null;
          sentOn: string;
          method: string;
          recipientsCount?: number | null;
        };
        const notice = await program.breach.recordNotice(programActor(request), idOf(request), {
          recipient: b.recipient,
          jurisdiction: b.jurisdiction ?? null,
          sentOn: b.sentOn,
          method: b.method,
          recipientsCount: b.recipientsCount ?? null,
        });
        void reply.code(201);
        return notice;
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${INCIDENTS}/:id/breach/letter`,
      permission: 'compliance.read',
      summary: 'Draft individual notice with the 45 CFR 164.404(c) elements (placeholders, no PHI)',
      tags,
      schema: { params: IdParams, response: { 200: LetterSchema } },
      handler: async (request) => program.breach.letter(tenantOf(request), idOf(request)),
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/playbooks`,
      permission: 'compliance.read',
      summary: 'The incident playbook in force for every category',
      tags,
      schema: { response: { 200: Type.Object({ playbooks: Type.Array(PlaybookSchema) }) } },
      handler: async (request) => ({ playbooks: await program.playbooks.list(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/playbooks/:category`,
      permission: 'compliance.read',
      summary: "Every version of a category's playbook, the shipped default first",
      tags,
      schema: {
        params: Type.Object({ category: Type.String({ maxLength: 64 }) }),
        response: { 200: Type.Object({ versions: Type.Array(PlaybookSchema) }) },
      },
      handler: async (request) => ({
        versions: await program.playbooks.history(
          tenantOf(request),
          (request.params as { category: string }).category,
        ),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: `${COMPLIANCE_PREFIX}/playbooks/:category/versions`,
      permission: 'compliance.manage',
      summary: "Edit a category's playbook (a new version)",
      tags,
      schema: {
        params: Type.Object({ category: Type.String({ maxLength: 64 }) }),
        body: PlaybookBody,
        response: { 200: PlaybookSchema },
      },
      handler: async (request) => {
        const b = request.body as { baseVersion: number; items: PlaybookItem[]; reason: string };
        return program.playbooks.update(
          programActor(request),
          (request.params as { category: string }).category,
          b.baseVersion,
          b.items,
          b.reason,
        );
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${COMPLIANCE_PREFIX}/tabletops`,
      permission: 'compliance.read',
      summary: 'Tabletop exercises, most recent first',
      tags,
      schema: { response: { 200: Type.Object({ exercises: Type.Array(TabletopSchema) }) } },
      handler: async (request) => ({ exercises: await program.tabletops.list(tenantOf(request)) }),
    }),
    defineRoute({
      method: 'POST',
      url: `${COMPLIANCE_PREFIX}/tabletops`,
      permission: 'compliance.manage',
      summary: 'Record a tabletop exercise',
      tags,
      schema: { body: TabletopBody, response: { 201: TabletopSchema } },
      handler: async (request, reply) => {
        const x = await program.tabletops.record(
          programActor(request),
          request.body as TabletopInput,
        );
        void reply.code(201);
        return x;
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${COMPLIANCE_PREFIX}/tabletops/:id/versions`,
      permission: 'compliance.manage',
      summary: 'Correct a tabletop exercise record (a new version)',
      tags,
      schema: { params: IdParams, body: TabletopRevisionBody, response: { 200: TabletopSchema } },
      handler: async (request) => {
        const { baseVersion, reason, ...input } = request.body as TabletopInput & {
          baseVersion: number;
          reason: string;
        };
        return program.tabletops.revise(
          programActor(request),
          idOf(request),
          baseVersion,
          input,
          reason,
        );
      },
    }),
  ];
}
