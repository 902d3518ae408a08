/**
 * Issue 6 point 1: every audit record written for a signed-in request carries the actor (user,
 * role, session), the source address, the user agent and the request id — whichever domain wrote
 * it. Each action is driven over HTTP and its record is read back from the log.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import type { AuditRecord } from '../../src/audit/index.js';
import { auditRoutes } from '../../src/http/routes/audit.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { listAlerts } from '../../src/monitoring/index.js';
import { buildTestApp } from '../app.js';
import {
  bootstrapAdmin,
  codeFor,
  headers,
  inviteAndEnrol,
  PASSWORD,
  type Browser,
  type Enrolled,
} from '../identity/harness.js';
import { newPatient, opsHarness, stepUp, type OpsHarness } from '../access-ops/helpers.js';

const UA = 'scrip-audit-fields/1.0 (test)';

describe('audit records of HTTP requests carry actor, role, session, source and request id', () => {
  let h: OpsHarness;
  let audit: FastifyInstance;
  let admin: Enrolled;
  let pres: Enrolled;
  let officer: Enrolled;
  let patient: string;

  const send = (
    app: FastifyInstance,
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    b: Browser,
    payload?: Record<string, unknown>,
  ): Promise<LightMyRequestResponse> =>
    app.inject({
      method,
      url,
      headers: { ...headers(b), 'user-agent': UA },
      ...(payload === undefined ? {} : { payload }),
    });

  const records = (action: string): Promise<AuditRecord[]> =>
    h.p.db.withTenant(asTenantId(admin.tenantId), async (tx) => {
      const { rows } = await tx.query<{ record: string }>(
        'SELECT record FROM audit_log WHERE action = $1 ORDER BY seq',
        [action],
      );
      return rows.map((r) => JSON.parse(r.record) as AuditRecord);
    });

  /** The one record of `action` written by `res`, checked field by field. */
  const expectFields = async (
    action: string,
    res: LightMyRequestResponse,
    who: Enrolled,
    role: RegExp,
  ): Promise<AuditRecord> => {
    const requestId = res.headers['x-request-id'];
    expect(typeof requestId).toBe('string');
    const mine = (await records(action)).filter((r) => r.requestId === requestId);
    expect(mine, `${action}: one record with the request id`).toHaveLength(1);
    const r = mine[0]!;
    expect(r.tenantId).toBe(admin.tenantId);
    expect(r.actor.kind).toBe('user');
    expect(r.actor.userId).toBe(who.userId);
    expect(r.actor.sessionId, `${action}: session`).toMatch(/\S/);
    expect(r.actor.role, `${action}: role`).toMatch(role);
    expect(r.source.ip, `${action}: source address`).toBe('127.0.0.1');
    expect(r.source.userAgent, `${action}: user agent`).toBe(UA);
    return r;
  };

  beforeAll(async () => {
    h = await opsHarness();
    admin = await bootstrapAdmin(h);
    pres = await inviteAndEnrol(h, admin.browser, 'fields-pres@example.test', ['prescriber']);
    officer = await inviteAndEnrol(h, admin.browser, 'fields-co@example.test', [
      'compliance_officer',
    ]);
    patient = await newPatient(h, admin.tenantId);
    audit = (
      await buildTestApp(h.p.db, {
        routes: auditRoutes(h.p.db, h.clock),
        authenticator: sessionAuthenticator(h.p.identity.sessions),
      })
    ).app;
  }, 180_000);
  afterAll(async () => {
    await audit.close();
    await h.close();
  });

  it('sign-in (identity): the session it opens and the roles it opens it with', async () => {
    h.clock.advance(30_000);
    const res = await h.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'user-agent': UA },
      payload: {
        email: 'fields-pres@example.test',
        password: PASSWORD,
        totp: codeFor(pres.secret, h.clock),
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    const requestId = res.headers['x-request-id'];
    const [r] = (await records('auth.login.success')).filter((x) => x.requestId === requestId);
    expect(r).toBeDefined();
    expect(r!.actor).toMatchObject({ kind: 'user', userId: pres.userId, role: 'prescriber' });
    expect(r!.actor.sessionId).toMatch(/\S/);
    expect(r!.source).toEqual({ ip: '127.0.0.1', userAgent: UA });
  });

  it('step-up (identity)', async () => {
    h.clock.advance(30_000);
    const res = await send(h.app, 'POST', '/api/v1/auth/step-up', pres.browser, {
      action: 'breakglass.start',
      totp: codeFor(pres.secret, h.clock),
    });
    expect(res.statusCode, res.body).toBe(200);
    const r = await expectFields('auth.stepup', res, pres, /^prescriber$/);
    expect(r.outcome).toBe('success');
  });

  it('break-glass open and close (access operations), with the reason code', async () => {
    const open = await send(h.ops, 'POST', '/api/v1/break-glass', pres.browser, {
      patientId: patient,
      category: 'emergency_treatment',
      reason: 'unconscious patient in the ED, no care team reachable',
    });
    expect(open.statusCode, open.body).toBe(201);
    const r = await expectFields('access.breakglass.open', open, pres, /^prescriber$/);
    expect(r.reason).toBe('emergency_treatment');
    expect(r.subjects).toContainEqual({ type: 'patient', id: patient });
    const id = open.json<{ id: string }>().id;
    const end = await send(h.ops, 'POST', `/api/v1/break-glass/${id}/end`, pres.browser, {});
    expect(end.statusCode, end.body).toBe(200);
    await expectFields('access.breakglass.close', end, pres, /^prescriber$/);
  });

  it('grant request and denial, and a configuration change (access settings)', async () => {
    const req = await send(h.ops, 'POST', '/api/v1/access/grants', pres.browser, {
      patientId: patient,
      permissions: ['patient.read'],
      reason: 'covering the ward tonight',
      durationMinutes: 60,
    });
    expect(req.statusCode, req.body).toBe(201);
    await expectFields('access.grant.requested', req, pres, /^prescriber$/);
    const id = req.json<{ id: string }>().id;
    const deny = await send(h.ops, 'POST', `/api/v1/access/grants/${id}/deny`, admin.browser, {});
    expect(deny.statusCode, deny.body).toBe(200);
    const denied = await expectFields('access.grant.denied', deny, admin, /security_admin/);
    expect(denied.subjects).toContainEqual({ type: 'patient', id: patient });
    await stepUp(h, admin, 'access.settings.change');
    const set = await send(h.ops, 'PUT', '/api/v1/access/settings', admin.browser, {
      breakGlassMinutes: 30,
    });
    expect(set.statusCode, set.body).toBe(200);
    await expectFields('access.settings.change', set, admin, /security_admin/);
  });

  it('alert acknowledgement (monitoring)', async () => {
    const [alert] = await listAlerts(h.p.db, asTenantId(admin.tenantId), { rule: 'break_glass' });
    expect(alert).toBeDefined();
    const ack = await send(
      h.ops,
      'POST',
      `/api/v1/alerts/${alert!.id}/acknowledge`,
      officer.browser,
      {},
    );
    expect(ack.statusCode, ack.body).toBe(200);
    await expectFields('monitoring.alert.acknowledge', ack, officer, /^compliance_officer$/);
  });

  it('audit search and audit export (FHIR, syslog) are themselves recorded', async () => {
    const search = await send(audit, 'GET', '/api/v1/audit/events?action=auth.', officer.browser);
    expect(search.statusCode, search.body).toBe(200);
    await expectFields('audit.search', search, officer, /^compliance_officer$/);
    const fhir = await send(audit, 'GET', '/api/v1/audit/export/fhir?limit=5', officer.browser);
    expect(fhir.statusCode, fhir.body).toBe(200);
    await expectFields('audit.export', fhir, officer, /^compliance_officer$/);
    const syslog = await send(audit, 'GET', '/api/v1/audit/export/syslog?limit=5', officer.browser);
    expect(syslog.statusCode, syslog.body).toBe(200);
    await expectFields('audit.export', syslog, officer, /^compliance_officer$/);
  });
});
