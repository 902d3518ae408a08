import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { ENCRYPTED_TABLES } from '../../src/platform.js';
import { freshTenant, ownerClient } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

/** Clinical data at rest (45 CFR 164.312(a)(2)(iv)) and the safety profile for prescribing. */
describe('patient clinical data: sealed at rest, safety profile', () => {
  let p: TestPlatform;
  let t: TenantId;
  let patientId: string;
  let userId: string;

  beforeAll(async () => {
    p = await testPlatform(new ManualClock(Date.UTC(2026, 2, 3, 15, 0, 0)));
    t = await freshTenant(p.db);
    userId = randomUUID();
    await p.db.withTenant(t, async (tx) => {
      await tx.query(
        `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
         VALUES ($1, $2, $3, 'Clin Ician', '$argon2id$x', now())`,
        [userId, t, `clin-${userId}@example.test`],
      );
      patientId = await p.patients.create(tx, t, {
        givenName: 'Bea',
        familyName: 'Quintana',
        birthDate: '1950-01-02',
      });
      const c = p.patientServices.clinical;
      await c.addAllergy(tx, t, patientId, userId, {
        rxcui: '7980',
        substance: 'Penicillin G',
        severity: 'severe',
      });
      await c.addAllergy(tx, t, patientId, userId, { substance: 'Shellfish (free text)' });
      const gone = await c.addAllergy(tx, t, patientId, userId, {
        rxcui: '2670',
        substance: 'Codeine',
      });
      await c.inactivateAllergy(tx, patientId, gone);
      await c.addMedication(tx, t, patientId, userId, {
        rxcui: '314076',
        ingredientRxcuis: ['29046'],
        name: 'lisinopril 10 MG Oral Tablet',
      });
      await c.addMedication(tx, t, patientId, userId, {
        rxcui: '197361',
        ingredientRxcuis: ['17767', '5487'],
        name: 'amlodipine / hydrochlorothiazide',
      });
      const old = await c.addMedication(tx, t, patientId, userId, {
        ingredientRxcuis: ['6809'],
        name: 'metformin',
      });
      await c.stopMedication(tx, t, patientId, old, '2026-01-01');
      await c.setPreferredPharmacy(tx, t, patientId, userId, '0512345');
      await c.setPreferredPharmacy(tx, t, patientId, userId, '0599999');
    });
  });
  afterAll(async () => {
    await p.close();
  });

  it('safetyProfile gives active allergies (coded or not) and active ingredients only', async () => {
    const profile = await p.db.withTenant(t, (tx) =>
      p.patientServices.clinical.safetyProfile(tx, t, patientId),
    );
    // Same recorded time (frozen clock): order by substance to compare.
    expect([...profile.allergies].sort((a, b) => a.substance.localeCompare(b.substance))).toEqual([
      { rxcui: '7980', substance: 'Penicillin G' },
      { rxcui: null, substance: 'Shellfish (free text)' },
    ]);
    expect(profile.activeIngredientRxcuis).toEqual(['17767', '29046', '5487']);
    expect(profile.activeMedications.map((m) => m.rxcui).sort()).toEqual(['197361', '314076']);
    const pharmacy = await p.db.withTenant(t, (tx) =>
      p.patientServices.clinical.preferredPharmacy(tx, t, patientId),
    );
    expect(pharmacy).toBe('0599999');
  });

  it('no PHI (not even RXCUIs) is stored in clear, and the tables are registered for key rotation', async () => {
    const names = ENCRYPTED_TABLES.map((s) => s.table);
    for (const table of ['patient_allergies', 'patient_medications', 'patient_pharmacies']) {
      expect(names).toContain(table);
    }
    const c = await ownerClient();
    try {
      // The owner is subject to row-level security too (FORCE) unless it is a superuser.
      await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [t]);
      for (const table of ['patient_allergies', 'patient_medications', 'patient_pharmacies']) {
        const { rows } = await c.query(`SELECT * FROM ${table} WHERE tenant_id = $1`, [t]);
        expect(rows.length, table).toBeGreaterThan(0);
        const dump = JSON.stringify(rows, (_k, v: unknown) =>
          v !== null && typeof v === 'object' && (v as { type?: string }).type === 'Buffer'
            ? Buffer.from((v as { data: number[] }).data).toString('latin1')
            : v,
        );
        for (const clear of [
          '7980',
          'Penicillin',
          'Shellfish',
          '29046',
          'lisinopril',
          '0599999',
          '2026-01-01',
        ]) {
          expect(dump, `${table} ${clear}`).not.toContain(clear);
        }
      }
    } finally {
      await c.end();
    }
  });

  it('data-key rotation re-encrypts the clinical rows, which still open afterwards', async () => {
    await p.reencryptor.start(t);
    const job = await p.reencryptor.run(t);
    expect(job.status).toBe('done');
    const c = await ownerClient();
    try {
      // The owner is subject to row-level security too (FORCE) unless it is a superuser.
      await c.query("SELECT set_config('scrip.tenant_id', $1, false)", [t]);
      const { rows } = await c.query<{ v: number }>(
        `SELECT DISTINCT dek_version AS v FROM patient_medications WHERE tenant_id = $1`,
        [t],
      );
      expect(rows.map((r) => r.v)).toEqual([job.toVersion]);
    } finally {
      await c.end();
    }
    const profile = await p.db.withTenant(t, (tx) =>
      p.patientServices.clinical.safetyProfile(tx, t, patientId),
    );
    expect(profile.activeIngredientRxcuis).toEqual(['17767', '29046', '5487']);
  });

  it('another tenant sees none of it', async () => {
    const other = await freshTenant(p.db);
    const profile = await p.db.withTenant(other, (tx) =>
      p.patientServices.clinical.safetyProfile(tx, other, patientId),
    );
    expect(profile).toEqual({ allergies: [], activeMedications: [], activeIngredientRxcuis: [] });
  });
});
