import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { asTenantId, ManualClock } from '../../src/core/index.js';
import { appendAudit } from '../../src/audit/index.js';
import { runDailyEpcsReview, runDetector } from '../../src/monitoring/index.js';
import { alertRoutes } from '../../src/http/routes/alerts.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import {
  bootstrapAdmin,
  get,
  harness,
  inviteAndEnrol,
  post,
  type Browser,
  type Harness,
} from '../identity/harness.js';

describe('alerts and the EPCS review over HTTP', () => {
  let h: Harness;
  let app: FastifyInstance;
  let compliance: Browser;
  let auditor: Browser;
  let prescriber: Browser;
  let tenant: string;

  beforeAll(async () => {
    h = await harness();
    ({ app } = await buildTestApp(h.p.db, {
      routes: alertRoutes(h.p.db, h.clock),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    const admin = await bootstrapAdmin(h);
    tenant = admin.tenantId;
    compliance = (
      await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer'])
    ).browser;
    auditor = (await inviteAndEnrol(h, admin.browser, 'aud@example.test', ['auditor'])).browser;
    prescriber = (await inviteAndEnrol(h, admin.browser, 'pat@example.test', ['prescriber']))
      .browser;
    // One user touches 60 distinct patients within minutes: the bulk-lookup rule fires.
    const t = asTenantId(tenant);
    await h.p.db.withTenant(t, async (tx) => {
      for (let i = 0; i < 60; i += 1) {
        await appendAudit(
          tx,
          {
            tenantId: t,
            actor: { kind: 'user', userId: 'snoop-1' },
            action: 'patient.read',
            outcome: 'success',
            subjects: [{ type: 'patient', id: randomUUID() }],
          },
          h.clock,
        );
      }
      await appendAudit(
        tx,
        {
          tenantId: t,
          actor: { kind: 'user', userId: 'dr-1' },
          action: 'rx.sign.controlled',
          outcome: 'failure',
          subjects: [{ type: 'prescription', id: randomUUID() }],
        },
        h.clock,
      );
    });
    await runDetector(h.p.db, h.clock);
  }, 120_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('lists the tenant’s alerts to those who may read them, and no one else', async () => {
    expect((await get(app, '/api/v1/alerts', undefined)).statusCode).toBe(401);
    expect((await get(app, '/api/v1/alerts', prescriber)).statusCode).toBe(403);
    const res = await get(app, '/api/v1/alerts?status=open', compliance);
    expect(res.statusCode, res.body).toBe(200);
    const rules = res.json<{ alerts: { rule: string }[] }>().alerts.map((a) => a.rule);
    expect(rules).toContain('bulk_lookup');
    expect((await get(app, '/api/v1/alerts', auditor)).statusCode).toBe(200);
  });

  it('a compliance officer acknowledges (an auditor may not); acknowledging twice is refused', async () => {
    const alerts = (await get(app, '/api/v1/alerts?status=open', compliance)).json<{
      alerts: { id: string; rule: string }[];
    }>().alerts;
    const bulk = alerts.find((a) => a.rule === 'bulk_lookup');
    if (bulk === undefined) throw new Error('no bulk alert');
    expect((await post(app, `/api/v1/alerts/${bulk.id}/acknowledge`, auditor, {})).statusCode).toBe(
      403,
    );
    const ack = await post(app, `/api/v1/alerts/${bulk.id}/acknowledge`, compliance, {
      note: 'looked into it',
    });
    expect(ack.statusCode, ack.body).toBe(200);
    expect(ack.json()).toMatchObject({ status: 'acknowledged', note: 'looked into it' });
    expect(
      (await post(app, `/api/v1/alerts/${bulk.id}/acknowledge`, compliance, {})).statusCode,
    ).toBe(409);
    expect(
      (await post(app, `/api/v1/alerts/${randomUUID()}/acknowledge`, compliance, {})).statusCode,
    ).toBe(404);
  });

  it('shows the daily EPCS report and records final decisions', async () => {
    const day = h.clock.now().toISOString().slice(0, 10);
    // The review runs once the day is over (a clock of its own: the sessions keep theirs).
    const later = new ManualClock(h.clock.now().getTime() + 2 * 86_400_000);
    const nextDay = new Date(h.clock.now().getTime() + 86_400_000).toISOString().slice(0, 10);
    await runDailyEpcsReview(h.p.db, nextDay, asTenantId(tenant), later); // reviews the day before
    const review = await get(app, `/api/v1/epcs/reviews/${day}`, compliance);
    expect(review.statusCode, review.body).toBe(200);
    const items = review.json<{ items: { id: string; action: string }[] }>().items;
    const failed = items.find((i) => i.action === 'rx.sign.controlled');
    if (failed === undefined) throw new Error('no EPCS item');
    const decided = await post(
      app,
      `/api/v1/epcs/reviews/items/${failed.id}/decision`,
      compliance,
      { decision: 'not_incident', note: 'typo in PIN' },
    );
    expect(decided.statusCode, decided.body).toBe(200);
    expect(decided.json()).toMatchObject({ decision: 'not_incident' });
    expect(
      (
        await post(app, `/api/v1/epcs/reviews/items/${failed.id}/decision`, compliance, {
          decision: 'incident',
        })
      ).statusCode,
    ).toBe(409);
    expect((await get(app, '/api/v1/epcs/reviews/1999-01-01', compliance)).statusCode).toBe(404);
  });
});
