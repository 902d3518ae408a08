import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { patientRoutes } from '../../src/http/routes/patients.routes.js';
import { fhirRoutes } from '../../src/http/routes/fhir.routes.js';
import {
  PatientDispensingView,
  PatientFullView,
  PatientSummaryView,
} from '../../src/prescribing/index.js';
import { buildTestApp } from '../app.js';
import { testPlatform, type TestPlatform } from '../platform.js';

const keys = (s: { properties: Record<string, unknown> }): string[] =>
  Object.keys(s.properties).sort();

/** The route table itself: views nest, responses stay within the widest view, no PHI in URLs. */
describe('patient and FHIR routes', () => {
  let p: TestPlatform;
  let app: FastifyInstance;

  beforeAll(async () => {
    p = await testPlatform();
    ({ app } = await buildTestApp(p.db, {
      routes: [...patientRoutes(p.patientServices), ...fhirRoutes(p.patientServices, p.db)],
    }));
  });
  afterAll(async () => {
    await app.close();
    await p.close();
  });

  it('summary ⊂ dispensing ⊂ full, and the read route declares exactly the full view', () => {
    const summary = keys(PatientSummaryView);
    const dispensing = keys(PatientDispensingView);
    const full = keys(PatientFullView);
    expect(summary.every((k) => dispensing.includes(k))).toBe(true);
    expect(dispensing.every((k) => full.includes(k))).toBe(true);
    expect(dispensing.length).toBeGreaterThan(summary.length);
    expect(full.length).toBeGreaterThan(dispensing.length);
    const read = patientRoutes(p.patientServices).find(
      (r) => r.method === 'GET' && r.url === '/api/v1/patients/:id',
    );
    expect(keys(read?.schema.response[200] as never)).toEqual(full);
  });

  it('no route takes a PHI search term in its URL; every one declares a clinical permission', () => {
    const allowedQuery = ['limit', 'after', '_id', 'patient'];
    for (const r of [...patientRoutes(p.patientServices), ...fhirRoutes(p.patientServices, p.db)]) {
      const q = r.schema.querystring as { properties?: Record<string, unknown> } | undefined;
      // The Practitioner search's identifier is an NPI: public workforce directory data, not PHI.
      const allowed =
        r.url === '/fhir/R4/Practitioner' ? [...allowedQuery, 'identifier'] : allowedQuery;
      for (const k of Object.keys(q?.properties ?? {})) {
        expect(allowed, `${r.method} ${r.url} ?${k}`).toContain(k);
      }
      expect(['patient.read', 'patient.write', 'rx.read'], r.url).toContain(r.permission);
    }
  });

  it('the OpenAPI document stays valid with these routes', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(res.json<Record<string, unknown>>());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
