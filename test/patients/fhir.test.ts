import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../src/core/index.js';
import { assertValidFhir } from '../fhir.js';
import {
  audit,
  call,
  PATIENT,
  patientsHarness,
  seededPatient,
  tenant,
  user,
  type PatientsHarness,
  type TestUser,
} from './harness.js';

type Resource = Record<string, unknown> & { resourceType: string };
type Bundle = Resource & { total: number; entry: { resource: Resource }[] };

/** FHIR R4 at /fhir/R4 (issue 7 item 9), checked by Medplum's validator, not our own types. */
describe('FHIR R4: Patient, Practitioner, AllergyIntolerance, MedicationStatement', () => {
  let h: PatientsHarness;
  let t: TenantId;
  let prescriber: TestUser;
  let outsider: TestUser;
  let patientId: string;
  const mrn = `MRN-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    h = await patientsHarness();
    t = await tenant(h);
    prescriber = await user(h, t, 'prescriber');
    outsider = await user(h, t, 'prescriber');
    patientId = await seededPatient(h, prescriber, { ...PATIENT, mrn });
  });
  afterAll(async () => {
    await h.close();
  });

  const form = (u: TestUser, body: string) =>
    h.app.inject({
      method: 'POST',
      url: '/fhir/R4/Patient/_search',
      headers: {
        cookie: `__Host-scrip_session=${u.token}`,
        'x-csrf-token': u.csrf,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: body,
    });

  it('Patient read: valid R4, fhir+json, full view for the prescriber, audited', async () => {
    const res = await call(h, 'GET', `/fhir/R4/Patient/${patientId}`, prescriber);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
    const p = res.json<Resource>();
    assertValidFhir(p);
    expect(p).toMatchObject({
      resourceType: 'Patient',
      id: patientId,
      name: [{ family: PATIENT.familyName, given: ['Ada'] }],
      birthDate: PATIENT.birthDate,
      telecom: [{ system: 'phone', value: PATIENT.phone }],
      address: [{ text: PATIENT.address }],
    });
    expect(p.identifier).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ system: 'urn:scrip:mrn', value: mrn }),
        { system: 'urn:oid:2.16.840.1.113883.4.1', value: '123-45-6789' },
      ]),
    );
    const rows = await audit(h, t);
    expect(rows.at(-1)).toMatchObject({ action: 'patient.read', details: { view: 'full' } });
  });

  it('Patient search by identifier and by family+birthdate in a form body returns summaries', async () => {
    for (const body of [
      `identifier=${encodeURIComponent(`urn:scrip:mrn|${mrn}`)}`,
      `identifier=${encodeURIComponent(mrn)}`,
      `family=${encodeURIComponent("o'brien-muller")}&birthdate=eq1961-07-14`,
    ]) {
      const res = await form(prescriber, body);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toContain('application/fhir+json');
      const b = res.json<Bundle>();
      assertValidFhir(b);
      const mine = b.entry.map((e) => e.resource).find((r) => r.id === patientId);
      expect(mine).toBeDefined();
      assertValidFhir(mine as Resource);
      // A search result is a summary: no telecom, address or other identifiers.
      expect(mine).not.toHaveProperty('telecom');
      expect(mine).not.toHaveProperty('address');
      expect((mine?.identifier as unknown[]).length).toBe(1);
    }
    const none = await form(outsider, `identifier=${encodeURIComponent(mrn)}`);
    expect(none.json<Bundle>()).toMatchObject({ total: 0, entry: [] });
    assertValidFhir(none.json<Bundle>());
    const searches = (await audit(h, t)).filter((r) => r.action === 'patient.search');
    expect(searches.map((r) => r.details.count)).toEqual([1, 1, 1, 0]);
    expect(JSON.stringify(searches)).not.toContain(mrn);
  });

  it('GET search takes _id only; PHI parameters in the URL are refused', async () => {
    const byId = await call(h, 'GET', `/fhir/R4/Patient?_id=${patientId}`, prescriber);
    expect(byId.statusCode, byId.body).toBe(200);
    assertValidFhir(byId.json<Bundle>());
    expect(byId.json<Bundle>().total).toBe(1);
    const hidden = await call(h, 'GET', `/fhir/R4/Patient?_id=${patientId}`, outsider);
    expect(hidden.json<Bundle>().total).toBe(0);
    const phi = await call(h, 'GET', `/fhir/R4/Patient?_id=${patientId}&family=Smith`, prescriber);
    expect(phi.statusCode).toBe(400);
    expect((await call(h, 'GET', '/fhir/R4/Patient?family=Smith', prescriber)).statusCode).toBe(
      400,
    );
    const unknown = await form(prescriber, 'gender=female');
    expect(unknown.statusCode).toBe(400);
    // Form bodies are accepted only where a route asks for them.
    const elsewhere = await h.app.inject({
      method: 'POST',
      url: '/api/v1/patients/search',
      headers: {
        cookie: `__Host-scrip_session=${prescriber.token}`,
        'x-csrf-token': prescriber.csrf,
        'content-type': 'application/x-www-form-urlencoded',
      },
      payload: `mrn=${mrn}`,
    });
    expect(elsewhere.statusCode).toBe(415);
  });

  it('AllergyIntolerance and MedicationStatement by patient validate', async () => {
    const a = await call(
      h,
      'GET',
      `/fhir/R4/AllergyIntolerance?patient=Patient/${patientId}`,
      prescriber,
    );
    expect(a.statusCode, a.body).toBe(200);
    const ab = a.json<Bundle>();
    assertValidFhir(ab);
    expect(ab.total).toBe(1);
    const allergy = ab.entry[0]?.resource as Resource;
    assertValidFhir(allergy);
    expect(allergy).toMatchObject({
      code: {
        coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '7980' }],
        text: 'Penicillin G',
      },
      patient: { reference: `Patient/${patientId}` },
      reaction: [{ severity: 'moderate' }],
    });
    const m = await call(h, 'GET', `/fhir/R4/MedicationStatement?patient=${patientId}`, prescriber);
    expect(m.statusCode, m.body).toBe(200);
    const mb = m.json<Bundle>();
    assertValidFhir(mb);
    const stmt = mb.entry[0]?.resource as Resource;
    assertValidFhir(stmt);
    expect(stmt).toMatchObject({
      status: 'active',
      medicationCodeableConcept: { coding: [{ code: '314076' }] },
      effectivePeriod: { start: '2025-01-10' },
    });
    const hidden = await call(
      h,
      'GET',
      `/fhir/R4/MedicationStatement?patient=${patientId}`,
      outsider,
    );
    expect(hidden.statusCode).toBe(404);
  });

  it('Practitioner read: a prescriber of this tenant, with the NPI once proofed', async () => {
    const res = await call(h, 'GET', `/fhir/R4/Practitioner/${prescriber.userId}`, outsider);
    expect(res.statusCode, res.body).toBe(200);
    const pr = res.json<Resource>();
    assertValidFhir(pr);
    expect(pr).toMatchObject({
      resourceType: 'Practitioner',
      id: prescriber.userId,
      active: true,
      name: [{ text: 'Test prescriber' }],
    });
    expect(pr).not.toHaveProperty('identifier');
    const npi = '1234567893';
    await h.p.db.withTenant(t, async (tx) => {
      const admin = await tx.query<{ id: string }>(`SELECT id FROM users WHERE id <> $1 LIMIT 1`, [
        prescriber.userId,
      ]);
      await tx.query(
        `INSERT INTO identity_proofings (id, tenant_id, user_id, npi, ial, evidence, proofed_by, proofed_at, status)
         VALUES ($1, $2, $3, $4, 'IAL2', '[{"type":"drivers_licence","reference":"X"}]', $5, now(), 'active')`,
        [randomUUID(), t, prescriber.userId, npi, admin.rows[0]?.id],
      );
    });
    const proofed = await call(h, 'GET', `/fhir/R4/Practitioner/${prescriber.userId}`, outsider);
    assertValidFhir(proofed.json<Resource>());
    expect(proofed.json()).toMatchObject({
      identifier: [{ system: 'http://hl7.org/fhir/sid/us-npi', value: npi }],
    });
    const coordinator = await user(h, t, 'care_coordinator');
    const notPrescriber = await call(
      h,
      'GET',
      `/fhir/R4/Practitioner/${coordinator.userId}`,
      outsider,
    );
    expect(notPrescriber.statusCode).toBe(404);
    const support = await user(h, t, 'support');
    const denied = await call(h, 'GET', `/fhir/R4/Practitioner/${prescriber.userId}`, support);
    expect(denied.statusCode).toBe(403);

    // Search by NPI (with or without the us-npi system): this tenant's prescribers only, audited.
    for (const identifier of [npi, `http://hl7.org/fhir/sid/us-npi|${npi}`]) {
      const res = await call(
        h,
        'GET',
        `/fhir/R4/Practitioner?identifier=${encodeURIComponent(identifier)}`,
        outsider,
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
      const bundle = res.json<Bundle>();
      assertValidFhir(bundle);
      expect(bundle).toMatchObject({ type: 'searchset', total: 1 });
      expect(bundle.entry[0]?.resource).toEqual(proofed.json());
    }
    const byNpi = (await audit(h, t)).filter(
      (a) => a.action === 'practitioner.read' && a.details.by === 'npi',
    );
    expect(byNpi).toHaveLength(2);
    expect(byNpi[0]).toMatchObject({
      actor_user_id: outsider.userId,
      subjects: [{ type: 'user', id: prescriber.userId }],
      details: { count: 1 },
    });
    const none = await call(h, 'GET', '/fhir/R4/Practitioner?identifier=1993999998', outsider);
    expect(none.json()).toMatchObject({ total: 0, entry: [] });
    const elsewhere = await tenant(h);
    const stranger = await user(h, elsewhere, 'prescriber');
    const cross = await call(h, 'GET', `/fhir/R4/Practitioner?identifier=${npi}`, stranger);
    expect(cross.statusCode).toBe(200);
    expect(cross.json()).toMatchObject({ total: 0, entry: [] });
    for (const bad of [
      `identifier=${encodeURIComponent(`urn:other|${npi}`)}`,
      'identifier=12345',
      `identifier=${npi}&name=Okafor`,
      'name=Okafor',
    ]) {
      const res = await call(h, 'GET', `/fhir/R4/Practitioner?${bad}`, outsider);
      expect(res.statusCode, bad).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
    const deniedSearch = await call(h, 'GET', `/fhir/R4/Practitioner?identifier=${npi}`, support);
    expect(deniedSearch.statusCode).toBe(403);
  });
});
