import { Type } from '@sinclair/typebox';
import {
  ALLERGY_SEVERITIES,
  AllergyView,
  MedicationView,
  type Patients,
} from '../../prescribing/index.js';
import { defineRoute, type RouteDef } from '../route.js';
import {
  accessMeta,
  Created,
  Id,
  IsoDate,
  PatientParams,
  patientActor,
  Rxcui,
  Text,
} from './patient-http.js';

/**
 * A patient's allergies, medications and preferred pharmacy (issue 7 item 1) as sub-resources of
 * /api/v1/patients/:id; the service applies the relationship check, the view and the audit.
 */
export function patientClinicalRoutes(p: Patients): RouteDef[] {
  const tags = ['patients'];
  return [
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients/:id/allergies',
      permission: 'patient.read',
      summary: "A patient's allergies (treating and dispensing views)",
      tags,
      schema: {
        params: PatientParams,
        response: { 200: Type.Object({ allergies: Type.Array(AllergyView) }) },
      },
      handler: async (request) => ({
        allergies: await p.clinicalService.allergies(
          patientActor(request),
          (request.params as { id: string }).id,
          accessMeta(request),
        ),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/:id/allergies',
      permission: 'patient.write',
      summary: 'Record an allergy (coded by ingredient RXCUI where possible)',
      tags,
      schema: {
        params: PatientParams,
        body: Type.Object(
          {
            rxcui: Type.Optional(Rxcui),
            substance: Text(200),
            reaction: Type.Optional(Text(500)),
            severity: Type.Optional(Type.Union(ALLERGY_SEVERITIES.map((s) => Type.Literal(s)))),
          },
          { additionalProperties: false },
        ),
        response: { 201: Created },
      },
      handler: async (request, reply) => {
        const id = await p.clinicalService.addAllergy(
          patientActor(request),
          (request.params as { id: string }).id,
          request.body as never,
          accessMeta(request),
        );
        void reply.code(201);
        return { id };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/:id/allergies/:itemId/inactivate',
      permission: 'patient.write',
      summary: 'Mark an allergy inactive (resolved or entered in error)',
      tags,
      schema: { params: Type.Object({ id: Id, itemId: Id }), response: { 200: Created } },
      handler: async (request) => {
        const { id, itemId } = request.params as { id: string; itemId: string };
        await p.clinicalService.inactivateAllergy(
          patientActor(request),
          id,
          itemId,
          accessMeta(request),
        );
        return { id: itemId };
      },
    }),
    defineRoute({
      method: 'GET',
      url: '/api/v1/patients/:id/medications',
      permission: 'patient.read',
      summary: "A patient's medications (treating view only)",
      tags,
      schema: {
        params: PatientParams,
        response: { 200: Type.Object({ medications: Type.Array(MedicationView) }) },
      },
      handler: async (request) => ({
        medications: await p.clinicalService.medications(
          patientActor(request),
          (request.params as { id: string }).id,
          accessMeta(request),
        ),
      }),
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/:id/medications',
      permission: 'patient.write',
      summary: 'Record a medication the patient takes',
      tags,
      schema: {
        params: PatientParams,
        body: Type.Object(
          {
            rxcui: Type.Optional(Rxcui),
            ingredientRxcuis: Type.Array(Rxcui, { maxItems: 20 }),
            name: Text(300),
            dosage: Type.Optional(Text(500)),
            startedOn: Type.Optional(IsoDate),
            stoppedOn: Type.Optional(IsoDate),
          },
          { additionalProperties: false },
        ),
        response: { 201: Created },
      },
      handler: async (request, reply) => {
        const id = await p.clinicalService.addMedication(
          patientActor(request),
          (request.params as { id: string }).id,
          request.body as never,
          accessMeta(request),
        );
        void reply.code(201);
        return { id };
      },
    }),
    defineRoute({
      method: 'POST',
      url: '/api/v1/patients/:id/medications/:itemId/stop',
      permission: 'patient.write',
      summary: 'Stop an active medication',
      tags,
      schema: {
        params: Type.Object({ id: Id, itemId: Id }),
        body: Type.Object({ stoppedOn: IsoDate }, { additionalProperties: false }),
        response: { 200: Created },
      },
      handler: async (request) => {
        const { id, itemId } = request.params as { id: string; itemId: string };
        const { stoppedOn } = request.body as { stoppedOn: string };
        await p.clinicalService.stopMedication(
          patientActor(request),
          id,
          itemId,
          stoppedOn,
          accessMeta(request),
        );
        return { id: itemId };
      },
    }),
    defineRoute({
      method: 'PUT',
      url: '/api/v1/patients/:id/pharmacy',
      permission: 'patient.write',
      summary: "Set the patient's preferred pharmacy (NCPDP ID)",
      tags,
      schema: {
        params: PatientParams,
        body: Type.Object({ ncpdpId: Text(35) }, { additionalProperties: false }),
        response: { 200: Created },
      },
      handler: async (request) => {
        const id = (request.params as { id: string }).id;
        const { ncpdpId } = request.body as { ncpdpId: string };
        await p.clinicalService.setPreferredPharmacy(
          patientActor(request),
          id,
          ncpdpId,
          accessMeta(request),
        );
        return { id };
      },
    }),
  ];
}
