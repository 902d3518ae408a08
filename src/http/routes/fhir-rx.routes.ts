import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../core/index.js';
import { clinicalView, type ClinicalView } from '../../access/minimum-necessary.js';
import type { Prescriptions } from '../../prescribing/prescription.module.js';
import type { Actor, Prescription } from '../../prescribing/prescription.types.js';
import { defineRoute, type RouteDef } from '../route.js';

/**
 * FHIR R4 views of prescriptions: MedicationRequest (requester, dispenseRequest, substitution,
 * dosageInstruction) and the Provenance that carries the prescription's signature (the compact
 * JWS, `sigFormat: application/jose`). Read-only; the same access checks and audit as the API.
 */
const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
const ICD10CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const NCPDP = 'http://terminology.hl7.org/NamingSystem/NCPDPProviderIdentificationNumber';

type Json = Record<string, unknown>;

function fhirStatus(p: Prescription): string {
  switch (p.status) {
    case 'draft':
    case 'ready':
      return 'draft';
    case 'signed':
    case 'queued':
    case 'transmitted':
    case 'acknowledged':
      return 'active';
    case 'error':
      return 'on-hold';
    case 'dispensed':
      return 'completed';
    case 'cancelled':
      return 'cancelled';
  }
}

/** A MedicationRequest, reduced to the caller's minimum-necessary view (45 CFR 164.502(b)). */
export function medicationRequest(p: Prescription, view: ClinicalView): Json {
  const c = p.content;
  const base: Json = {
    resourceType: 'MedicationRequest',
    id: p.id,
    status: fhirStatus(p),
    intent: 'order',
    medicationCodeableConcept: {
      coding: [{ system: RXNORM, code: c.drug.rxcui, display: c.drug.name }],
      text: c.drug.name,
    },
    subject: { reference: `Patient/${p.patientId}` },
    authoredOn: (p.signedAt ?? p.createdAt).toISOString(),
    requester: { reference: `Practitioner/${p.prescriberId}` },
  };
  if (view === 'summary') return base;
  return {
    ...base,
    ...(view === 'full' && c.diagnosis !== undefined
      ? {
          reasonCode: [
            {
              coding: [
                {
                  system: ICD10CM,
                  code: c.diagnosis.code,
                  ...(c.diagnosis.display === undefined ? {} : { display: c.diagnosis.display }),
                },
              ],
            },
          ],
        }
      : {}),
    ...(p.previousId === null
      ? {}
      : { priorPrescription: { reference: `MedicationRequest/${p.previousId}` } }),
    ...(c.notesToPharmacist === undefined ? {} : { note: [{ text: c.notesToPharmacist }] }),
    dosageInstruction: [{ text: c.sig }],
    dispenseRequest: {
      ...(c.earliestFillDate === undefined
        ? {}
        : { validityPeriod: { start: c.earliestFillDate } }),
      numberOfRepeatsAllowed: c.refills,
      quantity: { value: c.quantity.value, unit: c.quantity.unit },
      expectedSupplyDuration: {
        value: c.daysSupply,
        unit: 'days',
        system: 'http://unitsofmeasure.org',
        code: 'd',
      },
      performer: { identifier: { system: NCPDP, value: c.pharmacyNcpdpId } },
    },
    substitution: { allowedBoolean: c.substitutionAllowed },
  };
}

/** The Provenance of a signed prescription: who signed, when, and the JWS itself. */
export function provenance(p: Prescription): Json | undefined {
  if (p.signedAt === null || p.jws === null) return undefined;
  const who = { reference: `Practitioner/${p.prescriberId}` };
  return {
    resourceType: 'Provenance',
    id: `rx-${p.id}`,
    target: [{ reference: `MedicationRequest/${p.id}` }],
    recorded: p.signedAt.toISOString(),
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'author',
            },
          ],
        },
        who,
      },
    ],
    signature: [
      {
        type: [
          {
            system: 'urn:iso-astm:E1762-95:2013',
            code: '1.2.840.10065.1.12.1.1',
            display: "Author's Signature",
          },
        ],
        when: p.signedAt.toISOString(),
        who,
        targetFormat: 'application/json',
        sigFormat: 'application/jose',
        data: Buffer.from(p.jws, 'utf8').toString('base64'),
      },
    ],
  };
}

function searchset(resources: readonly Json[]): Json {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    entry: resources.map((resource) => ({ resource })),
  };
}

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

function fhirJson(reply: FastifyReply): void {
  void reply.type('application/fhir+json; charset=utf-8');
}

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const Resource = Type.Object({ resourceType: Type.String() }, { additionalProperties: true });
const tags = ['fhir'];

export function fhirRxRoutes(rx: Prescriptions): RouteDef[] {
  const meta = (r: FastifyRequest) => ({
    requestId: r.id,
    ip: r.ip,
    userAgent: r.headers['user-agent'],
  });
  /** The signature of one prescription, read through the service (access check, audit). */
  const provenanceOf = async (request: FastifyRequest, id: string) =>
    provenance(await rx.service.get(actor(request), id, meta(request)));
  return [
    defineRoute({
      method: 'GET',
      url: '/fhir/R4/MedicationRequest/:id',
      permission: 'rx.read',
      summary: 'FHIR R4 MedicationRequest',
      tags,
      schema: {
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }),
        response: { 200: Resource },
      },
      handler: async (request, reply) => {
        const who = actor(request);
        const p = await rx.service.get(who, (request.params as { id: string }).id, meta(request));
        fhirJson(reply);
        return medicationRequest(p, clinicalView(who, 'rx.read'));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/fhir/R4/MedicationRequest',
      permission: 'rx.read',
      summary: 'FHIR R4 MedicationRequest search by patient',
      tags,
      schema: {
        querystring: Type.Object(
          { patient: Type.String({ format: 'uuid' }) },
          { additionalProperties: false },
        ),
        response: { 200: Resource },
      },
      handler: async (request, reply) => {
        const who = actor(request);
        const list = await rx.service.listForPatient(
          who,
          (request.query as { patient: string }).patient,
          meta(request),
        );
        fhirJson(reply);
        return searchset(list.map((p) => medicationRequest(p, 'summary')));
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/fhir/R4/Provenance',
      permission: 'rx.read',
      summary: 'FHIR R4 Provenance (the signature) of a MedicationRequest',
      tags,
      schema: {
        querystring: Type.Object(
          {
            target: Type.String({
              pattern: `^MedicationRequest/${UUID}$`,
            }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Resource },
      },
      handler: async (request, reply) => {
        const id = (request.query as { target: string }).target.slice('MedicationRequest/'.length);
        const prov = await provenanceOf(request, id);
        fhirJson(reply);
        return searchset(prov === undefined ? [] : [prov]);
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/fhir/R4/Provenance/:id',
      permission: 'rx.read',
      summary: 'FHIR R4 Provenance read (rx-<prescription id>: the signature)',
      tags,
      schema: {
        // Any FHIR id (R4 datatypes.html#id); Scrip's are rx-<prescription id>, others are unknown.
        params: Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9.-]{1,64}$' }) }),
        response: { 200: Resource },
      },
      handler: async (request, reply) => {
        const id = (request.params as { id: string }).id;
        if (!new RegExp(`^rx-${UUID}$`).test(id)) {
          throw new AppError('not_found', 'no such provenance');
        }
        const prov = await provenanceOf(request, id.slice('rx-'.length));
        // An unsigned prescription has no signature: the same answer as a missing one.
        if (prov === undefined) throw new AppError('not_found', 'no such provenance');
        fhirJson(reply);
        return prov;
      },
    }),
  ];
}
