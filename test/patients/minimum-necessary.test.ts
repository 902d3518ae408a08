import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../src/core/index.js';
import {
  call,
  patientsHarness,
  seededPatient,
  tenant,
  user,
  type PatientsHarness,
  type TestUser,
} from './harness.js';

/**
 * Minimum necessary (45 CFR 164.502(b), issue 5 item 4), field by field, for every role that can
 * read a patient, and 403 for the roles that cannot.
 */
const SUMMARY = ['birthDate', 'familyName', 'givenName', 'id', 'mrn', 'shredded', 'view'];
const DISPENSING = [...SUMMARY, 'address', 'allergies', 'phone', 'preferredPharmacy'].sort();
const FULL = [...DISPENSING, 'identifiers', 'medications'].sort();
const ALLERGY = ['id', 'reaction', 'recordedAt', 'rxcui', 'severity', 'status', 'substance'];
const MEDICATION = [
  'dosage',
  'id',
  'ingredientRxcuis',
  'name',
  'recordedAt',
  'rxcui',
  'startedOn',
  'status',
];

describe('patients: minimum-necessary views per role', () => {
  let h: PatientsHarness;
  let t: TenantId;
  let prescriber: TestUser;
  let patientId: string;

  beforeAll(async () => {
    h = await patientsHarness();
    t = await tenant(h);
    prescriber = await user(h, t, 'prescriber');
    patientId = await seededPatient(h, prescriber);
  });
  afterAll(async () => {
    await h.close();
  });

  async function onCareTeam(role: string): Promise<TestUser> {
    const u = await user(h, t, role);
    const add = await call(h, 'POST', `/api/v1/patients/${patientId}/care-team`, prescriber, {
      userId: u.userId,
      relation: 'member',
    });
    expect(add.statusCode, add.body).toBe(201);
    return u;
  }

  async function withGrant(role: string): Promise<TestUser> {
    const u = await user(h, t, role);
    const now = h.clock.now();
    await h.p.db.withTenant(t, (tx) =>
      tx.query(
        `INSERT INTO access_grants (id, tenant_id, user_id, patient_id, permissions, reason, duration_minutes,
                                    status, requested_at, decided_by, decided_at, starts_at, expires_at)
         VALUES ($1, $2, $3, $4, ARRAY['patient.read'], 'dispensing a prescription', 60,
                 'approved', $5, $6, $5, $5, $5::timestamptz + interval '1 hour')`,
        [randomUUID(), t, u.userId, patientId, now, prescriber.userId],
      ),
    );
    return u;
  }

  it.each(['prescriber', 'prescriber_agent', 'care_coordinator'])(
    '%s on the care team gets the full view, every field',
    async (role) => {
      const u = role === 'prescriber' ? prescriber : await onCareTeam(role);
      const res = await call(h, 'GET', `/api/v1/patients/${patientId}`, u);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<Record<string, unknown>>();
      expect(Object.keys(body).sort()).toEqual(FULL);
      expect(body).toMatchObject({
        view: 'full',
        familyName: "O'Brien-Müller",
        phone: '+1 (555) 010-0199',
        preferredPharmacy: { ncpdpId: '0512345' },
        identifiers: [{ system: 'urn:oid:2.16.840.1.113883.4.1', value: '123-45-6789' }],
      });
      const allergies = body.allergies as Record<string, unknown>[];
      expect(Object.keys(allergies[0] ?? {}).sort()).toEqual(ALLERGY);
      const meds = body.medications as Record<string, unknown>[];
      expect(Object.keys(meds[0] ?? {}).sort()).toEqual(MEDICATION);
      const sub = await call(h, 'GET', `/api/v1/patients/${patientId}/medications`, u);
      expect(sub.statusCode).toBe(200);
    },
  );

  it('a pharmacist with a grant gets the dispensing view: no medications, no other identifiers', async () => {
    const u = await withGrant('pharmacist');
    const res = await call(h, 'GET', `/api/v1/patients/${patientId}`, u);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<Record<string, unknown>>();
    expect(Object.keys(body).sort()).toEqual(DISPENSING);
    expect(body.view).toBe('dispensing');
    expect(body).not.toHaveProperty('medications');
    expect(body).not.toHaveProperty('identifiers');
    expect((await call(h, 'GET', `/api/v1/patients/${patientId}/allergies`, u)).statusCode).toBe(
      200,
    );
    const meds = await call(h, 'GET', `/api/v1/patients/${patientId}/medications`, u);
    expect(meds.statusCode).toBe(403);
    // Read-only grant: no changes.
    const write = await call(h, 'POST', `/api/v1/patients/${patientId}/allergies`, u, {
      substance: 'Latex',
    });
    expect(write.statusCode).toBe(403);
  });

  it('lists and search results are summaries, whatever the role', async () => {
    const list = await call(h, 'GET', '/api/v1/patients', prescriber);
    expect(list.statusCode, list.body).toBe(200);
    const [first] = list.json<{ patients: Record<string, unknown>[] }>().patients;
    expect(Object.keys(first ?? {}).sort()).toEqual(SUMMARY);
    // A list view is a PHI access too: audited with the request id and the patients shown.
    const listed = await h.p.db.withTenant(
      t,
      async (tx) =>
        (
          await tx.query<{ subjects: { type: string }[] }>(
            `SELECT subjects FROM audit_log WHERE action = 'patient.list' AND request_id = $1`,
            [list.headers['x-request-id']],
          )
        ).rows,
    );
    expect(listed).toHaveLength(1);
    expect(listed[0]?.subjects.length).toBeGreaterThan(0);
    expect(listed[0]?.subjects.every((x) => x.type === 'patient')).toBe(true);
    expect(first?.view).toBe('summary');
    const found = await call(h, 'POST', '/api/v1/patients/search', prescriber, {
      familyName: 'obrien muller',
      birthDate: '1961-07-14',
    });
    expect(found.statusCode, found.body).toBe(200);
    const rows = found.json<{ patients: Record<string, unknown>[] }>().patients;
    expect(rows.map((r) => r.id)).toContain(patientId);
    for (const r of rows) expect(Object.keys(r).sort()).toEqual(SUMMARY);
  });

  it.each([
    'pharmacy_technician',
    'support',
    'auditor',
    'tenant_admin',
    'security_admin',
    'compliance_officer',
  ])('%s has no patient.read: 403 on read, search, list and sub-resources', async (role) => {
    const u = await user(h, t, role);
    for (const [method, url, body] of [
      ['GET', `/api/v1/patients/${patientId}`, undefined],
      ['GET', `/api/v1/patients/${patientId}/allergies`, undefined],
      ['GET', `/api/v1/patients/${patientId}/care-team`, undefined],
      ['GET', '/api/v1/patients', undefined],
      ['POST', '/api/v1/patients/search', { mrn: 'MRN-0042' }],
      ['GET', `/fhir/R4/Patient/${patientId}`, undefined],
    ] as const) {
      const res = await call(h, method, url, u, body);
      expect(res.statusCode, `${role} ${method} ${url}`).toBe(403);
      expect(res.body).not.toContain('Brien');
    }
  });

  it('unauthenticated callers get 401 and nothing else', async () => {
    const res = await call(h, 'GET', `/api/v1/patients/${patientId}`, undefined);
    expect(res.statusCode).toBe(401);
  });
});
