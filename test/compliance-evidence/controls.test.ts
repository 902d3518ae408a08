import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId, type TenantId } from '../../src/core/index.js';
import {
  CHECKS,
  CONTROL_IDS,
  REQUIREMENTS,
  verifyAndRecordAuditLog,
  type ControlReport,
} from '../../src/compliance/index.js';
import { complianceEvidenceRoutes } from '../../src/http/routes/compliance-evidence.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import {
  bootstrapAdmin,
  cookiesOf,
  enrol,
  get,
  harness,
  inviteAndEnrol,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { ACTOR, vendorWithIntegration } from './helpers.js';

/** Every standard and implementation specification of 45 CFR 164.312. */
const SECTION_312 = [
  '164.312(a)(1)',
  '164.312(a)(2)(i)',
  '164.312(a)(2)(ii)',
  '164.312(a)(2)(iii)',
  '164.312(a)(2)(iv)',
  '164.312(b)',
  '164.312(c)(1)',
  '164.312(c)(2)',
  '164.312(d)',
  '164.312(e)(1)',
  '164.312(e)(2)(i)',
  '164.312(e)(2)(ii)',
];

describe('the control catalog', () => {
  it('maps every 164.312 standard and implementation specification to controls with live checks', () => {
    const ids = REQUIREMENTS.filter((r) => r.id.startsWith('164.312')).map((r) => r.id);
    expect(ids).toEqual(SECTION_312);
    for (const id of SECTION_312) {
      const r = REQUIREMENTS.find((x) => x.id === id);
      expect(r?.controls.length, id).toBeGreaterThan(0);
      for (const c of r?.controls ?? []) expect(typeof CHECKS[c], `${id} → ${c}`).toBe('function');
    }
  });

  it('covers 164.308, 164.310, 164.316 and DEA 1311.120(b), and every control has one live check', () => {
    for (const section of ['164.308', '164.310', '164.316', '1311.120(b)']) {
      expect(
        REQUIREMENTS.some((r) => r.id.startsWith(section)),
        section,
      ).toBe(true);
    }
    expect(REQUIREMENTS.filter((r) => r.id.startsWith('164.308')).length).toBeGreaterThanOrEqual(
      31,
    );
    expect(REQUIREMENTS.filter((r) => r.id.startsWith('164.310')).length).toBe(12);
    expect(REQUIREMENTS.filter((r) => r.id.startsWith('164.316')).length).toBe(5);
    for (const r of REQUIREMENTS) {
      expect(r.controls.length, r.id).toBeGreaterThan(0);
      if (r.kind === 'implementation_specification') {
        expect(
          REQUIREMENTS.some((s) => s.id === r.standard && s.kind === 'standard'),
          r.id,
        ).toBe(true);
      }
    }
    for (const c of CONTROL_IDS) {
      expect(typeof CHECKS[c], c).toBe('function');
      expect(
        REQUIREMENTS.some((r) => r.controls.includes(c)),
        `${c} is mapped`,
      ).toBe(true);
    }
    expect(new Set(REQUIREMENTS.map((r) => r.id)).size).toBe(REQUIREMENTS.length);
  });
});

describe('the control report on a seeded tenant', () => {
  let h: Harness;
  let app: FastifyInstance;
  let tenant: TenantId;
  let officer: Browser;
  let pending: { browser: Browser; email: string };

  const run = async (): Promise<ControlReport> => {
    const res = await post(app, '/api/v1/compliance/controls/run', officer);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<ControlReport>();
  };
  const result = (r: ControlReport, id: string) => r.controls.find((c) => c.controlId === id);

  beforeAll(async () => {
    h = await harness();
    ({ app } = await buildTestApp(h.p.db, {
      routes: complianceEvidenceRoutes(h.p.compliance),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    const admin: Enrolled = await bootstrapAdmin(h);
    tenant = asTenantId(admin.tenantId);
    officer = (await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer']))
      .browser;
    // A member who accepted the invitation but has not enrolled a second factor yet.
    const inv = await post(h.app, '/api/v1/users/invitations', admin.browser, {
      email: 'late@example.test',
      roles: ['care_coordinator'],
    });
    const accept = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: inv.json<{ token: string }>().token,
      email: 'late@example.test',
      password: PASSWORD,
      displayName: 'Lee Late',
    });
    expect(accept.statusCode, accept.body).toBe(200);
    pending = { browser: cookiesOf(accept), email: 'late@example.test' };
    await h.p.compliance.syncPlatformInventory(tenant, ACTOR);
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('shows every check’s current result, failing MFA coverage and then passing it', async () => {
    const report = await run();
    expect(report.controls.map((c) => c.controlId)).toEqual([...CONTROL_IDS]);
    for (const c of report.controls) {
      expect(['pass', 'fail'], c.controlId).toContain(c.status);
      expect(c.details.length, c.controlId).toBeGreaterThan(0);
      expect(c.checkedAt).toBe(h.clock.now().toISOString());
    }
    expect(report.requirements).toHaveLength(REQUIREMENTS.length);
    for (const id of SECTION_312) {
      const r = report.requirements.find((x) => x.id === id);
      expect(['pass', 'partial', 'fail'], id).toContain(r?.status);
    }
    expect(result(report, 'mfa-coverage')).toMatchObject({ status: 'fail' });
    expect(result(report, 'mfa-coverage')?.details).toMatch(
      /^1 of 3 active members have no second factor/,
    );
    // Live results for what the tenant has and lacks.
    expect(result(report, 'security-officer')?.status).toBe('pass');
    expect(result(report, 'tenant-isolation')?.status).toBe('pass');
    expect(result(report, 'role-separation')?.status).toBe('pass');
    expect(result(report, 'tls-policy')?.status).toBe('pass');
    expect(result(report, 'records-retained')?.status).toBe('pass');
    expect(result(report, 'inventory-complete')?.status).toBe('pass');
    expect(result(report, 'access-review')).toMatchObject({
      status: 'fail',
      details: 'no completed review',
    });
    expect(result(report, 'backup-restore')?.status).toBe('fail');
    expect(result(report, 'audit-verified')).toMatchObject({
      status: 'fail',
      details: 'no verification of the audit log is recorded',
    });
    expect(result(report, 'evaluation')?.status).toBe('fail');
    expect(result(report, 'program-risk-analysis')?.details).toMatch(/^no record/);

    await enrol(h, pending.browser);
    const keys = (await h.p.provider.listSigningKeys()).map((k) => k.publicKey);
    await verifyAndRecordAuditLog(h.p.db, keys, h.clock, 'test');
    const again = await run();
    expect(result(again, 'mfa-coverage')).toMatchObject({
      status: 'pass',
      details: 'all 3 active members have a second factor',
    });
    expect(result(again, 'audit-verified')?.status).toBe('pass');
    expect(result(again, 'evaluation')?.status).toBe('pass');
    const latest = await get(app, '/api/v1/compliance/controls/report', officer);
    expect(latest.json<ControlReport>().runId).toBe(again.runId);
  });

  it('passes BAA coverage while every PHI integration has a BAA in force, and fails when one lapses', async () => {
    const c = h.p.compliance;
    const { integrationId, baaId } = await vendorWithIntegration(c, tenant, {
      effective: '2026-01-01',
      expiry: '2026-12-31',
    });
    await c.integrations.enable(tenant, integrationId, ACTOR);
    const covered = await run();
    expect(result(covered, 'baa-coverage')).toMatchObject({
      status: 'pass',
      details: expect.stringMatching(/^all 1 enabled PHI integrations covered/) as unknown,
    });
    await c.baas.terminate(tenant, baaId ?? '', ACTOR, 'vendor offboarded');
    const lapsed = await run();
    expect(result(lapsed, 'baa-coverage')).toMatchObject({
      status: 'fail',
      details: '1 of 1 enabled PHI integrations not covered: Acme switch: BAA terminated',
    });
    const req = lapsed.requirements.find((r) => r.id === '164.308(b)(3)');
    expect(req?.status).toBe('fail');
  });

  it('renders the report as HTML with every value escaped', async () => {
    const c = h.p.compliance;
    await c.inventory.createAsset(
      tenant,
      {
        kind: 'service',
        name: '<img src=x onerror=alert(1)>',
        description: '',
        owner: 'IT',
        phiClassification: 'ephi',
      },
      ACTOR,
    );
    const report = await run();
    expect(result(report, 'facility-hosting')?.details).toContain('<img src=x onerror=alert(1)>');
    const res = await get(app, '/api/v1/compliance/controls/report.html', officer);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).not.toContain('<img');
    expect(res.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(res.body).toContain('164.312(a)(2)(iv)');
  });
});
