import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { demoTotp, seedDemo, type DemoSeedResult } from '../../src/cli/demo-seed.js';
import { epcsSigningEligibility, ROLES } from '../../src/identity/index.js';
import { testConfig } from '../app.js';
import { ownerClient } from '../db.js';
import { get, harness, type Harness, cookiesOf, post } from './harness.js';

describe('scrip demo seed', () => {
  let h: Harness;
  const dir = mkdtempSync(join(tmpdir(), 'scrip-demo-'));

  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.close();
  });

  const deps = (env: 'test' | 'production' = 'test') => ({
    config: testConfig({ SCRIP_ENV: env }),
    db: h.p.db,
    clock: h.clock,
    identity: h.p.identity,
    patientServices: h.p.patientServices,
    changes: h.p.changes,
    prescriptions: h.p.prescriptions,
  });

  it('is refused when SCRIP_ENV is production, and writes nothing', async () => {
    const out = join(dir, 'prod.json');
    // The owner reads every tenant (the app role sees none without a tenant set).
    const owner = await ownerClient();
    try {
      const tenants = async (): Promise<number> =>
        Number((await owner.query<{ n: string }>('SELECT count(*) AS n FROM tenants')).rows[0]?.n);
      const before = await tenants();
      await expect(seedDemo(deps('production'), out)).rejects.toMatchObject({ code: 'forbidden' });
      expect(existsSync(out)).toBe(false);
      expect(await tenants()).toBe(before);
    } finally {
      await owner.end();
    }
  });

  it('creates the demo tenants and users; the prescriber signs in and may sign EPCS', async () => {
    const out = join(dir, 'demo.json');
    await seedDemo(deps(), out);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const seeded = JSON.parse(readFileSync(out, 'utf8')) as DemoSeedResult;
    expect(seeded.tenants.map((t) => t.kind)).toEqual(['clinic', 'pharmacy']);
    const clinic = seeded.tenants[0]?.id ?? '';
    const clinicRoles = seeded.users.filter((u) => u.tenantId === clinic).map((u) => u.role);
    for (const role of ROLES) expect(clinicRoles, role).toContain(role);
    const pharmacyRoles = seeded.users.filter((u) => u.tenantId !== clinic).map((u) => u.role);
    expect(pharmacyRoles.sort()).toEqual(['pharmacist', 'pharmacy_technician', 'tenant_admin']);

    const rx = seeded.users.find((u) => u.userId === seeded.prescriber.userId);
    expect(rx).toBeDefined();
    h.clock.advance(60_000);
    const res = await post(h.app, '/api/v1/auth/login', undefined, {
      email: rx?.email,
      password: rx?.password,
      totp: demoTotp(rx?.totpSecret ?? '', h.clock.now().getTime()),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'signed_in', tenantId: clinic });
    const me = await get(h.app, '/api/v1/auth/session', cookiesOf(res));
    expect(me.json()).toMatchObject({ roles: ['prescriber'], mfaEnrolled: true });

    const tenant = asTenantId(clinic);
    const eligible = await h.p.db.withTenant(tenant, (tx) =>
      epcsSigningEligibility(tx, tenant, seeded.prescriber.userId, {
        deaNumber: seeded.prescriber.deaNumber,
        schedule: '2',
        state: seeded.prescriber.state,
        now: h.clock.now(),
      }),
    );
    expect(eligible).toMatchObject({ allowed: true });
    const audit = await h.p.db.withTenant(tenant, async (tx) =>
      (
        await tx.query<{ action: string; actor_user: string }>(
          `SELECT action FROM audit_log WHERE action LIKE 'epcs.permission.%' ORDER BY seq`,
        )
      ).rows.map((r) => r.action),
    );
    expect(audit).toEqual(['epcs.permission.requested', 'epcs.permission.granted']);

    // Demo patients, with the demo prescriber on each care team, allergies and medications.
    expect(seeded.patientIds).toHaveLength(3);
    const team = await h.p.db.withTenant(tenant, async (tx) =>
      (
        await tx.query<{ patient_id: string }>(
          'SELECT patient_id FROM care_team WHERE user_id = $1 AND ended_at IS NULL',
          [seeded.prescriber.userId],
        )
      ).rows.map((r) => r.patient_id),
    );
    expect(team.sort()).toEqual([...seeded.patientIds].sort());
    const profile = await h.p.db.withTenant(tenant, (tx) =>
      h.p.patientServices.clinical.safetyProfile(tx, tenant, seeded.patientIds[0] ?? ''),
    );
    expect(profile.allergies).toEqual([{ rxcui: '7980', substance: 'Penicillin G' }]);
    expect(profile.activeIngredientRxcuis).toEqual(['29046']);

    // The demo catalog and formulary, through change control: proposed by one clinic
    // pharmacist, approved by another, applied.
    const pharmacists = seeded.users
      .filter((u) => u.tenantId === clinic && u.role === 'pharmacist')
      .map((u) => u.userId);
    expect(pharmacists).toHaveLength(2);
    expect(seeded.catalog.drugs).toBe(7);
    const proposals = await h.p.db.withTenant(
      tenant,
      async (tx) =>
        (
          await tx.query<{ kind: string; status: string; proposed_by: string; decided_by: string }>(
            'SELECT kind, status, proposed_by, decided_by FROM change_proposals ORDER BY proposed_at, kind',
          )
        ).rows,
    );
    expect(proposals.map((p) => [p.kind, p.status]).sort()).toEqual([
      ['catalog', 'applied'],
      ['catalog', 'applied'],
      ['formulary', 'applied'],
    ]);
    for (const p of proposals) {
      expect(pharmacists).toContain(p.proposed_by);
      expect(pharmacists).toContain(p.decided_by);
      expect(p.decided_by).not.toBe(p.proposed_by);
    }
    const catalog = await h.p.db.withTenant(tenant, async (tx) => ({
      drugs: (
        await tx.query<{ rxcui: string; dea_schedule: string | null }>(
          `SELECT rxcui, dea_schedule FROM drugs WHERE status = 'active' ORDER BY rxcui`,
        )
      ).rows,
      formulary: (
        await tx.query<{ rxcui: string; status: string }>(
          'SELECT rxcui, status FROM formulary_entries ORDER BY rxcui',
        )
      ).rows,
    }));
    expect(catalog.drugs).toHaveLength(7);
    expect(catalog.drugs).toContainEqual({ rxcui: '1049621', dea_schedule: 'CII' });
    expect(catalog.formulary).toEqual([
      { rxcui: '1049621', status: 'non_preferred' },
      { rxcui: '314076', status: 'preferred' },
    ]);

    // Prescriptions in different states, made through the ordinary services.
    const agent = seeded.users.find((u) => u.tenantId === clinic && u.role === 'prescriber_agent');
    expect(seeded.prescriptions.map((p) => p.status)).toEqual([
      'draft',
      'ready',
      'queued',
      'cancelled',
    ]);
    const stored = await h.p.db.withTenant(
      tenant,
      async (tx) =>
        (
          await tx.query<{
            id: string;
            status: string;
            drafted_by: string;
            prescriber_id: string;
            jws: string | null;
          }>('SELECT id, status, drafted_by, prescriber_id, jws FROM prescriptions')
        ).rows,
    );
    const byId = new Map(stored.map((r) => [r.id, r]));
    expect(stored).toHaveLength(seeded.prescriptions.length);
    for (const p of seeded.prescriptions) expect(byId.get(p.id)?.status).toBe(p.status);
    const [draft, ...byPrescriber] = seeded.prescriptions.map((p) => byId.get(p.id));
    expect(draft?.drafted_by).toBe(agent?.userId);
    for (const r of byPrescriber) expect(r?.drafted_by).toBe(seeded.prescriber.userId);
    for (const r of stored) expect(r.prescriber_id).toBe(seeded.prescriber.userId);
    expect(stored.filter((r) => r.jws !== null).map((r) => r.status)).toEqual(['queued']);
    for (const p of seeded.prescriptions) expect(seeded.patientIds).toContain(p.patientId);
    const rxAudit = await h.p.db.withTenant(tenant, async (tx) =>
      (
        await tx.query<{ action: string }>(
          `SELECT DISTINCT action FROM audit_log WHERE action LIKE 'prescription.%' OR action LIKE 'catalog.%'`,
        )
      ).rows.map((r) => r.action),
    );
    expect(rxAudit).toEqual(
      expect.arrayContaining([
        'catalog.change.propose',
        'catalog.change.approve',
        'catalog.change.apply',
        'prescription.created',
        'prescription.signed',
      ]),
    );

    await expect(seedDemo(deps(), out)).rejects.toMatchObject({ code: 'conflict' });
  }, 120_000);
});
