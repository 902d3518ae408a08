import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import type { Database } from '../../src/db/index.js';
import { defineRoute } from '../../src/http/route.js';
import { buildTestApp, type LogCapture } from '../app.js';
import { openTestDatabase } from '../db.js';

/** 45 CFR 164.312(b) audit logs are separate; operational logs must hold no PHI at all. */
const NAME = 'Zebulon Quartermaine';
const DOB = '1961-07-23';
const MRN = 'MRN-88410377';
const PHI = [NAME, 'Zebulon', 'Quartermaine', DOB, MRN];

const patientRoute = defineRoute({
  method: 'POST',
  url: '/api/v1/test/patients',
  permission: 'public',
  summary: 'test route taking PHI',
  tags: ['test'],
  schema: {
    body: Type.Object({ name: Type.String(), dateOfBirth: Type.String(), mrn: Type.String() }),
    response: { 200: Type.Object({ ok: Type.Boolean() }) },
  },
  handler: async (request) => {
    // A careless handler logging what it received: redaction must still catch it.
    request.log.info(
      { body: request.body, patient: request.body, mrn: MRN },
      'handler saw a patient',
    );
    return { ok: true };
  },
});

const failingRoute = defineRoute({
  method: 'GET',
  url: '/api/v1/test/fail',
  permission: 'public',
  summary: 'test route failing with PHI in the error message',
  tags: ['test'],
  schema: { response: { 200: Type.Object({}) } },
  handler: async () => {
    throw new Error(
      `duplicate key value violates unique constraint, Key (mrn)=(${MRN}) name ${NAME}`,
    );
  },
});

describe('logs carry no PHI', () => {
  let db: Database;
  let app: FastifyInstance;
  let logs: LogCapture;

  beforeAll(async () => {
    db = await openTestDatabase();
    ({ app, logs } = await buildTestApp(db, { routes: [patientRoute, failingRoute] }));
  });
  afterAll(async () => {
    await app.close();
    await db.close();
  });

  it('keeps names, dates of birth and MRNs out of body, query, header and error logging', async () => {
    const q = `name=${encodeURIComponent(NAME)}&dob=${DOB}&mrn=${MRN}`;
    const headers = {
      'x-patient-name': NAME,
      'x-mrn': MRN,
      authorization: `Bearer ${MRN}`,
      cookie: `sid=${DOB}`,
    };
    const responses = await Promise.all([
      app.inject({
        method: 'POST',
        url: `/api/v1/test/patients?${q}`,
        headers,
        payload: { name: NAME, dateOfBirth: DOB, mrn: MRN },
      }),
      app.inject({
        method: 'POST',
        url: '/api/v1/test/patients',
        headers: { 'content-type': 'application/json' },
        payload: `{"name": ${NAME}, "mrn": "${MRN}"`,
      }),
      app.inject({
        method: 'POST',
        url: '/api/v1/test/patients',
        payload: { name: 42, dateOfBirth: DOB, mrn: MRN },
      }),
      app.inject({
        method: 'GET',
        url: `/api/v1/patients/${encodeURIComponent(NAME)}/${MRN}?${q}`,
        headers,
      }),
      app.inject({ method: 'GET', url: `/api/v1/whoami?${q}`, headers }),
      app.inject({ method: 'GET', url: `/api/v1/test/fail?${q}`, headers }),
      app.inject({ method: 'GET', url: `/healthz?${q}`, headers }),
    ]);
    expect(responses.map((r) => r.statusCode)).toEqual([200, 400, 400, 404, 401, 500, 200]);
    // The logs did capture these requests...
    expect(logs.lines.length).toBeGreaterThanOrEqual(responses.length);
    expect(logs.text).toContain('/api/v1/test/patients');
    expect(logs.text).toContain('handler saw a patient');
    expect(logs.text).toContain('request failed');
    // ...and none of the PHI.
    for (const value of PHI) expect(logs.text).not.toContain(value);
    for (const value of PHI) for (const r of responses) expect(r.body).not.toContain(value);
  });
});
