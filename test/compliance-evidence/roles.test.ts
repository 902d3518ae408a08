import { createHash, randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { complianceEvidenceRoutes } from '../../src/http/routes/compliance-evidence.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import {
  bootstrapAdmin,
  cookiesOf,
  enrol,
  get,
  harness,
  headers,
  inviteAndEnrol,
  PASSWORD,
  post,
  type Browser,
  type Harness,
} from '../identity/harness.js';

describe('who may read and change the compliance program', () => {
  let h: Harness;
  let app: FastifyInstance;
  let officer: Browser;
  let auditor: Browser;
  let support: Browser;
  let foreign: Browser;
  let vendorId: string;
  let integrationId: string;

  const put = (b: Browser, url: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url, headers: headers(b), payload });

  const vendorBody = {
    name: 'Acme Rx Network',
    services: 'Pharmacy switch',
    contact: 'security@acme.example',
    riskRating: 'high',
    phiAccess: true,
  };

  beforeAll(async () => {
    h = await harness();
    ({ app } = await buildTestApp(h.p.db, {
      routes: complianceEvidenceRoutes(h.p.compliance),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    const admin = await bootstrapAdmin(h);
    officer = (await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer']))
      .browser;
    auditor = (await inviteAndEnrol(h, admin.browser, 'aud@example.test', ['auditor'])).browser;
    support = (await inviteAndEnrol(h, admin.browser, 'sam@example.test', ['support'])).browser;
    // Another tenant's compliance officer.
    const t2 = asTenantId(randomUUID());
    await h.p.db.withTenant(t2, (tx) =>
      tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t2, 'Elsewhere']),
    );
    const link = await h.p.identity.onboarding.invite(
      t2,
      'olga@example.test',
      ['compliance_officer'],
      {
        kind: 'cli',
      },
    );
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: link.token,
      email: 'olga@example.test',
      password: PASSWORD,
      displayName: 'Olga Other',
    });
    expect(acc.statusCode, acc.body).toBe(200);
    foreign = (await enrol(h, cookiesOf(acc))).browser;

    const v = await post(app, '/api/v1/compliance/vendors', officer, vendorBody);
    expect(v.statusCode, v.body).toBe(201);
    vendorId = v.json<{ id: string }>().id;
    const i = await post(app, '/api/v1/compliance/integrations', officer, {
      kind: 'pharmacy_network',
      name: 'Acme switch',
      ref: 'acme-1',
      vendorId,
      sendsPhi: true,
    });
    expect(i.statusCode, i.body).toBe(201);
    integrationId = i.json<{ id: string }>().id;
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('a compliance officer reads and changes; the refused enable is a 409 with its reason', async () => {
    expect((await get(app, '/api/v1/compliance/vendors', officer)).statusCode).toBe(200);
    const changed = await put(officer, `/api/v1/compliance/vendors/${vendorId}`, {
      ...vendorBody,
      riskRating: 'critical',
      reason: 'breach at a subcontractor',
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      version: 2,
      riskRating: 'critical',
      changeReason: 'breach at a subcontractor',
    });
    const refused = await post(
      app,
      `/api/v1/compliance/integrations/${integrationId}/enable`,
      officer,
      {},
    );
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ detail: string }>().detail).toMatch(/^no_active_baa: /);
  });

  it('manages questionnaires, remediation and a BAA with its document over HTTP, then enables', async () => {
    const q = await post(app, `/api/v1/compliance/vendors/${vendorId}/questionnaires`, officer, {
      title: 'SIG Lite 2026',
      sentOn: '2026-02-01',
      status: 'sent',
    });
    expect(q.statusCode, q.body).toBe(201);
    const qid = q.json<{ id: string }>().id;
    const reviewed = await put(officer, `/api/v1/compliance/questionnaires/${qid}`, {
      title: 'SIG Lite 2026',
      sentOn: '2026-02-01',
      receivedOn: '2026-02-20',
      status: 'reviewed',
      score: 82,
      summary: 'MFA gaps at a subcontractor',
    });
    expect(reviewed.json()).toMatchObject({ version: 2, status: 'reviewed', score: 82 });
    const item = await post(
      app,
      `/api/v1/compliance/vendors/${vendorId}/remediation-items`,
      officer,
      {
        questionnaireId: qid,
        title: 'Enforce MFA at the subcontractor',
        owner: 'Cora (compliance)',
        dueDate: '2026-02-15',
        status: 'open',
      },
    );
    expect(item.statusCode, item.body).toBe(201);
    const run = await post(app, '/api/v1/compliance/controls/run', officer);
    const oversight = run
      .json<{ controls: { controlId: string; status: string; details: string }[] }>()
      .controls.find((x) => x.controlId === 'vendor-oversight');
    expect(oversight).toMatchObject({ status: 'fail' });
    expect(oversight?.details).toContain('Enforce MFA at the subcontractor');

    const pdf = Buffer.from('%PDF-1.7 signed BAA, Acme and First Clinic');
    const baa = await post(app, '/api/v1/compliance/baas', officer, {
      vendorId,
      parties: ['First Clinic', 'Acme Rx Network'],
      effectiveDate: '2026-01-01',
      expiryDate: '2027-01-01',
      permittedUses: 'Prescription routing',
      breachNoticeDays: 10,
      subcontractorFlowDown: true,
      auditRights: true,
      returnDestruction: 'Return or destroy within 30 days',
      document: { contentBase64: pdf.toString('base64'), mediaType: 'application/pdf' },
    });
    expect(baa.statusCode, baa.body).toBe(201);
    const baaId = baa.json<{ id: string; documentSha256: string }>().id;
    expect(baa.json<{ documentSha256: string }>().documentSha256).toBe(
      createHash('sha256').update(pdf).digest('hex'),
    );
    const doc = await get(app, `/api/v1/compliance/baas/${baaId}/document`, auditor);
    expect(doc.statusCode).toBe(200);
    expect(
      Buffer.from(doc.json<{ contentBase64: string }>().contentBase64, 'base64').equals(pdf),
    ).toBe(true);
    const badDoc = await post(app, `/api/v1/compliance/baas/${baaId}/document`, officer, {
      contentBase64: 'not base64!',
      mediaType: 'application/pdf',
    });
    expect(badDoc.statusCode).toBe(400);

    // The second integration to the same vendor is enabled through the gate, then disabled again.
    const j = await post(app, '/api/v1/compliance/integrations', officer, {
      kind: 'pharmacy_network',
      name: 'Acme switch (backup)',
      ref: 'acme-2',
      vendorId,
      sendsPhi: true,
    });
    const jid = j.json<{ id: string }>().id;
    const enabled = await post(app, `/api/v1/compliance/integrations/${jid}/enable`, officer, {});
    expect(enabled.json()).toMatchObject({ status: 'enabled', version: 2 });
    const disabled = await post(app, `/api/v1/compliance/integrations/${jid}/disable`, officer, {
      reason: 'not needed yet',
    });
    expect(disabled.json()).toMatchObject({
      status: 'disabled',
      version: 3,
      statusReason: 'not needed yet',
    });
    const history = await get(app, `/api/v1/compliance/integrations/${jid}/history`, auditor);
    expect(
      history.json<{ versions: { status: string }[] }>().versions.map((v) => v.status),
    ).toEqual(['disabled', 'enabled', 'disabled']);
  });

  it('documents every compliance route in a valid OpenAPI 3.1 document', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const doc = res.json<{ paths: Record<string, unknown> }>();
    expect(
      Object.keys(doc.paths).filter((k) => k.startsWith('/api/v1/compliance')).length,
    ).toBeGreaterThan(30);
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
  });

  it('an auditor reads everything and runs the checks, but cannot change anything', async () => {
    for (const url of [
      '/api/v1/compliance/controls',
      '/api/v1/compliance/inventory',
      '/api/v1/compliance/vendors',
      '/api/v1/compliance/baas',
      '/api/v1/compliance/integrations',
      '/api/v1/compliance/data-flow-map',
      '/api/v1/compliance/data-flow-map.svg',
      `/api/v1/compliance/vendors/${vendorId}/history`,
    ]) {
      expect((await get(app, url, auditor)).statusCode, url).toBe(200);
    }
    expect((await post(app, '/api/v1/compliance/controls/run', auditor)).statusCode).toBe(200);
    for (const [method, url, payload] of [
      ['POST', '/api/v1/compliance/vendors', vendorBody],
      ['PUT', `/api/v1/compliance/vendors/${vendorId}`, vendorBody],
      ['POST', `/api/v1/compliance/integrations/${integrationId}/enable`, {}],
      ['POST', `/api/v1/compliance/integrations/${integrationId}/suspend`, { reason: 'x' }],
      ['POST', '/api/v1/compliance/inventory/sync', undefined],
      ['POST', '/api/v1/compliance/baa-checks/run', undefined],
      ['PUT', '/api/v1/compliance/baa-policy', { warnDays: [30], suspendOnExpiry: false }],
    ] as const) {
      const res = await app.inject({
        method,
        url,
        headers: headers(auditor),
        ...(payload === undefined ? {} : { payload }),
      });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
    }
    const after = await get(app, `/api/v1/compliance/vendors/${vendorId}/history`, auditor);
    expect(after.json<{ versions: unknown[] }>().versions).toHaveLength(2);
  });

  it('support sees none of it', async () => {
    for (const url of [
      '/api/v1/compliance/controls',
      '/api/v1/compliance/controls/report',
      '/api/v1/compliance/inventory',
      '/api/v1/compliance/vendors',
      '/api/v1/compliance/baas',
      '/api/v1/compliance/integrations',
    ]) {
      expect((await get(app, url, support)).statusCode, url).toBe(403);
    }
    expect((await post(app, '/api/v1/compliance/controls/run', support)).statusCode).toBe(403);
    expect((await get(app, '/api/v1/compliance/vendors', undefined)).statusCode).toBe(401);
  });

  it('another tenant’s compliance officer gets 404 for this tenant’s records, as for unknown ids', async () => {
    const list = await get(app, '/api/v1/compliance/vendors', foreign);
    expect(list.statusCode).toBe(200);
    expect(list.json<{ vendors: unknown[] }>().vendors).toEqual([]);
    const unknown = randomUUID();
    for (const [method, url, payload] of [
      ['GET', `/api/v1/compliance/vendors/${vendorId}/history`, undefined],
      ['PUT', `/api/v1/compliance/vendors/${vendorId}`, vendorBody],
      ['POST', `/api/v1/compliance/integrations/${integrationId}/enable`, {}],
      [
        'POST',
        `/api/v1/compliance/integrations/${integrationId}/suspend`,
        { reason: 'containment' },
      ],
      ['GET', `/api/v1/compliance/integrations/${integrationId}/history`, undefined],
    ] as const) {
      const mine = await app.inject({
        method,
        url,
        headers: headers(foreign),
        ...(payload === undefined ? {} : { payload }),
      });
      expect(mine.statusCode, `${method} ${url}`).toBe(404);
      const none = await app.inject({
        method,
        url: url.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/, unknown),
        headers: headers(foreign),
        ...(payload === undefined ? {} : { payload }),
      });
      expect(none.statusCode).toBe(404);
      expect(none.json<{ code: string }>().code).toBe(mine.json<{ code: string }>().code);
    }
    // A BAA naming this tenant's vendor is refused in the other tenant as an unknown vendor.
    const baa = await post(app, '/api/v1/compliance/baas', foreign, {
      vendorId,
      parties: ['Elsewhere', 'Acme'],
      effectiveDate: '2026-01-01',
      expiryDate: null,
      permittedUses: 'x',
      breachNoticeDays: 10,
      subcontractorFlowDown: true,
      auditRights: true,
      returnDestruction: 'destroy',
    });
    expect(baa.statusCode).toBe(400);
    expect(baa.json()).toMatchObject({ detail: 'vendorId' });
  });
});
