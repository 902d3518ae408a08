import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../../core/index.js';
import {
  CareTeamMemberView,
  PATIENT_PAGE_MAX,
  PatientFullView,
  PatientSummaryView,
  type PatientQuery,
  type Patients,
} from '../../prescribing/index.js';
import { problem } from '../problem.js';
import { defineRoute, type RouteDef } from '../route.js';
import { ProblemSchema } from '../problem.js';
import { patientClinicalRoutes } from './patient-clinical.routes.js';
import {
  accessMeta,
  Created,
  Id,
  IsoDate,
  PatientParams,
  patientActor,
  Text,
} from './patient-http.js';

export const PatientBody = Type.Object(
  {
    givenName: Text(100),
    familyName: Text(100),
    birthDate: IsoDate,
    mrn: Type.Optional(Text(40)),
    phone: Type.Optional(Text(40)),
    address: Type.Optional(Text(500)),
    identifiers: Type.Optional(
      Type.Array(
        Type.Object({ system: Text(200), value: Text(100) }, { additionalProperties: false }),
        {
          maxItems: 10,
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const CreateBody = Type.Composite(
  [PatientBody, Type.Object({ confirmNotDuplicate: Type.Optional(Type.Boolean()) })],
  { additionalProperties: false },
);

/** One search kind per request; the terms travel in the body only, never in the URL. */
const SearchBody = Type.Object(
  {
    familyName: Type.Optional(Text(100)),
    birthDate: Type.Optional(IsoDate),
    mrn: Type.Optional(Text(40)),
    phone: Type.Optional(Text(40)),
  },
  { additionalProperties: false },
);

const DuplicateProblem = Type.Composite([
  ProblemSchema,
  Type.Object({ candidates: Type.Array(Type.String()) }),
]);

const Summaries = Type.Object({ patients: Type.Array(PatientSummaryView) });

/** Turns the search body into exactly one blind-index query, or 400. */
export function searchQuery(b: Static<typeof SearchBody>): PatientQuery {
  const kinds: PatientQuery[] = [];
  if (b.familyName !== undefined || b.birthDate !== undefined) {
    if (b.familyName === undefined || b.birthDate === undefined) {
      throw new AppError('validation_failed', 'familyName and birthDate go together', {
        detail: 'familyName,birthDate',
      });
    }
    kinds.push({ by: 'name_dob', familyName: b.familyName, birthDate: b.birthDate });
  }
  if (b.mrn !== undefined) kinds.push({ by: 'mrn', mrn: b.mrn });
  if (b.phone !== undefined) kinds.push({ by: 'phone', phone: b.phone });
  const [only, ...more] = kinds;
  if (only === undefined || more.length > 0) {
    throw new AppError('validation_failed', 'search by one of: familyName+birthDate, mrn, phone', {
      detail: 'search',
    });
  }
  return only;
}

/**
 * Patients over HTTP (issue 7 item 1). PHI never travels in a URL: searches are POSTed. Every
 * answer is shaped by the service to the caller's minimum-necessary view and the response
 * schemas declare nothing beyond the widest (full) view, so the serializer drops anything else.
 */
export function patientRoutes(p: Patients): RouteDef[] {
  const tags = ['patients'];
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients',
      permission: 'patient.read',
      summary: 'My patients (care team), as summaries',
      tags,
      schema: {
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: PATIENT_PAGE_MAX, default: 20 }),
          after: Type.Optional(Id),
        }),
        response: { 200: Summaries },
      },
      handler: async (request) => {
        const q = request.query as { limit: number; after?: string };
        const patients = await p.service.list(patientActor(request), q, accessMeta(request));
        return { patients };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients',
      permission: 'patient.write',
      summary: 'Create a patient (409 with visible candidates on a possible duplicate)',
      tags,
      schema: {
        body: CreateBody,
        response: { 201: Created, 409: DuplicateProblem },
      },
      handler: async (request, reply) => {
        const { confirmNotDuplicate, ...input } = request.body as Static<typeof CreateBody>;
        const r = await p.service.create(
          patientActor(request),
          input,
          { confirmNotDuplicate },
          accessMeta(request),
        );
        if (r.kind === 'duplicate') {
          void reply.code(409).type('application/problem+json; charset=utf-8');
          return {
            ...problem('conflict', request.id, { detail: 'possible_duplicate' }),
            candidates: [...r.candidates],
          };
        }
        void reply.code(201);
        return { id: r.id };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/search',
      permission: 'patient.read',
      summary: 'Search by last name + date of birth, MRN or phone (terms in the body)',
      tags,
      schema: { body: SearchBody, response: { 200: Summaries } },
      handler: async (request) => {
        const query = searchQuery(request.body as Static<typeof SearchBody>);
        const patients = await p.service.search(patientActor(request), query, accessMeta(request));
        return { patients };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients/:id',
      permission: 'patient.read',
      summary: "One patient, shaped to the caller's view",
      tags,
      schema: { params: PatientParams, response: { 200: PatientFullView } },
      handler: async (request) =>
        p.service.get(
          patientActor(request),
          (request.params as { id: string }).id,
          accessMeta(request),
        ),
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/patients/:id',
      permission: 'patient.write',
      summary: "Replace a patient's demographics",
      tags,
      schema: { params: PatientParams, body: PatientBody, response: { 200: Created } },
      handler: async (request) => {
        const id = (request.params as { id: string }).id;
        await p.service.update(
          patientActor(request),
          id,
          request.body as Static<typeof PatientBody>,
          accessMeta(request),
        );
        return { id };
      },
    }),
    ...patientClinicalRoutes(p),
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients/:id/care-team',
      permission: 'patient.read',
      summary: "The patient's care team",
      tags,
      schema: {
        params: PatientParams,
        response: { 200: Type.Object({ members: Type.Array(CareTeamMemberView) }) },
      },
      handler: async (request) => ({
        members: await p.careTeam.members(
          patientActor(request),
          (request.params as { id: string }).id,
          accessMeta(request),
        ),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/:id/care-team',
      permission: 'patient.write',
      summary: 'Add a user of this tenant to the care team',
      tags,
      schema: {
        params: PatientParams,
        body: Type.Object(
          { userId: Id, relation: Type.String({ pattern: '^[a-z_]{1,40}$' }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ userId: Type.String() }) },
      },
      handler: async (request, reply) => {
        const body = request.body as { userId: string; relation: string };
        await p.careTeam.add(
          patientActor(request),
          (request.params as { id: string }).id,
          body,
          accessMeta(request),
        );
        void reply.code(201);
        return { userId: body.userId };
      },
    }),
    defineRoute({
      method: 'DELETE',
      url: '/api/v1/patients/:id/care-team/:userId',
      permission: 'patient.write',
      summary: 'End a care-team membership',
      tags,
      schema: {
        params: Type.Object({ id: Id, userId: Id }),
        response: { 200: Type.Object({ userId: Type.String() }) },
      },
      handler: async (request) => {
        const { id, userId } = request.params as { id: string; userId: string };
        await p.careTeam.remove(patientActor(request), id, userId, accessMeta(request));
        return { userId };
      },
    }),
  ];
}
