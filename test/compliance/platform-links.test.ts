/**
 * The compliance program as the platform composes it (src/platform.ts): an inventory change
 * reaches the risk register through the real inventory port, not a recording stand-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import type { AssetInput, ComplianceActor } from '../../src/compliance/index.js';
import type { ProgramActor } from '../../src/compliance/program.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { auditOf, member, risk } from './helpers.js';

const GATEWAY: AssetInput = {
  kind: 'endpoint',
  name: 'Pharmacy gateway',
  description: 'Routes NewRx to the switch',
  owner: 'IT',
  phiClassification: 'ephi',
};

describe('the composed platform: inventory changes reassess the risks on the changed asset', () => {
  let p: TestPlatform;
  let tenant: TenantId;
  let officer: ProgramActor;
  let by: ComplianceActor;

  beforeAll(async () => {
    p = await testPlatform(new ManualClock(Date.UTC(2026, 3, 1, 10)));
    tenant = await freshTenant(p.db, 'Linked clinic');
    officer = await member(p.db, tenant);
    by = { kind: 'user', userId: officer.userId };
  });
  afterAll(async () => {
    await p.close();
  });

  it('a risk on an inventory asset gets a reassessment task when that asset changes, audited as the person who changed it', async () => {
    const gateway = await p.compliance.inventory.createAsset(tenant, GATEWAY, by);
    const printer = await p.compliance.inventory.createAsset(
      tenant,
      { ...GATEWAY, kind: 'device', name: 'Label printer', phiClassification: 'limited' },
      by,
    );
    const onGateway = await p.complianceProgram.risks.create(
      officer,
      risk(officer.userId, { assetRefs: [gateway.id] }),
    );
    const onPrinter = await p.complianceProgram.risks.create(
      officer,
      risk(officer.userId, { title: 'Printer leaks labels', assetRefs: [printer.id] }),
    );
    expect(await p.complianceProgram.risks.tasks(tenant)).toEqual([]);

    await p.compliance.inventory.updateAsset(
      tenant,
      gateway.id,
      { ...GATEWAY, description: 'Moved to a new host' },
      by,
      'new host',
    );
    const tasks = await p.complianceProgram.risks.tasks(tenant);
    expect(tasks).toEqual([
      expect.objectContaining({
        riskId: onGateway.riskId,
        assetRef: gateway.id,
        cause: 'asset changed',
        status: 'open',
      }),
    ]);
    expect(tasks.some((t) => t.riskId === onPrinter.riskId)).toBe(false);
    const opened = (await auditOf(p.db, tenant)).filter(
      (a) => a.action === 'compliance.reassessment.open',
    );
    expect(opened).toEqual([
      expect.objectContaining({ actor_kind: 'user', actor_user_id: officer.userId }),
    ]);

    // A data flow touching the printer reassesses the printer's risk too.
    await p.compliance.inventory.createFlow(
      tenant,
      {
        name: 'Labels',
        sourceAssetId: gateway.id,
        destinationAssetId: printer.id,
        phiCategories: ['prescriptions'],
        transport: 'USB',
        encryption: 'none',
        description: '',
      },
      by,
    );
    expect((await p.complianceProgram.risks.tasks(tenant)).map((t) => t.riskId).sort()).toEqual(
      [onGateway.riskId, onPrinter.riskId].sort(),
    );
  });
});
