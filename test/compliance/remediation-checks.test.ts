/**
 * Vendor remediation items past their due date raise `compliance_overdue` (kind
 * `remediation_due`) once, through the periodic checks and the monitoring detector.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { RemediationInput } from '../../src/compliance/index.js';
import { runComplianceChecks } from '../../src/compliance/program.js';
import { listAlerts, runDetector } from '../../src/monitoring/index.js';
import { ACTOR } from '../compliance-evidence/helpers.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { DAY_MS } from './helpers.js';

function item(dueDate: string, overrides: Partial<RemediationInput> = {}): RemediationInput {
  return {
    title: 'Enable MFA on the vendor console',
    owner: 'Vendor security lead',
    dueDate,
    status: 'open',
    notes: '',
    ...overrides,
  };
}

describe('overdue vendor remediation items', () => {
  let p: TestPlatform;
  let clock: ManualClock;
  let tenant: TenantId;

  beforeAll(async () => {
    clock = new ManualClock(Date.UTC(2026, 3, 1, 10));
    p = await testPlatform(clock);
    tenant = await freshTenant(p.db, 'Remediation clinic');
  });
  afterAll(async () => {
    await p.close();
  });

  it('fires once when an open item passes its due date, not for done or accepted ones, again for a new due date', async () => {
    const vendor = await p.compliance.vendors.create(
      tenant,
      {
        name: 'Acme Rx Network',
        services: 'Pharmacy network switch',
        contact: 'security@acme.example',
        riskRating: 'high',
        phiAccess: true,
      },
      ACTOR,
    );
    const late = await p.compliance.vendors.addRemediation(
      tenant,
      vendor.id,
      item('2026-04-05'),
      ACTOR,
    );
    await p.compliance.vendors.addRemediation(
      tenant,
      vendor.id,
      item('2026-04-03', { status: 'done' }),
      ACTOR,
    );
    await p.compliance.vendors.addRemediation(
      tenant,
      vendor.id,
      item('2026-04-03', { status: 'risk_accepted' }),
      ACTOR,
    );
    const name = `compliance-remediation-${tenant.slice(0, 8)}`;
    const scope = (id: string | null) => id === tenant;
    await runDetector(p.db, clock, { name, scope, startAt: 'head' });

    clock.advance(4 * DAY_MS); // 2026-04-05: due today, not late yet
    expect(await runComplianceChecks(p.db, tenant, clock)).toEqual([]);
    clock.advance(DAY_MS); // 2026-04-06: one day late
    const raised = await runComplianceChecks(p.db, tenant, clock);
    expect(raised).toEqual([
      expect.objectContaining({
        kind: 'remediation_due',
        subject: { type: 'remediation_item', id: late.id },
        details: { vendorId: vendor.id, dueDate: '2026-04-05', daysOverdue: 1, status: 'open' },
      }),
    ]);
    expect(await runComplianceChecks(p.db, tenant, clock)).toEqual([]); // once

    await runDetector(p.db, clock, { name, scope });
    const alerts = (await listAlerts(p.db, tenant)).filter((a) => a.rule === 'compliance_overdue');
    expect(alerts.map((a) => a.details.kind)).toEqual(['remediation_due']);

    // Moved to a new due date that passes too: a new commitment missed, a new alert.
    await p.compliance.vendors.updateRemediation(
      tenant,
      late.id,
      item('2026-04-08', { status: 'in_progress' }),
      ACTOR,
      'vendor asked for more time',
    );
    clock.advance(DAY_MS);
    expect(await runComplianceChecks(p.db, tenant, clock)).toEqual([]);
    clock.advance(2 * DAY_MS); // 2026-04-09
    expect((await runComplianceChecks(p.db, tenant, clock)).map((r) => r.details)).toEqual([
      { vendorId: vendor.id, dueDate: '2026-04-08', daysOverdue: 1, status: 'in_progress' },
    ]);
  });
});
