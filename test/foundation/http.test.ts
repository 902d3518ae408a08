import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/index.js';
import { AppError, asTenantId } from '../../src/core/index.js';
import { defineRoute, type RouteDef } from '../../src/http/route.js';
import { buildApp } from '../../src/http/app.js';
import { createLogger } from '../../src/config/index.js';
import { buildTestApp, testConfig } from '../app.js';
import { openTestDatabase } from '../db.js';

const echo = defineRoute({
  method: 'POST',
  url: '/api/v1/test/echo',
  permission: 'public',
  summary: 'test echo',
  tags: ['test'],
  schema: {
    body: Type.Object(
      { n: Type.Integer(), label: Type.String({ maxLength: 20 }) },
      { additionalProperties: false },
    ),
    response: { 200: Type.Object({ n: Type.Integer() }) },
  },
  // Returns more than the schema declares: the response schema must strip it.
  handler: async (request) => ({ ...(request.body as object), secretField: 'must-not-leave' }),
});

const boom = defineRoute({
  method: 'GET',
  url: '/api/v1/test/boom',
  permission: 'public',
  summary: 'test internal error',
  tags: ['test'],
  schema: { response: { 200: Type.Object({}) } },
  handler: async () => {
    throw new Error(
      'relation "patients" violates constraint: Key (mrn)=(MRN-4471) at /srv/scrip/x.ts:1',
    );
  },
});

const conflict = defineRoute({
  method: 'GET',
  url: '/api/v1/test/conflict',
  permission: 'public',
  summary: 'test domain error',
  tags: ['test'],
  schema: { response: { 200: Type.Object({}) } },
  handler: async () => {
    throw new AppError('conflict', 'already exists', { detail: 'field: npi' });
  },
});

describe('HTTP foundation', () => {
  let db: Database;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await openTestDatabase();
    ({ app } = await buildTestApp(db, {
      routes: [echo, boom, conflict],
      config: testConfig({ SCRIP_BODY_LIMIT_BYTES: '2048' }),
    }));
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('answers an unknown path with 404 problem+json and a request id', async () => {
    const res = await app.inject({ method: 'GET', url: '/no/such/path' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const id = res.headers['x-request-id'];
    expect(typeof id).toBe('string');
    expect(res.json()).toMatchObject({
      status: 404,
      code: 'not_found',
      title: 'Not found',
      requestId: id,
    });
  });

  it('gives every request a fresh server-side request id (client ids are not trusted)', async () => {
    const a = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'attacker-chosen' },
    });
    const b = await app.inject({ method: 'GET', url: '/healthz' });
    expect(a.headers['x-request-id']).not.toBe('attacker-chosen');
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('sets the security headers on success and error responses', async () => {
    for (const url of ['/healthz', '/nope']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  it('healthz and readyz report on the real database', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: 'ready',
      checks: {
        database: 'ok',
        migrations: 'current',
        keys: expect.stringMatching(/^(ok|rotation_due)$/) as unknown,
      },
    });
  });

  it('strips undeclared response fields', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      payload: { n: 1, label: 'x' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ n: 1 });
    expect(res.body).not.toContain('must-not-leave');
  });

  it('rejects schema violations with validation_failed and no echo of values', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      payload: { n: 'Jane Doe', label: 'x' },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({
      code: 'validation_failed',
      errors: [{ in: 'body', path: '/n', rule: 'type' }],
    });
    expect(res.body).not.toContain('Jane Doe');
  });

  it('rejects malformed JSON without quoting it', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"n": Jane Doe}',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'bad_request', detail: 'malformed JSON body' });
    expect(res.body).not.toContain('Jane');
  });

  it('refuses bodies over the limit (413) and unsupported media types (415)', async () => {
    const big = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      payload: { n: 1, label: 'x'.repeat(5000) },
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'payload_too_large' });
    const text = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      headers: { 'content-type': 'text/plain' },
      payload: 'hello',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('refuses prototype poisoning', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/api/v1/test/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"n":1,"label":"x","__proto__":{"admin":true}}',
    });
    expect(res.statusCode).toBe(400);
  });

  it('a 5xx carries no message, SQL, path or stack', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/test/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      type: 'urn:scrip:problem:internal',
      title: 'Internal error',
      status: 500,
      code: 'internal',
      requestId: res.headers['x-request-id'],
    });
    for (const leak of ['patients', 'MRN-4471', '/srv/scrip', 'constraint', 'at '])
      expect(res.body).not.toContain(leak);
  });

  it('maps domain errors to their status with the safe detail', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/test/conflict' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'conflict', detail: 'field: npi' });
  });

  it('denies protected routes to anonymous callers (default deny)', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/whoami' });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'unauthenticated' });
  });

  it('lets an authenticated principal through', async () => {
    const tenantId = asTenantId('7d1e8f4a-1c2b-4d3e-8f9a-0b1c2d3e4f5a');
    const { app: authed } = await buildTestApp(db, {
      authenticator: {
        authenticate: async () => ({
          userId: 'u1',
          tenantId,
          sessionId: 's1',
          permissions: new Set(),
          roles: [],
        }),
      },
    });
    const res = await authed.inject({ method: 'GET', url: '/api/v1/whoami' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ userId: 'u1', tenantId, sessionId: 's1' });
    await authed.close();
  });

  it('consumes a step-up only after the body validates: a 400 leaves it for the corrected request', async () => {
    const tenantId = asTenantId('7d1e8f4a-1c2b-4d3e-8f9a-0b1c2d3e4f5a');
    let fresh = 1;
    const guarded = defineRoute({
      method: 'POST',
      url: '/api/v1/test/guarded',
      permission: 'authenticated',
      stepUp: 'test.guarded',
      summary: 'test step-up route',
      tags: ['test'],
      schema: {
        body: Type.Object({ n: Type.Integer() }, { additionalProperties: false }),
        response: { 200: Type.Object({ n: Type.Integer() }) },
      },
      handler: async (request) => request.body,
    });
    const { app: authed } = await buildTestApp(db, {
      routes: [guarded],
      authenticator: {
        authenticate: async () => ({
          userId: 'u1',
          tenantId,
          sessionId: 's1',
          permissions: new Set(),
          roles: [],
        }),
        requireStepUp: async (_principal, action) => {
          if (action !== 'test.guarded' || fresh === 0) {
            throw new AppError('step_up_required', 'step-up required', { detail: action });
          }
          fresh -= 1;
        },
      },
    });
    const bad = await authed.inject({
      method: 'POST',
      url: '/api/v1/test/guarded',
      payload: { n: 'not a number' },
    });
    expect(bad.statusCode).toBe(400);
    expect(fresh).toBe(1);
    const ok = await authed.inject({
      method: 'POST',
      url: '/api/v1/test/guarded',
      payload: { n: 7 },
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(fresh).toBe(0);
    const again = await authed.inject({
      method: 'POST',
      url: '/api/v1/test/guarded',
      payload: { n: 8 },
    });
    expect(again.statusCode).toBe(403);
    expect(again.json()).toMatchObject({ code: 'step_up_required' });
    await authed.close();
  });

  it('refuses to start when a route declares no permission', async () => {
    const bad = {
      ...echo,
      url: '/api/v1/test/unguarded',
      permission: undefined,
    } as unknown as RouteDef;
    await expect(
      buildApp({ config: testConfig(), db, logger: createLogger('silent'), routes: [bad] }),
    ).rejects.toThrow(/declares no permission/);
  });

  it('refuses to start when a route declares no response schema', async () => {
    const bad = {
      ...echo,
      url: '/api/v1/test/unshaped',
      schema: { body: echo.schema.body },
    } as unknown as RouteDef;
    await expect(
      buildApp({ config: testConfig(), db, logger: createLogger('silent'), routes: [bad] }),
    ).rejects.toThrow(/no response schema/);
  });

  it('lists every route with its permission', () => {
    const table = app.scripRoutes;
    expect(table).toContainEqual({ method: 'GET', url: '/healthz', permission: 'public' });
    expect(table).toContainEqual({
      method: 'GET',
      url: '/api/v1/whoami',
      permission: 'authenticated',
    });
    expect(table.every((r) => r.permission !== '')).toBe(true);
  });
});
