import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { demoTotp, seedDemo, type DemoSeedResult } from '../../src/cli/demo-seed.js';
import { epcsSigningEligibility, ROLES } from '../../src/identity/index.js';
import { testConfig } from '../app.js';
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
  });

  it('is refused when SCRIP_ENV is production, and writes nothing', async () => {
    const out = join(dir, 'prod.json');
    await expect(seedDemo(deps('production'), out)).rejects.toMatchObject({ code: 'forbidden' });
    expect(existsSync(out)).toBe(false);
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

    await expect(seedDemo(deps(), out)).rejects.toMatchObject({ code: 'conflict' });
  }, 120_000);
});
