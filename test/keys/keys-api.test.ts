import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { AppError, asTenantId } from '../../src/core/index.js';
import { signCompactJws, verifyCompactJws, type Jwks } from '../../src/crypto/jws.js';
import type { Authenticator } from '../../src/http/auth.js';
import { keyRoutes } from '../../src/http/routes/keys.routes.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

/**
 * A test-only authenticator: `x-test-user: name[:perm,perm]` becomes a principal; a fresh step-up
 * is `x-test-stepup: <action>` (the real one is a second factor, see test/identity).
 */
let stepUpHeader: string | undefined;
const headerAuth: Authenticator = {
  requireStepUp: async (_principal, action) => {
    if (stepUpHeader !== action)
      throw new AppError('step_up_required', 'step-up required', { detail: action });
  },
  authenticate: async (request) => {
    const s = request.headers['x-test-stepup'];
    stepUpHeader = typeof s === 'string' ? s : undefined;
    const h = request.headers['x-test-user'];
    if (typeof h !== 'string') return undefined;
    const [user = '', perms = ''] = h.split(':');
    return {
      userId: user,
      tenantId: asTenantId('00000000-0000-4000-8000-000000000000'),
      sessionId: 's',
      permissions: new Set(perms.split(',').filter((x) => x !== '')),
      roles: [],
    };
  },
};

describe('key API and JWKS', () => {
  let p: TestPlatform;
  let app: FastifyInstance;

  beforeAll(async () => {
    p = await testPlatform(undefined, { isolated: true });
    ({ app } = await buildTestApp(p.db, {
      routes: keyRoutes(p.signingKeys, p.keyAdmin),
      authenticator: headerAuth,
    }));
  });
  afterAll(async () => {
    await app.close();
    await p.close();
  });

  it('publishes the signing keys; a JWS from the active key verifies against the JWKS, after rotation too', async () => {
    const signer = await p.signingKeys.active();
    const jws = await signCompactJws(Buffer.from('{"rx":1}'), {
      kid: signer.keyId,
      signer: (d) => signer.sign(d),
    });
    await p.signingKeys.rotate();
    const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    const jwks = res.json<Jwks>();
    expect(jwks.keys.length).toBe(2);
    expect(res.body).not.toMatch(/"d"\s*:/);
    expect(verifyCompactJws(jws, jwks).payload.toString()).toBe('{"rx":1}');
    const tampered = jws.replace(/\.[^.]+\./, `.${Buffer.from('{"rx":2}').toString('base64url')}.`);
    expect(() => verifyCompactJws(tampered, jwks)).toThrow();
  });

  it('key administration needs keys.admin', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/keys/status' })).statusCode).toBe(401);
    expect(
      (
        await app.inject({
          method: 'GET',
          url: '/api/v1/keys/status',
          headers: { 'x-test-user': 'mallory:authenticated' },
        })
      ).statusCode,
    ).toBe(403);
    const ok = await app.inject({
      method: 'GET',
      url: '/api/v1/keys/status',
      headers: { 'x-test-user': 'alice:keys.admin' },
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ providerKind: 'local', maxKeyAgeDays: 365 });
    expect(ok.body).not.toMatch(/"wrapped"|kekBase64|pin/i);
  });

  it('dual control over the API: step-up, the requester cannot approve, a second administrator can', async () => {
    const tenant = await freshTenant(p.db);
    await p.db.withTenant(tenant, (tx) =>
      p.patients.create(tx, tenant, {
        givenName: 'Ann',
        familyName: 'Bee',
        birthDate: '1980-01-01',
      }),
    );
    const as = (user: string, stepUp = true): Record<string, string> => ({
      'x-test-user': `${user}:keys.admin`,
      ...(stepUp ? { 'x-test-stepup': 'key.operation' } : {}),
    });
    const post = (url: string, headers: Record<string, string>, payload?: object) =>
      app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload }) });
    const noStepUp = await post('/api/v1/keys/requests', as('alice', false), {
      operation: 'shred_tenant',
      tenantId: tenant,
    });
    expect(noStepUp.statusCode).toBe(403);
    expect(noStepUp.json()).toMatchObject({ code: 'step_up_required', detail: 'key.operation' });
    const created = await post('/api/v1/keys/requests', as('alice'), {
      operation: 'shred_tenant',
      tenantId: tenant,
    });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    const self = await post(`/api/v1/keys/requests/${id}/approve`, as('alice'));
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ code: 'forbidden' });
    expect(
      (await post(`/api/v1/keys/requests/${id}/approve`, as('bob', false))).json(),
    ).toMatchObject({ code: 'step_up_required' });
    const other = await post(`/api/v1/keys/requests/${id}/approve`, as('bob'));
    expect(other.statusCode).toBe(200);
    expect(other.json()).toMatchObject({
      status: 'executed',
      requestedBy: 'alice',
      decidedBy: 'bob',
    });
    expect(
      (
        await post('/api/v1/keys/requests', as('alice'), {
          operation: 'shred_tenant',
          tenantId: 'not-a-uuid',
        })
      ).statusCode,
    ).toBe(400);
    const missing = await post('/api/v1/keys/requests', as('alice'), { operation: 'shred_tenant' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'validation_failed', detail: 'tenantId' });
    expect(
      (await post('/api/v1/keys/requests/00000000-0000-4000-8000-000000000001/approve', as('bob')))
        .statusCode,
    ).toBe(404);
  });
});
