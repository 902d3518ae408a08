import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/index.js';
import { catalogApplier } from '../../src/prescribing/catalog-change.applier.js';
import { loadInteractionTable } from '../../src/prescribing/interaction-table.js';
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

  it('loads a drug with ingredients and limits and checks it; another tenant gets not_found', async () => {
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
});
