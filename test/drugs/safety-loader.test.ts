import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { catalogApplier } from '../../src/prescribing/catalog-change.applier.js';
import { loadInteractionTable, NO_INTERACTIONS } from '../../src/prescribing/interaction-table.js';
import {
  catalogDrugLookup,
  catalogSafetyChecker,
  INTERACTIONS_NOT_CONFIGURED,
} from '../../src/prescribing/prescription.adapters.js';
import { readRxNormRelease } from '../../src/prescribing/rxnorm-rrf.js';
import { loadSafetyDrug, runSafetyChecks } from '../../src/prescribing/safety-checks.js';
import { DrugCatalogRepository } from '../../src/prescribing/drug-catalog.repository.js';
import { freshTenant, openTestDatabase } from '../db.js';
import { FIXTURE } from './helpers.js';

describe('safety checks over the catalog', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  /** A fresh tenant with the RxNorm fixture in its catalog (oxycodone limited to 120 mg a day). */
  async function tenantWithCatalog() {
    const tenant = await freshTenant(db);
    const release = await readRxNormRelease(FIXTURE);
    const payload = {
      source: 'rxnorm',
      upsert: release.drugs,
      retire: [],
      limits: [{ rxcui: '1049621', limits: { maxSingleDose: 30, maxDailyDose: 120, unit: 'mg' } }],
    };
    catalogApplier.validate(payload);
    await db.withTenant(tenant, (tx) =>
      catalogApplier.apply(tx, payload, {
        tenantId: tenant,
        proposalId: randomUUID(),
        version: 1,
        now: new Date(),
      }),
    );
    return tenant;
  }

  it('loads a drug with ingredients and limits and checks it; another tenant gets not_found', async () => {
    const tenant = await tenantWithCatalog();
    const id = await db.withTenant(tenant, async (tx) => {
      const [oxy] = await DrugCatalogRepository.findByCode(tx, '1049621');
      return oxy?.id ?? '';
    });
    const drug = await db.withTenant(tenant, (tx) => loadSafetyDrug(tx, id));
    expect(drug).toEqual({
      rxcui: '1049621',
      name: 'oxycodone hydrochloride 5 MG Oral Tablet',
      ingredients: [{ rxcui: '7804', name: 'oxycodone' }],
      limits: { maxSingleDose: 30, maxDailyDose: 120, unit: 'mg' },
    });
    const findings = runSafetyChecks({
      drug,
      allergies: [{ ingredientRxcui: '7804' }],
      activeMedications: [],
      dose: { amount: 60, unit: 'mg', timesPerDay: 1 },
      interactions: loadInteractionTable(
        new URL('../fixtures/interactions.csv', import.meta.url).pathname,
      ),
    });
    expect(findings.map((f) => f.kind)).toEqual(['drug_allergy', 'dose_range']);
    const other = await freshTenant(db);
    await expect(db.withTenant(other, (tx) => loadSafetyDrug(tx, id))).rejects.toThrow(
      'no such drug',
    );
  });

  it('tells the prescriber when no interaction table is configured (an info finding), not when one is', async () => {
    const tenant = await tenantWithCatalog();
    // A patient with no allergies and no medications: only the table matters.
    const clinical: Parameters<typeof catalogSafetyChecker>[0] = {
      safetyProfile: () =>
        Promise.resolve({ allergies: [], activeMedications: [], activeIngredientRxcuis: [] }),
    };
    const run = (table: typeof NO_INTERACTIONS) =>
      db.withTenant(tenant, async (tx) => {
        const drug = await catalogDrugLookup.get(tx, tenant, '1049621');
        if (drug === undefined) throw new Error('oxycodone is missing from the catalog');
        return catalogSafetyChecker(clinical, table).check({
          tx,
          tenantId: tenant,
          patientId: randomUUID(),
          prescriptionId: randomUUID(),
          drug,
          quantity: { value: 20, unit: 'tablet' },
          daysSupply: 5,
          sig: 'Take 1 tablet every 6 hours as needed',
        });
      });
    expect(await run(NO_INTERACTIONS)).toEqual([INTERACTIONS_NOT_CONFIGURED]);
    expect(INTERACTIONS_NOT_CONFIGURED).toMatchObject({ kind: 'interaction', severity: 'info' });
    const table = loadInteractionTable(
      new URL('../fixtures/interactions.csv', import.meta.url).pathname,
    );
    expect(await run(table)).toEqual([]);
  });
});
