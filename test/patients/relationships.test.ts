import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TenantId } from '../../src/core/index.js';
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

/** Relationship checks (issue 5 items 2 and 9), audit of every access, duplicates, care teams. */
describe('patients: relationships, tenant isolation and audit', () => {
  let h: PatientsHarness;
  let t: TenantId;
  let other: TenantId;
  let prescriber: TestUser;
  let outsider: TestUser;
  let foreign: TestUser;
  let patientId: string;
  let foreignPatient: string;
  const mrn = `MRN-${randomUUID().slice(0, 8)}`;
  const familyName = `Zed${randomUUID().slice(0, 6).replace(/[0-9]/g, 'x')}`;
  const demographics = { ...PATIENT, familyName, mrn, phone: '(555) 010-4242' };

  beforeAll(async () => {
    h = await patientsHarness();
    t = await tenant(h);
    other = await tenant(h);
    prescriber = await user(h, t, 'prescriber');
    outsider = await user(h, t, 'prescriber');
    foreign = await user(h, other, 'prescriber');
    patientId = await seededPatient(h, prescriber, demographics);
    foreignPatient = await seededPatient(h, foreign);
  });
  afterAll(async () => {
    await h.close();
  });

  const byName = { familyName, birthDate: PATIENT.birthDate };

  it('a prescriber not on the care team gets 404 and never finds the patient; once added, sees it', async () => {
    expect((await call(h, 'GET', `/api/v1/patients/${patientId}`, outsider)).statusCode).toBe(404);
    for (const q of [byName, { mrn }, { phone: '555-010-4242' }]) {
      const res = await call(h, 'POST', '/api/v1/patients/search', outsider, q);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({ patients: [] });
    }
    const list = await call(h, 'GET', '/api/v1/patients', outsider);
    expect(list.json()).toEqual({ patients: [] });
    // Nor can they put themselves on the team.
    const self = await call(h, 'POST', `/api/v1/patients/${patientId}/care-team`, outsider, {
      userId: outsider.userId,
      relation: 'member',
    });
    expect(self.statusCode).toBe(404);

    const add = await call(h, 'POST', `/api/v1/patients/${patientId}/care-team`, prescriber, {
      userId: outsider.userId,
      relation: 'covering',
    });
    expect(add.statusCode, add.body).toBe(201);
    expect((await call(h, 'GET', `/api/v1/patients/${patientId}`, outsider)).statusCode).toBe(200);
    const found = await call(h, 'POST', '/api/v1/patients/search', outsider, { mrn });
    expect(found.json<{ patients: { id: string }[] }>().patients.map((p) => p.id)).toEqual([
      patientId,
    ]);
    const team = await call(h, 'GET', `/api/v1/patients/${patientId}/care-team`, outsider);
    expect(
      team
        .json<{ members: { userId: string; relation: string }[] }>()
        .members.map((m) => m.relation)
        .sort(),
    ).toEqual(['covering', 'creator']);

    const removed = await call(
      h,
      'DELETE',
      `/api/v1/patients/${patientId}/care-team/${outsider.userId}`,
      prescriber,
    );
    expect(removed.statusCode, removed.body).toBe(200);
    expect((await call(h, 'GET', `/api/v1/patients/${patientId}`, outsider)).statusCode).toBe(404);
    // The last member cannot leave.
    const last = await call(
      h,
      'DELETE',
      `/api/v1/patients/${patientId}/care-team/${prescriber.userId}`,
      prescriber,
    );
    expect(last.statusCode).toBe(409);
  });

  it("another tenant's patient answers exactly like a random id", async () => {
    const strip = (b: string): unknown => {
      const body = JSON.parse(b) as Record<string, unknown>;
      delete body.requestId;
      return body;
    };
    for (const suffix of ['', '/allergies', '/medications', '/care-team']) {
      const theirs = await call(
        h,
        'GET',
        `/api/v1/patients/${foreignPatient}${suffix}`,
        prescriber,
      );
      const random = await call(h, 'GET', `/api/v1/patients/${randomUUID()}${suffix}`, prescriber);
      expect(theirs.statusCode).toBe(404);
      expect(random.statusCode).toBe(404);
      expect(theirs.headers['content-type']).toBe(random.headers['content-type']);
      expect(strip(theirs.body)).toEqual(strip(random.body));
    }
    const write = await call(
      h,
      'POST',
      `/api/v1/patients/${foreignPatient}/allergies`,
      prescriber,
      {
        substance: 'Latex',
      },
    );
    expect(write.statusCode).toBe(404);
    // A member of another tenant cannot be added to a care team here.
    const add = await call(h, 'POST', `/api/v1/patients/${patientId}/care-team`, prescriber, {
      userId: foreign.userId,
      relation: 'member',
    });
    expect(add.statusCode).toBe(404);
    const fhir = await call(h, 'GET', `/fhir/R4/Patient/${foreignPatient}`, prescriber);
    expect(fhir.statusCode).toBe(404);
  });

  it('searches are audited with the count, never the terms, also when nothing matches', async () => {
    const before = (await audit(h, t)).length;
    await call(h, 'POST', '/api/v1/patients/search', prescriber, byName);
    await call(h, 'POST', '/api/v1/patients/search', outsider, { phone: '555-010-4242' });
    await call(h, 'POST', '/api/v1/patients/search', prescriber, { mrn: 'NO-SUCH-MRN' });
    const rows = (await audit(h, t)).slice(before);
    expect(rows.map((r) => [r.action, r.details.count, r.details.by])).toEqual([
      ['patient.search', 1, 'name_dob'],
      ['patient.search', 0, 'phone'],
      ['patient.search', 0, 'mrn'],
    ]);
    expect(rows[0]?.subjects).toEqual([{ type: 'patient', id: patientId }]);
    expect(rows[0]?.actor_user_id).toBe(prescriber.userId);
    const everything = JSON.stringify(await audit(h, t)) + h.logs.text;
    // The phone in its written and digits-only forms: a bare '4242' also turns up in random
    // request ids, which would make this test fail by chance.
    const phoneForms = ['010-4242', '5550104242'];
    for (const term of [
      familyName,
      PATIENT.birthDate,
      mrn,
      ...phoneForms,
      'NO-SUCH-MRN',
      'Penicillin',
    ]) {
      expect(everything, term).not.toContain(term);
    }
  });

  it('reads are audited before the data leaves, with the view', async () => {
    const before = (await audit(h, t)).length;
    await call(h, 'GET', `/api/v1/patients/${patientId}`, prescriber);
    const [row] = (await audit(h, t)).slice(before);
    expect(row).toMatchObject({
      action: 'patient.read',
      outcome: 'success',
      details: { view: 'full', basis: 'care_team', count: 1 },
      subjects: [{ type: 'patient', id: patientId }],
    });
  });

  it('duplicate detection: 409 with the candidates the creator may see, unless confirmed', async () => {
    const same = { ...demographics, givenName: 'Adele', mrn: undefined };
    const mine = await call(h, 'POST', '/api/v1/patients', prescriber, same);
    expect(mine.statusCode, mine.body).toBe(409);
    expect(mine.headers['content-type']).toContain('application/problem+json');
    expect(mine.json()).toMatchObject({ code: 'conflict', candidates: [patientId] });
    // Same MRN, other name: also a candidate.
    const byMrn = await call(h, 'POST', '/api/v1/patients', prescriber, {
      ...PATIENT,
      familyName: 'Different',
      mrn,
    });
    expect(byMrn.json()).toMatchObject({ candidates: [patientId] });
    // Someone without a relationship learns no id.
    const theirs = await call(h, 'POST', '/api/v1/patients', outsider, same);
    expect(theirs.statusCode).toBe(409);
    expect(theirs.json<{ candidates: string[] }>().candidates).toEqual([]);
    const refusals = (await audit(h, t)).filter(
      (r) => r.action === 'patient.create' && r.outcome === 'failure',
    );
    expect(refusals.map((r) => r.details.visible)).toEqual([1, 1, 0]);

    const confirmed = await call(h, 'POST', '/api/v1/patients', outsider, {
      ...same,
      confirmNotDuplicate: true,
    });
    expect(confirmed.statusCode, confirmed.body).toBe(201);
    const id = confirmed.json<{ id: string }>().id;
    // The creator joined the care team.
    expect((await call(h, 'GET', `/api/v1/patients/${id}`, outsider)).statusCode).toBe(200);
    const created = (await audit(h, t)).find(
      (r) => r.action === 'patient.create' && r.outcome === 'success' && r.subjects[0]?.id === id,
    );
    expect(created?.details).toMatchObject({ confirmedNotDuplicate: true, duplicateMatches: 1 });
  });

  it('a break-glass read is marked in its audit record; the read-only session cannot write', async () => {
    const emergency = await user(h, t, 'prescriber');
    const glassId = randomUUID();
    const now = h.clock.now();
    await h.p.db.withTenant(t, (tx) =>
      tx.query(
        `INSERT INTO break_glass_sessions (id, tenant_id, user_id, session_id, patient_id, category, reason,
                                           started_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, 'emergency_treatment', 'unconscious patient in the ED', $6,
                 $6::timestamptz + interval '30 minutes')`,
        [glassId, t, emergency.userId, randomUUID(), patientId, now],
      ),
    );
    const res = await call(h, 'GET', `/api/v1/patients/${patientId}`, emergency);
    expect(res.statusCode, res.body).toBe(200);
    const row = (await audit(h, t)).at(-1);
    expect(row).toMatchObject({
      action: 'patient.read',
      details: {
        basis: 'break_glass',
        breakGlass: glassId,
        breakGlassCategory: 'emergency_treatment',
      },
    });
    const write = await call(h, 'POST', `/api/v1/patients/${patientId}/allergies`, emergency, {
      substance: 'Latex',
    });
    expect(write.statusCode).toBe(404);
  });

  it('bad input answers 400 and changes nothing', async () => {
    const before = (await audit(h, t)).length;
    for (const body of [
      {},
      { mrn: 'A', phone: '5550100199' },
      { familyName: 'Smith' },
      { familyName: 'Smith', birthDate: '1961-02-30' },
      { phone: '12' },
    ]) {
      const res = await call(h, 'POST', '/api/v1/patients/search', prescriber, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.body).not.toContain('Smith');
    }
    for (const body of [
      { ...PATIENT, birthDate: '14/07/1961' },
      { ...PATIENT, ssn: '123-45-6789', familyName: '' },
    ]) {
      expect((await call(h, 'POST', '/api/v1/patients', prescriber, body)).statusCode).toBe(400);
    }
    const badAllergy = await call(
      h,
      'POST',
      `/api/v1/patients/${patientId}/allergies`,
      prescriber,
      {
        substance: 'X',
        rxcui: 'abc',
      },
    );
    expect(badAllergy.statusCode).toBe(400);
    const badPharmacy = await call(h, 'PUT', `/api/v1/patients/${patientId}/pharmacy`, prescriber, {
      ncpdpId: 'no spaces!',
    });
    expect(badPharmacy.statusCode).toBe(400);
    expect((await audit(h, t)).length).toBe(before);
  });

  it('demographics are replaced by a care-team member only, and the indexes follow', async () => {
    const newMrn = `${mrn}-B`;
    const body = { ...demographics, mrn: newMrn };
    expect((await call(h, 'PUT', `/api/v1/patients/${patientId}`, outsider, body)).statusCode).toBe(
      404,
    );
    const res = await call(h, 'PUT', `/api/v1/patients/${patientId}`, prescriber, body);
    expect(res.statusCode, res.body).toBe(200);
    const found = await call(h, 'POST', '/api/v1/patients/search', prescriber, { mrn: newMrn });
    expect(found.json<{ patients: { id: string }[] }>().patients.map((p) => p.id)).toEqual([
      patientId,
    ]);
    const old = await call(h, 'POST', '/api/v1/patients/search', prescriber, { mrn });
    expect(old.json()).toEqual({ patients: [] });
  });

  it('allergies and medications: inactivate and stop, each change audited', async () => {
    const a = await call(h, 'POST', `/api/v1/patients/${patientId}/allergies`, prescriber, {
      substance: 'Sulfamethoxazole',
      rxcui: '10180',
      severity: 'severe',
    });
    const allergyId = a.json<{ id: string }>().id;
    const off = await call(
      h,
      'POST',
      `/api/v1/patients/${patientId}/allergies/${allergyId}/inactivate`,
      prescriber,
    );
    expect(off.statusCode, off.body).toBe(200);
    const again = await call(
      h,
      'POST',
      `/api/v1/patients/${patientId}/allergies/${allergyId}/inactivate`,
      prescriber,
    );
    expect(again.statusCode).toBe(404);
    const meds = await call(h, 'GET', `/api/v1/patients/${patientId}/medications`, prescriber);
    const medId = meds.json<{ medications: { id: string }[] }>().medications[0]?.id ?? '';
    const stop = await call(
      h,
      'POST',
      `/api/v1/patients/${patientId}/medications/${medId}/stop`,
      prescriber,
      { stoppedOn: '2026-03-01' },
    );
    expect(stop.statusCode, stop.body).toBe(200);
    const after = await call(h, 'GET', `/api/v1/patients/${patientId}/medications`, prescriber);
    expect(after.json<{ medications: unknown[] }>().medications[0]).toMatchObject({
      status: 'stopped',
      stoppedOn: '2026-03-01',
    });
    const updates = (await audit(h, t)).filter(
      (r) => r.action === 'patient.update' && r.subjects[0]?.id === patientId,
    );
    expect(updates.map((r) => `${String(r.details.part)}.${String(r.details.op)}`)).toEqual(
      expect.arrayContaining(['allergy.add', 'allergy.inactivate', 'medication.stop']),
    );
  });
});
