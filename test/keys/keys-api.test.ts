import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { asTenantId } from '../../src/core/index.js';
import { signCompactJws, verifyCompactJws, type Jwks } from '../../src/crypto/jws.js';
import type { Authenticator } from '../../src/http/auth.js';
import { keyRoutes } from '../../src/http/routes/keys.routes.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';

/** A test-only authenticator: `x-test-user: name[:perm,perm]` becomes a principal. */
const headerAuth: Authenticator = {
  authenticate: async (request) => {
    const h = request.headers['x-test-user'];
    if (typeof h !== 'string') return undefined;
    const [user = '', perms = ''] = h.split(':');
    return {
      userId: user,
      tenantId: asTenantId('00000000-0000-4000-8000-000000000000'),
      sessionId: 's',
      permissions: new Set(perms.split(',').filter((x) => x !== '')),
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

  it('dual control over the API: the requester cannot approve; a second administrator can', async () => {
    const tenant = await freshTenant(p.db);
    await p.db.withTenant(tenant, (tx) =>
      p.patients.create(tx, tenant, {
        givenName: 'Ann',
        familyName: 'Bee',
        birthDate: '1980-01-01',
      }),
    );
    const created = await app.inject({
      method: 'POST',
      url: '/api/v1/keys/requests',
      headers: { 'x-test-user': 'alice:keys.admin' },
      payload: { operation: 'shred_tenant', tenantId: tenant },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    const self = await app.inject({
      method: 'POST',
      url: `/api/v1/keys/requests/${id}/approve`,
      headers: { 'x-test-user': 'alice:keys.admin' },
    });
    expect(self.statusCode).toBe(403);
    expect(self.json()).toMatchObject({ code: 'forbidden' });
    const other = await app.inject({
      method: 'POST',
      url: `/api/v1/keys/requests/${id}/approve`,
      headers: { 'x-test-user': 'bob:keys.admin' },
    });
    expect(other.statusCode).toBe(200);
    expect(other.json()).toMatchObject({
      status: 'executed',
      requestedBy: 'alice',
      decidedBy: 'bob',
    });
    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/keys/requests',
      headers: { 'x-test-user': 'alice:keys.admin' },
      payload: { operation: 'shred_tenant', tenantId: 'not-a-uuid' },
    });
    expect(bad.statusCode).toBe(400);
    const missing = await app.inject({
      method: 'POST',
      url: '/api/v1/keys/requests',
      headers: { 'x-test-user': 'alice:keys.admin' },
      payload: { operation: 'shred_tenant' },
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'validation_failed', detail: 'tenantId' });
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/v1/keys/requests/00000000-0000-4000-8000-000000000001/approve',
      headers: { 'x-test-user': 'bob:keys.admin' },
    });
    expect(unknown.statusCode).toBe(404);
  });
});
