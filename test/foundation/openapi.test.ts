import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/index.js';
import { buildTestApp } from '../app.js';
import { openTestDatabase } from '../db.js';

interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { responses?: Record<string, unknown>; 'x-permission'?: string }>
  >;
}

describe('OpenAPI document', () => {
  let db: Database;
  let app: FastifyInstance;
  let doc: OpenApiDoc;

  beforeAll(async () => {
    db = await openTestDatabase();
    ({ app } = await buildTestApp(db));
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json<OpenApiDoc>();
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('is valid OpenAPI 3.1 according to an independent validator', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc as unknown as Record<string, unknown>);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every /api/v1 route with its response schemas and permission', () => {
    const apiRoutes = app.scripRoutes.filter((r) => r.url.startsWith('/api/v1'));
    expect(apiRoutes.length).toBeGreaterThan(0);
    for (const r of apiRoutes) {
      const op = doc.paths[r.url]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.url}`).toBeDefined();
      expect(Object.keys(op?.responses ?? {}).length, `${r.method} ${r.url}`).toBeGreaterThan(0);
      expect(op?.['x-permission'], `${r.method} ${r.url}`).toBe(r.permission);
    }
  });
});
