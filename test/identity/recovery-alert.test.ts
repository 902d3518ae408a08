import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { runDetector } from '../../src/monitoring/index.js';
import { alertRoutes } from '../../src/http/routes/alerts.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp } from '../app.js';
import {
  auditActions,
  bootstrapAdmin,
  cookiesOf,
  get,
  harness,
  inviteAndEnrol,
  login,
  type Enrolled,
  type Harness,
} from './harness.js';

describe('a recovery-code sign-in alerts the user’s administrators', () => {
  let h: Harness;
  let alerts: FastifyInstance;
  let admin: Enrolled;
  let user: Enrolled;

  beforeAll(async () => {
    h = await harness();
    ({ app: alerts } = await buildTestApp(h.p.db, {
      routes: alertRoutes(h.p.db, h.clock),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    admin = await bootstrapAdmin(h);
    user = await inviteAndEnrol(h, admin.browser, 'rita@example.test', ['prescriber']);
  }, 120_000);
  afterAll(async () => {
    await alerts.close();
    await h.close();
  });

  it('every use opens a high-severity alert in the user’s home tenant', async () => {
    await runDetector(h.p.db, h.clock); // everything before the sign-ins
    const first = await login(h, 'rita@example.test', { recoveryCode: user.recoveryCodes[0] });
    expect(first.statusCode, first.body).toBe(200);
    const audit = await auditActions(h, user.tenantId);
    expect(audit.filter((a) => a.action === 'auth.recovery_code.used')).toEqual([
      expect.objectContaining({ outcome: 'success', details: { remaining: 9 } }),
    ]);

    const run = await runDetector(h.p.db, h.clock);
    const opened = run.opened.filter((a) => a.rule === 'recovery_code_used');
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({
      tenantId: user.tenantId,
      severity: 'high',
      subject: user.userId,
      details: { actorUserId: user.userId, remaining: 9 },
    });

    h.clock.advance(60_000);
    const second = await login(h, 'rita@example.test', { recoveryCode: user.recoveryCodes[1] });
    expect(second.statusCode, second.body).toBe(200);
    const again = await runDetector(h.p.db, h.clock);
    expect(again.opened.filter((a) => a.rule === 'recovery_code_used')).toHaveLength(1);

    // The tenant's administrators see both; a prescriber may not read alerts.
    const res = await get(alerts, '/api/v1/alerts?status=open', admin.browser);
    expect(res.statusCode, res.body).toBe(200);
    const seen = res
      .json<{ alerts: { rule: string; subject: string }[] }>()
      .alerts.filter((a) => a.rule === 'recovery_code_used');
    expect(seen.map((a) => a.subject)).toEqual([user.userId, user.userId]);
    const rita = await login(h, 'rita@example.test', { recoveryCode: user.recoveryCodes[2] });
    expect(rita.statusCode, rita.body).toBe(200);
    expect((await get(alerts, '/api/v1/alerts', cookiesOf(rita))).statusCode).toBe(403);
  });
});
