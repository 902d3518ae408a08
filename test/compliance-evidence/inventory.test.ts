import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { buildFlowMap, toDot, toSvg, type Compliance } from '../../src/compliance/index.js';
import { sealRow } from '../../src/crypto/row-cipher.js';
import { testConfig } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { ACTOR, complianceOf, RecordingChanges } from './helpers.js';

describe('the system inventory', () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  let p: TestPlatform;
  let changes: RecordingChanges;
  let c: Compliance;

  beforeAll(async () => {
    p = await testPlatform(clock, { isolated: true });
    changes = new RecordingChanges();
    c = complianceOf(p, { changes });
  });
  afterAll(async () => {
    await p.close();
  });

  const calls = (tenant: TenantId) =>
    changes.calls
      .filter((x) => x.tenantId === tenant)
      .map((x) => [x.ref.type, x.ref.name, x.cause]);

  it('fills in Scrip’s own components from its configuration and keeps them current', async () => {
    const tenant = await freshTenant(p.db);
    const first = await c.syncPlatformInventory(tenant, ACTOR);
    expect(first.created).toEqual(
      expect.arrayContaining([
        'scrip.server',
        'scrip.database',
        'scrip.key_provider',
        'scrip.clients',
      ]),
    );
    expect(first.changed).toEqual([]);
    const assets = await c.inventory.listAssets(tenant);
    expect(assets.find((a) => a.platformKey === 'scrip.database')).toMatchObject({
      kind: 'database',
      name: 'PostgreSQL (embedded)',
      phiClassification: 'ephi',
      source: 'platform',
    });
    expect(assets.find((a) => a.platformKey === 'scrip.key_provider')?.attributes).toMatchObject({
      kind: 'local',
    });

    // Idempotent: a second run writes nothing.
    const second = await c.syncPlatformInventory(tenant, ACTOR);
    expect(second).toEqual({ created: [], changed: [], retired: [] });

    // A person's edit (owner) survives later syncs.
    const db = assets.find((a) => a.platformKey === 'scrip.database');
    await c.inventory.updateAsset(
      tenant,
      db?.id ?? '',
      { ...(db ?? assets[0]!), owner: 'Dana, DBA team', attributes: db?.attributes },
      ACTOR,
      'named the owner',
    );

    // The configuration grows: an external database, an HSM, an alert webhook, an audit export,
    // and an identity provider configured in the tenant's SSO table.
    const richer = complianceOf(
      p,
      { changes },
      testConfig({
        DATABASE_URL: 'postgres://scrip@db.internal.example:5432/scrip',
        SCRIP_KEY_PROVIDER: 'pkcs11',
        SCRIP_PKCS11_MODULE: '/usr/lib/softhsm/libsofthsm2.so',
        SCRIP_PKCS11_TOKEN_LABEL: 'scrip',
        SCRIP_PKCS11_PIN: '1234',
        SCRIP_ALERT_WEBHOOK_URL: 'https://alerts.example.test/hooks/scrip',
        SCRIP_ALERT_WEBHOOK_SECRET: 'x'.repeat(40),
        SCRIP_AUDIT_EXPORT_DIR: '/var/lib/scrip/audit-export',
      }),
    );
    await p.db.withTenant(tenant, async (tx) => {
      const { version, sealed } = await sealRow(
        tx,
        p.keyring,
        tenant,
        { table: 'sso_providers', columns: ['client_secret'] },
        '5b2d3f5e-1b1c-4c9a-8f0e-0d5e7c1a2b3c',
        {
          client_secret: 'shh',
        },
      );
      await tx.query(
        `INSERT INTO sso_providers (id, tenant_id, issuer, client_id, dek_version, client_secret, redirect_uri, created_at, updated_at)
         VALUES ('5b2d3f5e-1b1c-4c9a-8f0e-0d5e7c1a2b3c', $1, 'https://login.example.test', 'scrip', $2, $3, 'https://scrip.test/api/v1/auth/sso/callback', now(), now())`,
        [tenant, version, sealed.client_secret],
      );
    });
    const third = await richer.syncPlatformInventory(tenant, ACTOR);
    expect(third.changed).toEqual(expect.arrayContaining(['scrip.database', 'scrip.key_provider']));
    expect(third.created).toEqual(
      expect.arrayContaining([
        'idp:https://login.example.test',
        'scrip.alert_webhook',
        'scrip.audit_export',
        'integration:idp:https://login.example.test',
        'integration:scrip.alert_webhook',
      ]),
    );
    const after = await richer.inventory.listAssets(tenant);
    expect(after.find((a) => a.platformKey === 'scrip.database')).toMatchObject({
      name: 'PostgreSQL (db.internal.example:5432)',
      owner: 'Dana, DBA team',
      version: 3,
    });
    const integrations = await richer.integrations.list(tenant);
    expect(integrations.find((i) => i.kind === 'identity_provider')).toMatchObject({
      ref: 'https://login.example.test',
      sendsPhi: false,
      status: 'enabled',
    });
    expect((await richer.syncPlatformInventory(tenant, ACTOR)).created).toEqual([]);

    // Back to the plain configuration: what is gone is retired (superseded), never deleted.
    const back = await c.syncPlatformInventory(tenant, ACTOR);
    expect(back.retired).toEqual(
      expect.arrayContaining([
        'scrip.alert_webhook',
        'scrip.audit_export',
        'flow.scrip.alert_webhook',
      ]),
    );
    const webhook = (await c.inventory.listAssets(tenant, true)).find(
      (a) => a.platformKey === 'scrip.alert_webhook',
    );
    expect(webhook?.status).toBe('retired');
    const history = await c.inventory.assetHistory(tenant, webhook?.id ?? '');
    expect(history.map((h) => [h.version, h.status, h.supersededAt === null])).toEqual([
      [1, 'active', false],
      [2, 'retired', true],
    ]);
    expect(
      (await c.integrations.list(tenant, true)).find((i) => i.kind === 'alert_webhook')?.status,
    ).toBe('retired');
  });

  it('calls the reassessment port in the transaction of every inventory change', async () => {
    const tenant = await freshTenant(p.db);
    const gateway = await c.inventory.createAsset(
      tenant,
      {
        kind: 'integration',
        name: 'New pharmacy gateway',
        description: 'Second switch',
        owner: 'Ops',
        phiClassification: 'ephi',
      },
      ACTOR,
    );
    const emr = await c.inventory.createAsset(
      tenant,
      {
        kind: 'service',
        name: 'Clinic EMR',
        description: '',
        owner: 'IT',
        phiClassification: 'ephi',
      },
      ACTOR,
    );
    const flow = await c.inventory.createFlow(
      tenant,
      {
        name: 'Prescriptions to the gateway',
        sourceAssetId: emr.id,
        destinationAssetId: gateway.id,
        phiCategories: ['prescriptions'],
        transport: 'NCPDP SCRIPT',
        encryption: 'mutual TLS',
        description: '',
      },
      ACTOR,
    );
    await c.inventory.updateAsset(tenant, gateway.id, { ...gateway, owner: 'Network team' }, ACTOR);
    await c.integrations.create(
      tenant,
      {
        kind: 'siem',
        name: 'SIEM',
        ref: 'siem-1',
        vendorId: null,
        assetId: gateway.id,
        sendsPhi: false,
      },
      ACTOR,
    );
    await c.inventory.retireFlow(tenant, flow.id, ACTOR, 'gateway replaced');
    expect(calls(tenant)).toEqual([
      ['asset', 'New pharmacy gateway', 'created'],
      ['asset', 'Clinic EMR', 'created'],
      ['data_flow', 'Prescriptions to the gateway', 'created'],
      ['asset', 'New pharmacy gateway', 'changed'],
      ['integration', 'SIEM', 'created'],
      ['data_flow', 'Prescriptions to the gateway', 'retired'],
    ]);
    expect(changes.calls.filter((x) => x.tenantId === tenant).every((x) => x.inTx)).toBe(true);
    const flowCall = changes.calls.find((x) => x.tenantId === tenant && x.ref.type === 'data_flow');
    expect(flowCall?.ref.assetIds).toEqual([emr.id, gateway.id]);
    // A refused change calls nothing.
    const before = changes.calls.length;
    await expect(
      c.inventory.createFlow(
        tenant,
        { ...flow, sourceAssetId: gateway.id, destinationAssetId: gateway.id, description: '' },
        ACTOR,
      ),
    ).rejects.toMatchObject({ code: 'validation_failed' });
    expect(changes.calls.length).toBe(before);
  });

  it('keeps every version: the database refuses deletes and in-place edits, and each change is audited', async () => {
    const tenant = await freshTenant(p.db);
    const vendor = await c.vendors.create(
      tenant,
      { name: 'Hosting Co', services: 'IaaS', contact: '', riskRating: 'medium', phiAccess: true },
      ACTOR,
    );
    await c.vendors.update(
      tenant,
      vendor.id,
      { ...vendor, riskRating: 'high' },
      ACTOR,
      'SOC 2 exceptions',
    );
    for (const sql of [
      'DELETE FROM compliance_vendors',
      `UPDATE compliance_vendors SET name = 'Renamed'`,
      'UPDATE compliance_vendors SET superseded_at = NULL',
      'TRUNCATE compliance_vendors',
    ]) {
      await expect(
        p.db.withTenant(tenant, (tx) => tx.query(sql)),
        sql,
      ).rejects.toMatchObject({
        code: expect.stringMatching(/^(42501)$/) as unknown,
      });
    }
    const history = await c.vendors.history(tenant, vendor.id);
    expect(history.map((v) => [v.version, v.riskRating, v.changeReason])).toEqual([
      [1, 'medium', null],
      [2, 'high', 'SOC 2 exceptions'],
    ]);
    const audit = await p.db.withTenant(
      tenant,
      async (tx) =>
        (
          await tx.query<{ action: string; reason: string | null }>(
            'SELECT action, reason FROM audit_log ORDER BY seq',
          )
        ).rows,
    );
    expect(audit).toEqual([
      { action: 'compliance.vendor.create', reason: null },
      { action: 'compliance.vendor.update', reason: 'SOC 2 exceptions' },
    ]);
  });

  it('draws the data-flow map as JSON, DOT and SVG with every label escaped', async () => {
    const tenant = await freshTenant(p.db);
    await c.syncPlatformInventory(tenant, ACTOR);
    const evil = await c.inventory.createAsset(
      tenant,
      {
        kind: 'device',
        name: '<script>alert("x")</script> & "quoted" \\ ]; a -> b',
        description: '',
        owner: `O'Brien <ops>`,
        phiClassification: 'ephi',
      },
      ACTOR,
    );
    const server = (await c.inventory.listAssets(tenant)).find(
      (a) => a.platformKey === 'scrip.server',
    );
    await c.inventory.createFlow(
      tenant,
      {
        name: 'Uploads </text><script>',
        sourceAssetId: evil.id,
        destinationAssetId: server?.id ?? '',
        phiCategories: ['demographics'],
        transport: 'HTTPS',
        encryption: 'TLS 1.3',
        description: '',
      },
      ACTOR,
    );
    const map = buildFlowMap(
      await c.inventory.listAssets(tenant),
      await c.inventory.listFlows(tenant),
      await c.vendors.list(tenant),
    );
    expect(map.nodes.length).toBeGreaterThanOrEqual(5);
    expect(map.edges.some((e) => e.from === evil.id)).toBe(true);
    const svg = toSvg(map);
    expect(svg).not.toContain('<script');
    expect(svg).not.toContain('</text><script>');
    expect(svg).toContain('&lt;script&gt;');
    expect(svg).toContain('O&#39;Brien &lt;ops&gt;');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    const dot = toDot(map);
    expect(dot).toContain('\\"quoted\\" \\\\ ]; a -> b');
    // Every quoted DOT string closes where it should: the attribute lists stay intact.
    for (const line of dot.split('\n').filter((l) => l.includes('[label='))) {
      const unescapedQuotes = line.replace(/\\\\/g, '').replace(/\\"/g, '').match(/"/g) ?? [];
      expect(unescapedQuotes.length % 2, line).toBe(0);
      expect(line.trimEnd().endsWith('];')).toBe(true);
    }
  });
});
