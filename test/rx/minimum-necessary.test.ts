import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../src/access/role-catalog.js';
import { get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { assertValidFhir } from '../fhir.js';
import {
  clinic,
  draftBody,
  DRUGS,
  patientWithTeam,
  plainUser,
  proofedPrescriber,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

/**
 * Minimum necessary for prescriptions (45 CFR 164.502(b), issue 5 item 4), field by field, for
 * every role of the built-in catalog: GET one prescription, the patient's prescription list and
 * the FHIR MedicationRequest (one and search). The expected fields are written out here, not
 * derived from the response schemas, so a field added to a view fails this test until someone
 * decides which roles may see it.
 */
const SUMMARY = [
  'createdAt',
  'deaSchedule',
  'drugName',
  'id',
  'kind',
  'patientId',
  'signedAt',
  'status',
  'strength',
];
const DISPENSING = [
  ...SUMMARY,
  'daysSupply',
  'deaNumber',
  'drug',
  'earliestFillDate',
  'jws',
  'keyId',
  'notesToPharmacist',
  'pharmacyNcpdpId',
  'practice',
  'prescriberId',
  'previousId',
  'quantity',
  'refills',
  'sig',
  'substitutionAllowed',
].sort();
const FULL = [
  ...DISPENSING,
  'diagnosis',
  'draftedBy',
  'errorCode',
  'findings',
  'readyAt',
  'updatedAt',
  'version',
].sort();
const DRUG = ['deaSchedule', 'doseForm', 'name', 'route', 'rxcui', 'strength'];

const FHIR_SUMMARY = [
  'authoredOn',
  'id',
  'intent',
  'medicationCodeableConcept',
  'requester',
  'resourceType',
  'status',
  'subject',
];
const FHIR_DISPENSING = [
  ...FHIR_SUMMARY,
  'dispenseRequest',
  'dosageInstruction',
  'note',
  'substitution',
].sort();
const FHIR_FULL = [...FHIR_DISPENSING, 'reasonCode'].sort();

/** What each role may see of one prescription it is related to. */
const EXPECTED: Record<Role, 'full' | 'dispensing' | 'none'> = {
  prescriber: 'full',
  prescriber_agent: 'full',
  care_coordinator: 'full',
  pharmacist: 'dispensing',
  pharmacy_technician: 'dispensing',
  support: 'none',
  auditor: 'none',
  compliance_officer: 'none',
  security_admin: 'none',
  tenant_admin: 'none',
  staff: 'none',
};
const DISPENSING_SIDE = new Set<Role>(['pharmacist', 'pharmacy_technician']);

const DOC = practitioner('Okafor', '123456789', '123456');
const keys = (o: unknown): string[] => Object.keys(o as object).sort();

describe('prescriptions: minimum-necessary views per role, field by field', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  let patientId: string;
  let rxId: string;
  let jws: string;
  const users = new Map<Role, Person>();

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC]);
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    users.set('prescriber', doc);
    for (const role of ROLES) {
      if (role === 'prescriber') continue;
      users.set(role, await plainUser(h, c, `${role.replace(/_/g, '-')}@example.test`, [role]));
    }
    // Everyone related to the patient: the treating side and the roles without clinical
    // permissions on the care team (the role, not a missing relationship, must stop them), the
    // pharmacy side through an approved grant for rx.read, as for a dispensing.
    const team = ROLES.filter((r) => !DISPENSING_SIDE.has(r)).map((r) => users.get(r)?.userId);
    patientId = await patientWithTeam(h, c.tenant, team as string[]);
    const now = h.clock.now();
    for (const role of DISPENSING_SIDE) {
      await h.p.db.withTenant(c.tenant, (tx) =>
        tx.query(
          `INSERT INTO access_grants (id, tenant_id, user_id, patient_id, permissions, reason, duration_minutes,
                                      status, requested_at, decided_by, decided_at, starts_at, expires_at)
           VALUES ($1, $2, $3, $4, ARRAY['rx.read'], 'dispensing a prescription', 60,
                   'approved', $5, $6, $5, $5, $5::timestamptz + interval '1 hour')`,
          [randomUUID(), c.tenant, users.get(role)?.userId, patientId, now, doc.userId],
        ),
      );
    }

    // A signed prescription with every optional clinical field and an overridden finding.
    h.safety.findings = [
      { kind: 'interaction', severity: 'warning', message: 'amoxicillin with methotrexate' },
    ];
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.amoxicillin, {
        diagnosis: { code: 'J02.9', display: 'Acute pharyngitis' },
        notesToPharmacist: 'Dispense in original packaging',
        earliestFillDate: '2026-03-02',
      }),
    );
    expect(d.statusCode, d.body).toBe(201);
    rxId = d.json<{ id: string }>().id;
    const shown = await get(h.app, `/api/v1/prescriptions/${rxId}/safety-checks`, doc.browser);
    const [finding] = shown.json<{ findings: { key: string }[] }>().findings;
    const ready = await post(h.app, `/api/v1/prescriptions/${rxId}/ready`, doc.browser, {
      overrides: [{ key: finding?.key, reason: 'Methotrexate stopped last month' }],
    });
    expect(ready.statusCode, ready.body).toBe(200);
    h.safety.findings = [];
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const signed = await post(h.app, `/api/v1/prescriptions/${rxId}/sign`, doc.browser);
    expect(signed.statusCode, signed.body).toBe(200);
    jws = signed.json<{ jws: string }>().jws;
  }, 240_000);
  afterAll(async () => {
    await h.close();
  });

  const who = (role: Role): Person => {
    const u = users.get(role);
    if (u === undefined) throw new Error(`no ${role}`);
    return u;
  };

  it.each(ROLES.filter((r) => EXPECTED[r] === 'full'))(
    '%s (treating side) gets the full record: every field, the diagnosis and the findings',
    async (role) => {
      const res = await get(h.app, `/api/v1/prescriptions/${rxId}`, who(role).browser);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<Record<string, unknown>>();
      expect(keys(body)).toEqual(FULL);
      expect(keys(body.drug)).toEqual(DRUG);
      expect(body).toMatchObject({
        diagnosis: { code: 'J02.9', display: 'Acute pharyngitis' },
        findings: [
          { kind: 'interaction', overrideReason: 'Methotrexate stopped last month' },
        ] as unknown[],
        notesToPharmacist: 'Dispense in original packaging',
        jws,
        status: 'queued',
      });
      const fhir = await get(h.app, `/fhir/R4/MedicationRequest/${rxId}`, who(role).browser);
      expect(fhir.statusCode, fhir.body).toBe(200);
      const mr = fhir.json<Record<string, unknown>>();
      assertValidFhir(mr);
      expect(keys(mr)).toEqual(FHIR_FULL);
      expect(mr).toMatchObject({ reasonCode: [{ coding: [{ code: 'J02.9' }] }] });
    },
  );

  it.each(ROLES.filter((r) => EXPECTED[r] === 'dispensing'))(
    '%s (pharmacy side, with a grant) gets the dispensing view: no diagnosis, findings, drafter or history',
    async (role) => {
      const res = await get(h.app, `/api/v1/prescriptions/${rxId}`, who(role).browser);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json<Record<string, unknown>>();
      expect(keys(body)).toEqual(DISPENSING);
      expect(keys(body.drug)).toEqual(DRUG);
      expect(body).toMatchObject({
        notesToPharmacist: 'Dispense in original packaging',
        earliestFillDate: '2026-03-02',
        pharmacyNcpdpId: '1234567',
        jws,
      });
      for (const text of ['Acute pharyngitis', 'J02.9', 'methotrexate', 'Methotrexate']) {
        expect(res.body).not.toContain(text);
      }
      // The JWS is the signed prescription itself, as NewRx carries it to the pharmacy, which
      // must be able to verify it: it holds the diagnosis when the prescriber gave one (a
      // disclosure for treatment, 45 CFR 164.502(b)(2)(i)). Pinned here so that a change to
      // what is signed, or to who receives the JWS, is a decision and not an accident.
      const [, payload = ''] = jws.split('.');
      const signedDoc = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
      expect(JSON.stringify(signedDoc)).toContain('J02.9');
      const fhir = await get(h.app, `/fhir/R4/MedicationRequest/${rxId}`, who(role).browser);
      expect(fhir.statusCode, fhir.body).toBe(200);
      const mr = fhir.json<Record<string, unknown>>();
      assertValidFhir(mr);
      expect(keys(mr)).toEqual(FHIR_DISPENSING);
      expect(fhir.body).not.toContain('J02.9');
      expect(fhir.body).not.toContain('pharyngitis');
    },
  );

  it.each(ROLES.filter((r) => EXPECTED[r] !== 'none'))(
    '%s gets summaries from the list endpoints, never full records',
    async (role) => {
      const list = await get(
        h.app,
        `/api/v1/patients/${patientId}/prescriptions`,
        who(role).browser,
      );
      expect(list.statusCode, list.body).toBe(200);
      const rows = list.json<{ prescriptions: Record<string, unknown>[] }>().prescriptions;
      expect(rows.map((r) => r.id)).toEqual([rxId]);
      for (const r of rows) expect(keys(r)).toEqual(SUMMARY);
      expect(list.body).not.toContain('Take 1 tablet');
      const search = await get(
        h.app,
        `/fhir/R4/MedicationRequest?patient=${patientId}`,
        who(role).browser,
      );
      expect(search.statusCode, search.body).toBe(200);
      const bundle = search.json<{ entry: { resource: Record<string, unknown> }[] }>();
      assertValidFhir(bundle);
      expect(bundle.entry).toHaveLength(1);
      for (const e of bundle.entry) expect(keys(e.resource)).toEqual(FHIR_SUMMARY);
      expect(search.body).not.toContain('Take 1 tablet');
    },
  );

  it.each(ROLES.filter((r) => EXPECTED[r] === 'none'))(
    '%s (no rx.read) gets 403 and nothing clinical, although on the care team',
    async (role) => {
      for (const url of [
        `/api/v1/prescriptions/${rxId}`,
        `/api/v1/patients/${patientId}/prescriptions`,
        `/fhir/R4/MedicationRequest/${rxId}`,
        `/fhir/R4/MedicationRequest?patient=${patientId}`,
        `/fhir/R4/Provenance?target=MedicationRequest/${rxId}`,
        `/fhir/R4/Provenance/rx-${rxId}`,
      ]) {
        const res = await get(h.app, url, who(role).browser);
        expect(res.statusCode, `${role} GET ${url}`).toBe(403);
        for (const text of ['amoxicillin', 'J02.9', 'Take 1 tablet', jws.slice(0, 20)]) {
          expect(res.body).not.toContain(text);
        }
      }
    },
  );

  it('a role with rx.read but no relationship to the patient gets 404, as for a missing record', async () => {
    const stranger = await plainUser(h, c, 'stranger@example.test', ['pharmacist']);
    for (const url of [
      `/api/v1/prescriptions/${rxId}`,
      `/api/v1/patients/${patientId}/prescriptions`,
      `/fhir/R4/MedicationRequest/${rxId}`,
      `/fhir/R4/Provenance/rx-${rxId}`,
    ]) {
      const res = await get(h.app, url, stranger.browser);
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('amoxicillin');
    }
  });

  it('every role of the catalog is covered by this test', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ROLES].sort());
  });
});
