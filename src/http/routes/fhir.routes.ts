import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, systemClock, type Clock } from '../../core/index.js';
import type { Database } from '../../db/index.js';
import type { PatientSearch, Patients } from '../../prescribing/index.js';
import {
  BundleOf,
  FHIR_JSON,
  FhirAllergyIntolerance,
  FhirMedicationStatement,
  FhirPatient,
  FhirPractitioner,
  SCRIP_MRN,
  searchset,
  toFhirAllergy,
  toFhirMedicationStatement,
  toFhirPatient,
  toFhirPractitioner,
  US_NPI,
} from '../../fhir/resources.js';
import { findPractitioners, type PractitionerFilter } from '../../fhir/practitioners.js';
import { defineRoute, type RouteDef } from '../route.js';
import { accessMeta, patientActor } from './patient-http.js';

export const FHIR_BASE = '/fhir/R4';

const Id = Type.String({ format: 'uuid' });

function fhir(reply: FastifyReply): void {
  void reply.type(FHIR_JSON).header('Cache-Control', 'no-store');
}

/** The query keys of the request URL; only those in `allowed` may appear (no PHI in URLs). */
function onlyQuery(request: FastifyRequest, allowed: readonly string[]): void {
  const q = request.url.indexOf('?');
  if (q < 0) return;
  for (const key of new URLSearchParams(request.url.slice(q + 1)).keys()) {
    if (!allowed.includes(key)) {
      throw new AppError('bad_request', 'search parameters go in a POST _search body', {
        detail: 'use POST _search',
      });
    }
  }
}

/** `Patient/<id>` or a bare id, as FHIR reference search parameters allow. */
function patientRef(value: string): string {
  const id = value.startsWith('Patient/') ? value.slice('Patient/'.length) : value;
  if (!/^[0-9a-f-]{36}$/i.test(id)) {
    throw new AppError('validation_failed', 'patient must be Patient/<id>', { detail: 'patient' });
  }
  return id;
}

/** `identifier=[us-npi system|]NPI`: the one Practitioner search (directory data, not PHI). */
export function practitionerIdentifier(value: string): PractitionerFilter {
  const bar = value.indexOf('|');
  const system = bar < 0 ? undefined : value.slice(0, bar);
  const npi = bar < 0 ? value : value.slice(bar + 1);
  if ((system !== undefined && system !== US_NPI) || !/^[0-9]{10}$/.test(npi)) {
    throw new AppError('validation_failed', `identifier must be ${US_NPI}|<10-digit NPI>`, {
      detail: 'identifier',
    });
  }
  return { npi };
}

const SEARCH_PARAMS = ['identifier', 'family', 'birthdate', '_id'] as const;

/**
 * FHIR search parameters (R4 Patient: `identifier`, `family` + `birthdate`, `_id`) to one
 * search. `identifier` takes `value` or `system|value` with the Scrip MRN system; `birthdate`
 * takes a day, with or without the `eq` prefix. Unknown parameters are refused rather than
 * ignored, so a search is never silently wider than asked.
 */
export function fhirPatientSearch(params: Readonly<Record<string, string>>): PatientSearch {
  for (const k of Object.keys(params)) {
    if (!(SEARCH_PARAMS as readonly string[]).includes(k)) {
      throw new AppError('validation_failed', 'unsupported search parameter', { detail: k });
    }
  }
  const { identifier, family, birthdate, _id } = params;
  const kinds: PatientSearch[] = [];
  if (_id !== undefined) kinds.push({ by: 'id', id: _id });
  if (identifier !== undefined) {
    const bar = identifier.indexOf('|');
    const system = bar < 0 ? undefined : identifier.slice(0, bar);
    const value = bar < 0 ? identifier : identifier.slice(bar + 1);
    if (system !== undefined && system !== '' && system !== SCRIP_MRN) {
      throw new AppError('validation_failed', 'unknown identifier system', {
        detail: 'identifier',
      });
    }
    kinds.push({ by: 'mrn', mrn: value });
  }
  if (family !== undefined || birthdate !== undefined) {
    if (family === undefined || birthdate === undefined) {
      throw new AppError('validation_failed', 'family and birthdate go together', {
        detail: 'family,birthdate',
      });
    }
    kinds.push({
      by: 'name_dob',
      familyName: family,
      birthDate: birthdate.startsWith('eq') ? birthdate.slice(2) : birthdate,
    });
  }
  const [only, ...more] = kinds;
  if (only === undefined || more.length > 0) {
    throw new AppError('validation_failed', 'search by one of: identifier, family+birthdate, _id', {
      detail: 'search',
    });
  }
  return only;
}

/**
 * FHIR R4 read and search at /fhir/R4 (issue 7 item 9): Patient, Practitioner,
 * AllergyIntolerance and MedicationStatement, as `application/fhir+json`. The same patient
 * services as the REST API answer, so the same relationship checks, audit records and
 * minimum-necessary shaping apply: a read gets the caller's view, a search returns summaries.
 * Search terms that are PHI are accepted only in a `POST _search` form body (R4 http.html#search),
 * never in the URL; GET search takes `_id` alone.
 */
export function fhirRoutes(p: Patients, db: Database, clock: Clock = systemClock): RouteDef[] {
  const tags = ['fhir'];
  /** This tenant's prescribers matching `filter`; the lookup is audited (ids only). */
  const practitioners = (request: FastifyRequest, filter: PractitionerFilter) => {
    const who = patientActor(request);
    return findPractitioners(db, who.tenantId, filter, {
      actor: { kind: 'user', userId: who.userId, sessionId: who.sessionId },
      requestId: request.id,
      clock,
    });
  };
  const bundle = BundleOf(FhirPatient);
  const search = async (
    request: FastifyRequest,
    reply: FastifyReply,
    params: Readonly<Record<string, string>>,
  ) => {
    const found = await p.service.search(
      patientActor(request),
      fhirPatientSearch(params),
      accessMeta(request),
    );
    fhir(reply);
    return searchset(found.map(toFhirPatient));
  };
  return [
    defineRoute({
      method: 'GET',
      url: `${FHIR_BASE}/Patient/:id`,
      permission: 'patient.read',
      summary: 'FHIR Patient read',
      tags,
      schema: { params: Type.Object({ id: Id }), response: { 200: FhirPatient } },
      handler: async (request, reply) => {
        const rec = await p.service.get(
          patientActor(request),
          (request.params as { id: string }).id,
          accessMeta(request),
        );
        fhir(reply);
        return toFhirPatient(rec);
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${FHIR_BASE}/Patient`,
      permission: 'patient.read',
      summary: 'FHIR Patient search by _id only (other parameters: POST _search)',
      tags,
      schema: {
        querystring: Type.Object({ _id: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: bundle },
      },
      handler: async (request, reply) => {
        onlyQuery(request, ['_id']);
        return search(request, reply, { _id: (request.query as { _id: string })._id });
      },
    }),
    defineRoute({
      method: 'POST',
      url: `${FHIR_BASE}/Patient/_search`,
      permission: 'patient.read',
      formBody: true,
      summary: 'FHIR Patient search (identifier, family+birthdate, _id) in a form body',
      tags,
      schema: {
        body: Type.Record(Type.String(), Type.String({ maxLength: 200 }), { maxProperties: 10 }),
        response: { 200: bundle },
      },
      handler: async (request, reply) => {
        onlyQuery(request, []);
        return search(request, reply, request.body as Record<string, string>);
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${FHIR_BASE}/Practitioner/:id`,
      permission: 'rx.read',
      summary: "FHIR Practitioner read (this tenant's prescribers)",
      tags,
      schema: { params: Type.Object({ id: Id }), response: { 200: FhirPractitioner } },
      handler: async (request, reply) => {
        const [found] = await practitioners(request, {
          userId: (request.params as { id: string }).id,
        });
        if (found === undefined) throw new AppError('not_found', 'no such practitioner');
        fhir(reply);
        return toFhirPractitioner(found);
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${FHIR_BASE}/Practitioner`,
      permission: 'rx.read',
      summary: "FHIR Practitioner search by NPI (identifier; this tenant's prescribers)",
      tags,
      schema: {
        querystring: Type.Object(
          { identifier: Type.String({ minLength: 1, maxLength: 80 }) },
          { additionalProperties: false },
        ),
        response: { 200: BundleOf(FhirPractitioner) },
      },
      handler: async (request, reply) => {
        onlyQuery(request, ['identifier']);
        const filter = practitionerIdentifier((request.query as { identifier: string }).identifier);
        const found = await practitioners(request, filter);
        fhir(reply);
        return searchset(found.map(toFhirPractitioner));
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${FHIR_BASE}/AllergyIntolerance`,
      permission: 'patient.read',
      summary: "FHIR AllergyIntolerance search by patient (the patient's id only)",
      tags,
      schema: {
        querystring: Type.Object({ patient: Type.String({ minLength: 1, maxLength: 80 }) }),
        response: { 200: BundleOf(FhirAllergyIntolerance) },
      },
      handler: async (request, reply) => {
        onlyQuery(request, ['patient']);
        const id = patientRef((request.query as { patient: string }).patient);
        const list = await p.clinicalService.allergies(
          patientActor(request),
          id,
          accessMeta(request),
        );
        fhir(reply);
        return searchset(list.map((a) => toFhirAllergy(id, a)));
      },
    }),
    defineRoute({
      method: 'GET',
      url: `${FHIR_BASE}/MedicationStatement`,
      permission: 'patient.read',
      summary: "FHIR MedicationStatement search by patient (the patient's id only)",
      tags,
      schema: {
        querystring: Type.Object({ patient: Type.String({ minLength: 1, maxLength: 80 }) }),
        response: { 200: BundleOf(FhirMedicationStatement) },
      },
      handler: async (request, reply) => {
        onlyQuery(request, ['patient']);
        const id = patientRef((request.query as { patient: string }).patient);
        const list = await p.clinicalService.medications(
          patientActor(request),
          id,
          accessMeta(request),
        );
        fhir(reply);
        return searchset(list.map((m) => toFhirMedicationStatement(id, m)));
      },
    }),
  ];
}
