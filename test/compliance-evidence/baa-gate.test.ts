import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, type TenantId } from '../../src/core/index.js';
import { complianceEvidenceRoutes } from '../../src/http/routes/compliance-evidence.routes.js';
import type { Authenticator } from '../../src/http/auth.js';
import { listAlerts } from '../../src/monitoring/index.js';
import { SSO_CALLBACK_PATH } from '../../src/identity/index.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { ACTOR, complianceOf, vendorWithIntegration } from './helpers.js';
import type { Compliance } from '../../src/compliance/index.js';

const DAY = 86_400_000;

/** A principal with the compliance permissions, in the tenant named by a test header. */
const testAuth: Authenticator = {
  authenticate: async (request) => {
    const tenant = request.headers['x-test-tenant'];
    if (typeof tenant !== 'string') return undefined;
    return {
      userId: ACTOR.kind === 'user' ? ACTOR.userId : '',
      tenantId: tenant as TenantId,
      sessionId: randomUUID(),
      permissions: new Set(['compliance.read', 'compliance.manage']),
      roles: ['compliance_officer'],
    };
  },
};

async function auditOf(p: TestPlatform, tenant: TenantId) {
  return p.db.withTenant(
    tenant,
    async (tx) =>
      (
        await tx.query<{
          action: string;
          outcome: string;
          actor_kind: string;
          details: Record<string, unknown>;
        }>('SELECT action, outcome, actor_kind, details FROM audit_log ORDER BY seq')
      ).rows,
  );
}

describe('the BAA gate on integrations', () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 9, 0, 0));
  let p: TestPlatform;
  let c: Compliance;
  let app: FastifyInstance;

  beforeAll(async () => {
    p = await testPlatform(clock, { isolated: true });
    c = complianceOf(p);
    ({ app } = await buildTestApp(p.db, {
      routes: complianceEvidenceRoutes(c),
      authenticator: testAuth,
    }));
  });
  afterAll(async () => {
    await app.close();
    await p.close();
  });

  it('refuses to enable a PHI integration without an active BAA, with a clear problem, and changes nothing', async () => {
    const tenant = await freshTenant(p.db);
    const { integrationId, vendorId } = await vendorWithIntegration(c, tenant);
    const before = await c.integrations.history(tenant, integrationId);
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/compliance/integrations/${integrationId}/enable`,
      headers: { 'x-test-tenant': tenant },
      payload: {},
    });
    expect(res.statusCode, res.body).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const problem = res.json<{ code: string; detail: string }>();
    expect(problem.code).toBe('conflict');
    expect(problem.detail).toMatch(/^no_active_baa: /);
    expect(problem.detail).toContain('Acme Rx Network');
    expect(problem.detail).toContain('164.308(b)(1)');
    // Nothing changed: same single version, still disabled, and the gate refuses traffic.
    expect(await c.integrations.history(tenant, integrationId)).toEqual(before);
    expect((await c.integrations.get(tenant, integrationId)).status).toBe('disabled');
    await expect(
      p.db.withTenant(tenant, (tx) =>
        c.gate.requireEnabled(tx, tenant, 'pharmacy_network', `acme-${vendorId}`),
      ),
    ).rejects.toMatchObject({
      code: 'conflict',
      detail: expect.stringMatching(/^integration_disabled/) as unknown,
    });
    // The refused attempt is on the record.
    const audit = await auditOf(p, tenant);
    expect(audit.filter((a) => a.action === 'compliance.integration.enable')).toEqual([
      expect.objectContaining({ outcome: 'denied', details: { refusal: 'no_active_baa' } }),
    ]);
  });

  it('refuses while the BAA is unsigned or not yet effective, then enables once it is in force', async () => {
    const tenant = await freshTenant(p.db);
    const { integrationId, vendorId } = await vendorWithIntegration(c, tenant);
    const unsigned = await c.baas.create(
      tenant,
      {
        vendorId,
        parties: ['First Clinic', 'Acme Rx Network'],
        effectiveDate: '2026-01-01',
        expiryDate: '2027-12-31',
        permittedUses: 'Prescription routing',
        breachNoticeDays: 5,
        subcontractorFlowDown: true,
        auditRights: true,
        returnDestruction: 'Destroy on termination',
      },
      ACTOR,
    );
    await expect(c.integrations.enable(tenant, integrationId, ACTOR)).rejects.toMatchObject({
      detail: expect.stringContaining('has no signed document attached') as unknown,
    });
    await c.baas.attachDocument(
      tenant,
      unsigned.id,
      { bytes: Buffer.from('%PDF signed'), mediaType: 'application/pdf' },
      ACTOR,
    );
    const enabled = await c.integrations.enable(tenant, integrationId, ACTOR);
    expect(enabled).toMatchObject({ status: 'enabled', version: 2 });
    const passed = await p.db.withTenant(tenant, (tx) =>
      c.gate.requireEnabled(tx, tenant, 'pharmacy_network', `acme-${vendorId}`),
    );
    expect(passed.id).toBe(integrationId);
    // Terminating the BAA takes the coverage away at once.
    await c.baas.terminate(tenant, unsigned.id, ACTOR, 'contract ended');
    await expect(
      p.db.withTenant(tenant, (tx) =>
        c.gate.requireEnabled(tx, tenant, 'pharmacy_network', `acme-${vendorId}`),
      ),
    ).rejects.toMatchObject({ detail: expect.stringContaining('was terminated') as unknown });
  });

  it('an expired BAA alerts and, by policy, suspends the integration (audited); without the policy it only alerts', async () => {
    const tenant = await freshTenant(p.db);
    const { integrationId, vendorId, baaId } = await vendorWithIntegration(c, tenant, {
      effective: '2025-03-01',
      expiry: '2026-03-10',
    });
    await c.integrations.enable(tenant, integrationId, ACTOR);
    clock.advance(12 * DAY); // 2026-03-13: expired three days ago
    try {
      const r = await c.runBaaChecks(tenant);
      expect(r.suspended.map((i) => [i.id, i.status])).toEqual([[integrationId, 'suspended']]);
      expect(r.alerts).toEqual([
        expect.objectContaining({ rule: 'baa_expiry', severity: 'high', subject: baaId }),
      ]);
      const integration = await c.integrations.get(tenant, integrationId);
      expect(integration.status).toBe('suspended');
      expect(integration.statusReason).toMatch(/^baa_expired/);
      const audit = await auditOf(p, tenant);
      expect(audit.filter((a) => a.action === 'compliance.integration.suspend')).toEqual([
        expect.objectContaining({ outcome: 'success', actor_kind: 'system' }),
      ]);
      expect(audit.some((a) => a.action === 'compliance.baa.expired')).toBe(true);
      await expect(
        p.db.withTenant(tenant, (tx) =>
          c.gate.requireEnabled(tx, tenant, 'pharmacy_network', `acme-${vendorId}`),
        ),
      ).rejects.toMatchObject({
        detail: expect.stringMatching(/^integration_suspended/) as unknown,
      });
      // A second run changes nothing more.
      const again = await c.runBaaChecks(tenant);
      expect(again.alerts).toEqual([]);
      expect(again.suspended).toEqual([]);

      // Same situation with suspendOnExpiry off: the alert, but the integration keeps running.
      const other = await freshTenant(p.db);
      clock.advance(-12 * DAY);
      const o = await vendorWithIntegration(c, other, {
        effective: '2025-03-01',
        expiry: '2026-03-10',
      });
      await c.integrations.enable(other, o.integrationId, ACTOR);
      await c.setBaaPolicy(other, { warnDays: [30], suspendOnExpiry: false }, ACTOR);
      clock.advance(12 * DAY);
      const r2 = await c.runBaaChecks(other);
      expect(r2.suspended).toEqual([]);
      expect(r2.alerts).toHaveLength(1);
      expect((await c.integrations.get(other, o.integrationId)).status).toBe('enabled');
    } finally {
      clock.advance(-12 * DAY);
    }
  });

  it('an expiring-soon BAA alerts once per lead time, deduplicated', async () => {
    const tenant = await freshTenant(p.db);
    const { integrationId, baaId } = await vendorWithIntegration(c, tenant, {
      effective: '2025-06-01',
      expiry: '2026-03-21', // 20 days ahead of the clock
    });
    await c.integrations.enable(tenant, integrationId, ACTOR);
    const first = await c.runBaaChecks(tenant);
    expect(first.alerts).toEqual([
      expect.objectContaining({ rule: 'baa_expiry', severity: 'medium', subject: baaId }),
    ]);
    expect(first.alerts[0]?.details).toMatchObject({ stage: 'expiring_30', daysLeft: 20 });
    expect(first.suspended).toEqual([]);
    const second = await c.runBaaChecks(tenant);
    expect(second.alerts).toEqual([]);
    const stored = (await listAlerts(p.db, tenant)).filter((a) => a.rule === 'baa_expiry');
    expect(stored).toHaveLength(1);
    expect(stored[0]?.count).toBe(1);
    // Inside the 7-day lead time: one more alert, then quiet again.
    clock.advance(15 * DAY);
    try {
      expect((await c.runBaaChecks(tenant)).alerts.map((a) => a.details.stage)).toEqual([
        'expiring_7',
      ]);
      expect((await c.runBaaChecks(tenant)).alerts).toEqual([]);
      // Renewing the agreement moves the expiry: nothing more to say.
      await c.baas.update(
        tenant,
        baaId ?? '',
        {
          parties: ['First Clinic', 'Acme Rx Network'],
          effectiveDate: '2025-06-01',
          expiryDate: '2027-03-21',
          permittedUses: 'Routing prescriptions to pharmacies on behalf of the covered entity',
          breachNoticeDays: 10,
          subcontractorFlowDown: true,
          auditRights: true,
          returnDestruction: 'Return or destroy all PHI within 30 days of termination',
        },
        ACTOR,
        'renewed for a year',
      );
      expect((await c.runBaaChecks(tenant)).alerts).toEqual([]);
      expect((await c.integrations.get(tenant, integrationId)).status).toBe('enabled');
    } finally {
      clock.advance(-15 * DAY);
    }
  });

  it('gates enabling SSO when the IdP is registered as receiving PHI without a BAA', async () => {
    const tenant = await freshTenant(p.db);
    const vendor = await c.vendors.create(
      tenant,
      { name: 'IdCo', services: 'Identity', contact: '', riskRating: 'medium', phiAccess: true },
      ACTOR,
    );
    const issuer = 'https://idp.example.test';
    await c.integrations.create(
      tenant,
      { kind: 'identity_provider', name: 'IdCo', ref: issuer, vendorId: vendor.id, sendsPhi: true },
      ACTOR,
    );
    const input = {
      issuer,
      clientId: 'scrip',
      clientSecret: 'a-client-secret',
      redirectUri: `https://scrip.test${SSO_CALLBACK_PATH}`,
      allowAutoCreate: false,
      defaultRole: 'staff',
      trustIdpMfa: false,
      trustedAmr: [],
      trustedAcr: [],
      enabled: true,
    };
    const caller = { userId: randomUUID(), tenantId: tenant, sessionId: randomUUID() };
    // p.identity is composed by platform.ts, which wires the compliance gate into SSO.
    await expect(p.identity.ssoConfig.put(caller, input, {})).rejects.toMatchObject({
      code: 'conflict',
      detail: expect.stringMatching(/^no_active_baa: .*IdCo/) as unknown,
    });
    expect(await p.identity.ssoConfig.get(tenant)).toBeUndefined();
    // Saved disabled it is allowed; an IdP nobody registered is not gated (no PHI goes to it).
    await expect(
      p.identity.ssoConfig.put(caller, { ...input, enabled: false }, {}),
    ).resolves.toMatchObject({
      enabled: false,
    });
    const plain = await freshTenant(p.db);
    await expect(
      p.identity.ssoConfig.put(
        { ...caller, tenantId: plain },
        { ...input, issuer: 'https://other.example.test' },
        {},
      ),
    ).resolves.toMatchObject({ enabled: true });
  });
});
