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
  codeFor,
  get,
  harness,
  headers,
  inviteAndEnrol,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';

describe('alerts and the EPCS review over HTTP', () => {
  let h: Harness;
  let app: FastifyInstance;
  let compliance: Browser;
  let officer: Enrolled;
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
    officer = await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer']);
    compliance = officer.browser;
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

  it('rules are configurable per tenant: read with alerts.read, changed with alerts.manage and a step-up, audited', async () => {
    type Rule = { rule: string; enabled: boolean; params: Record<string, unknown> };
    const put = (b: Browser, rule: string, payload: Record<string, unknown>) =>
      app.inject({
        method: 'PUT',
        url: `/api/v1/alerts/rules/${rule}`,
        headers: headers(b),
        payload,
      });
    const stepUp = async (): Promise<void> => {
      h.clock.advance(30_000);
      const res = await post(h.app, '/api/v1/auth/step-up', officer.browser, {
        action: 'monitoring.rule.update',
        totp: codeFor(officer.secret, h.clock),
      });
      expect(res.statusCode, res.body).toBe(200);
    };
    expect((await get(app, '/api/v1/alerts/rules', prescriber)).statusCode).toBe(403);
    const listed = await get(app, '/api/v1/alerts/rules', auditor);
    expect(listed.statusCode, listed.body).toBe(200);
    const rules = listed.json<{ rules: Rule[] }>().rules;
    expect(rules.find((r) => r.rule === 'bulk_lookup')).toMatchObject({
      enabled: true,
      params: { maxDistinctPatients: 50, windowMinutes: 10 },
    });
    expect(rules.map((r) => r.rule)).toContain('off_hours_access');

    const change = { params: { maxDistinctPatients: 5, windowMinutes: 30 } };
    expect((await put(auditor, 'bulk_lookup', change)).statusCode).toBe(403);
    const noStepUp = await put(compliance, 'bulk_lookup', change);
    expect(noStepUp.statusCode).toBe(403);
    expect(noStepUp.json()).toMatchObject({ code: 'step_up_required' });
    await stepUp();
    const changed = await put(compliance, 'bulk_lookup', change);
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      rule: 'bulk_lookup',
      enabled: true,
      params: { maxDistinctPatients: 5, windowMinutes: 30 },
    });
    await stepUp();
    const bad = await put(compliance, 'bulk_lookup', { params: { maxDistinctPatients: -1 } });
    expect(bad.statusCode, bad.body).toBe(400);
    await stepUp();
    expect((await put(compliance, 'no_such_rule', { enabled: false })).statusCode).toBe(400);
    const after = (await get(app, '/api/v1/alerts/rules', auditor)).json<{ rules: Rule[] }>();
    expect(after.rules.find((r) => r.rule === 'bulk_lookup')?.params).toMatchObject({
      maxDistinctPatients: 5,
    });

    // The tenant's rule is the one the detector applies: 6 distinct patients now alert.
    const t = asTenantId(tenant);
    const snoop = randomUUID();
    await h.p.db.withTenant(t, async (tx) => {
      for (let i = 0; i < 6; i += 1) {
        await appendAudit(
          tx,
          {
            tenantId: t,
            actor: { kind: 'user', userId: snoop },
            action: 'patient.read',
            outcome: 'success',
            subjects: [{ type: 'patient', id: randomUUID() }],
          },
          h.clock,
        );
      }
    });
    await runDetector(h.p.db, h.clock);
    const open = (await get(app, '/api/v1/alerts?status=open', compliance)).json<{
      alerts: { rule: string; subject: string | null }[];
    }>().alerts;
    expect(open.filter((a) => a.rule === 'bulk_lookup' && a.subject === snoop)).toHaveLength(1);

    const audited = await h.p.db.withTenant(t, async (tx) => {
      const { rows } = await tx.query<{ record: string }>(
        "SELECT record FROM audit_log WHERE action = 'monitoring.rule.update' ORDER BY seq",
      );
      return rows.map((r) => JSON.parse(r.record) as Record<string, unknown>);
    });
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({
      outcome: 'success',
      actor: { kind: 'user', userId: officer.userId, role: 'compliance_officer' },
      details: { rule: 'bulk_lookup', enabled: true },
    });
  });
});
