import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { pharmacyRoutes } from '../../src/http/routes/pharmacies.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { PharmacyDirectoryService } from '../../src/network/pharmacy-directory.service.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import {
  auditActions,
  bootstrapAdmin,
  get,
  harness,
  headers,
  inviteAndEnrol,
  post,
  type Browser,
  type Harness,
} from '../identity/harness.js';
import { jsonl, pharmacyRow, pin } from './pharmacy-fixtures.js';

describe('pharmacy directory over HTTP', () => {
  let h: Harness;
  let app: FastifyInstance;
  let directory: PharmacyDirectoryService;
  let admin: Browser;
  let support: Browser;
  let compliance: Browser;
  let prescriber: Browser;
  let tenant: string;
  let foreignId: string;

  const put = (url: string, b: Browser, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url, headers: headers(b), payload });

  beforeAll(async () => {
    h = await harness();
    directory = new PharmacyDirectoryService(h.p.db, h.clock);
    ({ app } = await buildTestApp(h.p.db, {
      routes: pharmacyRoutes(directory),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    const a = await bootstrapAdmin(h);
    admin = a.browser;
    tenant = a.tenantId;
    compliance = (await inviteAndEnrol(h, admin, 'cora@example.test', ['compliance_officer']))
      .browser;
    prescriber = (await inviteAndEnrol(h, admin, 'pat@example.test', ['prescriber'])).browser;
    support = (await inviteAndEnrol(h, admin, 'sue@example.test', ['support'])).browser;
    const other = await freshTenant(h.p.db, 'Other clinic');
    await directory.importFile(other, jsonl([pharmacyRow('7000009')]), { kind: 'cli' });
    foreignId = (await directory.search(other, { limit: 1, offset: 0 })).items[0]?.id ?? '';
    expect(foreignId).not.toBe('');
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('requires a session and the right permission', async () => {
    expect((await get(app, '/api/v1/pharmacies', undefined)).statusCode).toBe(401);
    expect((await get(app, '/api/v1/pharmacies', support)).statusCode).toBe(403);
    expect(
      (await post(app, '/api/v1/pharmacies', support, pharmacyRow('7000001'))).statusCode,
    ).toBe(403);
    expect(
      (await post(app, '/api/v1/pharmacies', prescriber, pharmacyRow('7000001'))).statusCode,
    ).toBe(403);
  });

  it('creates, finds, updates (pin rotation) and audits a pharmacy', async () => {
    const created = await post(app, '/api/v1/pharmacies', compliance, pharmacyRow('7000001'));
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json<{ id: string; pins: { primary: string } }>();
    expect(body.pins.primary).toBe(pin('7000001-a'));

    const found = await get(app, '/api/v1/pharmacies?name=main%20street&limit=5', prescriber);
    expect(found.statusCode, found.body).toBe(200);
    expect(found.json<{ total: number; items: { id: string }[] }>()).toMatchObject({
      total: 1,
      items: [{ id: body.id }],
    });
    expect((await get(app, `/api/v1/pharmacies/${body.id}`, prescriber)).statusCode).toBe(200);

    const rotated = await put(
      `/api/v1/pharmacies/${body.id}`,
      compliance,
      pharmacyRow('7000001', { pins: { primary: pin('7000001-b'), backup: pin('7000001-c') } }),
    );
    expect(rotated.statusCode, rotated.body).toBe(200);
    expect(rotated.json<{ pins: unknown }>().pins).toEqual({
      primary: pin('7000001-b'),
      backup: pin('7000001-c'),
    });
    const actions = (await auditActions(h, tenant)).map((a) => a.action);
    expect(actions).toContain('pharmacy.directory.create');
    expect(actions).toContain('pharmacy.directory.update');
  });

  it('refuses bad input with 400 naming the field, and duplicates with 409, changing nothing', async () => {
    const before = (await directory.search(asTenantId(tenant), { limit: 100, offset: 0 })).total;
    const http = await post(
      app,
      '/api/v1/pharmacies',
      compliance,
      pharmacyRow('7000002', { endpointUrl: 'http://plain.example.test/' }),
    );
    expect(http.statusCode).toBe(400);
    expect(http.json<{ detail: string }>().detail).toBe('endpointUrl');
    const npi = await post(
      app,
      '/api/v1/pharmacies',
      compliance,
      pharmacyRow('7000002', { npi: '1234567890' }),
    );
    expect(npi.statusCode).toBe(400);
    expect(npi.body).not.toContain('1234567890');
    const level = await post(
      app,
      '/api/v1/pharmacies',
      compliance,
      pharmacyRow('7000002', { serviceLevels: ['teleport'] }),
    );
    expect(level.statusCode).toBe(400);
    expect((await get(app, '/api/v1/pharmacies?limit=1000', prescriber)).statusCode).toBe(400);
    await post(app, '/api/v1/pharmacies', compliance, pharmacyRow('7000003'));
    const dup = await post(app, '/api/v1/pharmacies', compliance, pharmacyRow('7000003'));
    expect(dup.statusCode).toBe(409);
    const after = (await directory.search(asTenantId(tenant), { limit: 100, offset: 0 })).total;
    expect(after).toBe(before + 1);
  });

  it('answers 404 for another tenant’s pharmacy, on read and on update', async () => {
    expect((await get(app, `/api/v1/pharmacies/${foreignId}`, prescriber)).statusCode).toBe(404);
    const res = await put(`/api/v1/pharmacies/${foreignId}`, compliance, pharmacyRow('7000009'));
    expect(res.statusCode).toBe(404);
    const search = await get(app, '/api/v1/pharmacies?ncpdpId=7000009', prescriber);
    expect(search.json<{ total: number }>().total).toBe(0);
  });
});
