import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { applyDueChanges } from '../../src/prescribing/change-control.service.js';
import { proposeRxNormImport } from '../../src/prescribing/drug-import.js';
import { DrugCatalogRepository } from '../../src/prescribing/drug-catalog.repository.js';
import type { DrugRecord } from '../../src/prescribing/drug.js';
import type { CatalogChange } from '../../src/prescribing/catalog-change.applier.js';
import type { DrugSnapshot } from '../../src/prescribing/prescription.types.js';
import { averageDailyDose } from '../../src/prescribing/prescription.adapters.js';
import { get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { FIXTURE } from '../drugs/helpers.js';
import {
  clinic,
  draftBody,
  patientWithTeam,
  plainUser,
  proofedPrescriber,
  rxHarness,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

const DOC = practitioner('Okafor', '123456789', '123456');

const OXYCODONE = '1049621';
const ASPIRIN_81 = '243670';
const ACETAMINOPHEN_325 = '313782';
const LISINOPRIL_10 = '314076';
const WARFARIN_5 = '855332';

interface Finding {
  key: string;
  kind: string;
  severity: string;
  message: string;
}

/**
 * Issue 7 end to end over the platform's own composition (src/platform.ts): the prescription
 * service reads drugs from the tenant's catalog (`catalogDrugLookup`) and runs the catalog's
 * safety checks (`catalogSafetyChecker`) with the shipped interaction table, not the fakes of
 * rx-harness. The catalog only changes through change control.
 */
describe('prescriptions over the drug catalog (catalogDrugLookup, catalogSafetyChecker)', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  let pharmA: Person;
  let pharmB: Person;
  let release: DrugRecord[];
  let patientId: string;

  const snapshotOf = async (id: string): Promise<DrugSnapshot> =>
    h.p.db.withTenant(c.tenant, async (tx) => (await h.rx.repo.get(tx, c.tenant, id)).content.drug);

  async function draft(rxcui: string, extra: Record<string, unknown> = {}) {
    return post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, { rxcui } as DrugSnapshot, extra),
    );
  }

  async function findingsOf(id: string): Promise<Finding[]> {
    const res = await get(h.app, `/api/v1/prescriptions/${id}/safety-checks`, doc.browser);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ findings: Finding[] }>().findings;
  }

  /** A catalog change proposed by one pharmacist and approved by the other. */
  async function change(payload: CatalogChange, summary: string, effectiveAt?: Date) {
    const proposal = await h.p.changes.propose(
      c.tenant,
      { userId: pharmA.userId },
      { kind: 'catalog', payload, summary, effectiveAt },
    );
    return h.p.changes.approve(c.tenant, { userId: pharmB.userId }, proposal.id);
  }

  beforeAll(async () => {
    // The operator's limits (SCRIP_RX_LIMITS) reach the platform's prescription service.
    h = await rxHarness({
      catalog: true,
      config: { SCRIP_RX_LIMITS: '{"CII":{"maxDaysSupply":30},"CIV":{"maxRefills":2}}' },
    });
    c = await clinic(h, [DOC]);
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    pharmA = await plainUser(h, c, 'pia@example.test', ['pharmacist']);
    pharmB = await plainUser(h, c, 'pete@example.test', ['pharmacist']);

    // The RxNorm fixture: proposed by one pharmacist, approved (and so applied) by another.
    const imported = await proposeRxNormImport(
      h.p.changes,
      c.tenant,
      { userId: pharmA.userId },
      FIXTURE,
    );
    release = imported.release.drugs;
    await expect(
      h.p.changes.approve(c.tenant, { userId: pharmA.userId }, imported.proposal.id),
    ).rejects.toMatchObject({ code: 'forbidden' });
    const applied = await h.p.changes.approve(
      c.tenant,
      { userId: pharmB.userId },
      imported.proposal.id,
    );
    expect(applied.status).toBe('applied');
    // A daily dose limit on oxycodone 5 mg, a catalog change like any other.
    const limits = await change(
      {
        source: 'manual',
        upsert: [],
        retire: [],
        limits: [
          { rxcui: OXYCODONE, limits: { maxSingleDose: null, maxDailyDose: 30, unit: 'mg' } },
        ],
      },
      'oxycodone 5 mg: at most 30 mg a day',
    );
    expect(limits.status).toBe('applied');

    // Allergic to aspirin (coded by ingredient), on warfarin and oxycodone.
    patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    await h.p.db.withTenant(c.tenant, async (tx) => {
      const clinical = h.p.patientServices.clinical;
      await clinical.addAllergy(tx, c.tenant, patientId, doc.userId, {
        rxcui: '1191',
        substance: 'Aspirin',
        reaction: 'hives',
        severity: 'moderate',
      });
      await clinical.addMedication(tx, c.tenant, patientId, doc.userId, {
        rxcui: WARFARIN_5,
        ingredientRxcuis: ['11289'],
        name: 'warfarin sodium 5 MG Oral Tablet',
      });
      await clinical.addMedication(tx, c.tenant, patientId, doc.userId, {
        rxcui: OXYCODONE,
        ingredientRxcuis: ['7804'],
        name: 'oxycodone hydrochloride 5 MG Oral Tablet',
      });
    });
  }, 240_000);
  afterAll(async () => {
    await h.close();
  });

  it('the drug snapshot on the prescription is the catalog entry (name, strength, form, schedule, ingredients)', async () => {
    const res = await draft(OXYCODONE, { quantity: { value: 12, unit: 'tablet' }, daysSupply: 3 });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json<{ id: string }>().id;
    const catalog = await h.p.db.withTenant(c.tenant, (tx) =>
      DrugCatalogRepository.getByRxcui(tx, OXYCODONE),
    );
    expect(catalog).toBeDefined();
    const snapshot = await snapshotOf(id);
    expect(snapshot).toMatchObject({
      rxcui: OXYCODONE,
      name: 'oxycodone hydrochloride 5 MG Oral Tablet',
      strength: '5 MG',
      doseForm: 'Oral Tablet',
      deaSchedule: 'CII', // asserted on the brand, held for the clinical drug too
      ingredients: [{ rxcui: '7804', name: 'oxycodone' }],
      limits: { maxDailyDose: 30 },
    });
    expect(snapshot).toMatchObject({
      name: catalog?.name,
      strength: catalog?.strength,
      doseForm: catalog?.doseForm,
      deaSchedule: catalog?.deaSchedule,
    });
    expect(res.json()).toMatchObject({
      deaSchedule: 'CII',
      drugName: 'oxycodone hydrochloride 5 MG Oral Tablet',
      drug: { rxcui: OXYCODONE, strength: '5 MG', doseForm: 'Oral Tablet', deaSchedule: 'CII' },
    });
    // 12 tablets over 3 days is 20 mg a day: within the limit; but already on oxycodone and warfarin.
    const kinds = (await findingsOf(id)).map((f) => f.kind).sort();
    expect(kinds).toEqual(['duplicate_therapy', 'interaction']);
    // Out of the way of the Schedule II series rules for the next draft of the same drug.
    const cancelled = await post(h.app, `/api/v1/prescriptions/${id}/cancel`, doc.browser);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
  });

  it('drug-allergy by ingredient and an interaction from the table (aspirin with warfarin)', async () => {
    const res = await draft(ASPIRIN_81, {
      quantity: { value: 30, unit: 'tablet' },
      daysSupply: 30,
    });
    expect(res.statusCode, res.body).toBe(201);
    const findings = await findingsOf(res.json<{ id: string }>().id);
    expect(findings).toHaveLength(2);
    expect(findings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'drug_allergy',
          severity: 'high',
          message: expect.stringContaining('aspirin (RxCUI 1191), a recorded allergy') as string,
        }),
        expect.objectContaining({
          kind: 'interaction',
          severity: 'high',
          message: expect.stringContaining('bleeding risk of warfarin') as string,
        }),
      ]),
    );
    // No PHI in the findings: drugs and codes only.
    for (const f of findings) expect(f.message).not.toMatch(/Rivera|Jordan|hives/);
  });

  it('duplicate therapy, the interaction with warfarin, and the daily dose above the catalog limit (oxycodone)', async () => {
    // 60 tablets of 5 mg over 5 days: 60 mg a day, the limit is 30.
    const res = await draft(OXYCODONE, { quantity: { value: 60, unit: 'tablet' }, daysSupply: 5 });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json<{ id: string }>().id;
    const findings = await findingsOf(id);
    expect(findings.map((f) => [f.kind, f.severity]).sort()).toEqual([
      ['dose_range', 'high'],
      ['duplicate_therapy', 'warning'],
      ['interaction', 'warning'],
    ]);
    expect(findings.find((f) => f.kind === 'dose_range')?.message).toBe(
      '60 mg a day exceeds the maximum daily dose of 30 mg',
    );
    expect(findings.find((f) => f.kind === 'duplicate_therapy')?.message).toContain(
      'oxycodone (RxCUI 7804)',
    );
    expect(findings.find((f) => f.kind === 'interaction')?.message).toContain('RxCUI 11289');
    // The findings hold up readiness until each is overridden with a reason.
    const refused = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {});
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json<{ detail: string }>().detail).toMatch(/^safety:/);
  });

  it('a drug without interactions, allergies or limits has no findings (lisinopril)', async () => {
    const res = await draft(LISINOPRIL_10);
    expect(res.statusCode, res.body).toBe(201);
    expect(await findingsOf(res.json<{ id: string }>().id)).toEqual([]);
  });

  it("the operator's per-schedule limits apply: a 31-day Schedule II supply is refused (the default allows 90), 30 is not", async () => {
    const other = await patientWithTeam(h, c.tenant, [doc.userId]);
    const cii = (days: number) =>
      post(
        h.app,
        '/api/v1/prescriptions',
        doc.browser,
        draftBody(other, { rxcui: OXYCODONE } as DrugSnapshot, {
          quantity: { value: days, unit: 'tablet' },
          daysSupply: days,
        }),
      );
    const over = await cii(31);
    expect(over.statusCode, over.body).toBe(400);
    expect(over.json()).toMatchObject({ code: 'validation_failed', detail: 'daysSupply' });
    const ok = await cii(30);
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('an unknown or a retired RXCUI is refused, and nothing is stored', async () => {
    const count = async (): Promise<number> =>
      h.p.db.withTenant(c.tenant, async (tx) => {
        const { rows } = await tx.query<{ n: string }>('SELECT count(*) AS n FROM prescriptions');
        return Number(rows[0]?.n);
      });
    const before = await count();
    const unknown = await draft('999999');
    expect(unknown.statusCode, unknown.body).toBe(400);
    expect(unknown.json()).toMatchObject({ code: 'validation_failed', detail: 'rxcui' });
    // Obsolete in the release (SUPPRESS=O): never entered the catalog.
    expect((await draft('197379')).statusCode).toBe(400);

    const retired = await change(
      { source: 'manual', upsert: [], retire: [LISINOPRIL_10], limits: [] },
      'retire lisinopril 10 mg',
    );
    expect(retired.status).toBe('applied');
    const refused = await draft(LISINOPRIL_10);
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json()).toMatchObject({ code: 'validation_failed', detail: 'rxcui' });
    expect(await count()).toBe(before);
  });

  it('a change approved but not yet effective does not change what a new draft sees; once applied it does', async () => {
    const original = release.find((d) => d.rxcui === ACETAMINOPHEN_325);
    if (original === undefined) throw new Error('fixture lacks acetaminophen 325 mg');
    const effectiveAt = new Date(h.clock.now().getTime() + 86_400_000);
    const approved = await change(
      {
        source: 'manual',
        upsert: [
          {
            ...original,
            name: 'acetaminophen 325 MG Oral Tablet [relabelled]',
            limits: { maxSingleDose: null, maxDailyDose: 3000, unit: 'mg' },
          },
        ],
        retire: [],
        limits: [],
      },
      'acetaminophen: new label and a 3 g daily limit, from tomorrow',
      effectiveAt,
    );
    expect(approved.status).toBe('approved');
    // 100 tablets of 325 mg over 5 days: 6500 mg a day.
    const body = { quantity: { value: 100, unit: 'tablet' }, daysSupply: 5 };
    const before = await draft(ACETAMINOPHEN_325, body);
    expect(before.statusCode, before.body).toBe(201);
    const beforeId = before.json<{ id: string }>().id;
    expect((await snapshotOf(beforeId)).name).toBe('acetaminophen 325 MG Oral Tablet');
    expect(await findingsOf(beforeId)).toEqual([]);

    expect(
      await applyDueChanges(
        h.p.db,
        c.tenant,
        new ManualClock(effectiveAt.getTime() - 1000),
        h.p.changeAppliers,
      ),
    ).toEqual([]);
    expect(
      await applyDueChanges(
        h.p.db,
        c.tenant,
        new ManualClock(effectiveAt.getTime()),
        h.p.changeAppliers,
      ),
    ).toEqual([approved.id]);

    const after = await draft(ACETAMINOPHEN_325, body);
    expect(after.statusCode, after.body).toBe(201);
    const afterId = after.json<{ id: string }>().id;
    expect((await snapshotOf(afterId)).name).toBe('acetaminophen 325 MG Oral Tablet [relabelled]');
    expect((await findingsOf(afterId)).map((f) => [f.kind, f.message])).toEqual([
      ['dose_range', '6500 mg a day exceeds the maximum daily dose of 3000 mg'],
    ]);
    // The earlier draft keeps the snapshot it was drafted with.
    expect((await snapshotOf(beforeId)).name).toBe('acetaminophen 325 MG Oral Tablet');
  });
});

describe('averageDailyDose (the dose the catalog limit is compared with)', () => {
  const mg = { maxSingleDose: null, maxDailyDose: 30, unit: 'mg' };
  it('counts dosage units of a single-strength drug in its strength unit', () => {
    expect(averageDailyDose({ strength: '5 MG' }, mg, { value: 60, unit: 'tablet' }, 5)).toEqual({
      amount: 60,
      unit: 'mg',
    });
    expect(averageDailyDose({ strength: '5 MG' }, mg, { value: 10, unit: 'Capsules' }, 3)).toEqual({
      amount: 16.667,
      unit: 'mg',
    });
  });
  it('takes a quantity already in the limit unit as is', () => {
    expect(averageDailyDose({ strength: '' }, mg, { value: 90, unit: 'MG' }, 3)).toEqual({
      amount: 30,
      unit: 'mg',
    });
  });
  it('leaves another unit as is (the check then says it could not compare)', () => {
    expect(
      averageDailyDose({ strength: '300 MG / 30 MG' }, mg, { value: 20, unit: 'tablet' }, 5),
    ).toEqual({ amount: 4, unit: 'tablet' });
    expect(averageDailyDose({ strength: '5 MG' }, mg, { value: 100, unit: 'mL' }, 10)).toEqual({
      amount: 10,
      unit: 'mL',
    });
    expect(averageDailyDose({ strength: '5 MG' }, mg, { value: 10, unit: 'tablet' }, 0)).toBe(
      undefined,
    );
  });
});
