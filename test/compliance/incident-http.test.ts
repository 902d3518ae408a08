import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { asTenantId } from '../../src/core/index.js';
import { createCheckpoint, verifyInclusionBundle } from '../../src/audit/index.js';
import { complianceProgramRoutes } from '../../src/http/routes/compliance-program.routes.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { buildTestApp, type LogCapture } from '../app.js';
import { ORIGIN, testSigner } from '../audit/helpers.js';
import {
  auditActions,
  bootstrapAdmin,
  codeFor,
  cookiesOf,
  enrol,
  get,
  harness,
  headers,
  inviteAndEnrol,
  login,
  PASSWORD,
  post,
  type Browser,
  type Enrolled,
  type Harness,
} from '../identity/harness.js';
import { auditOf } from './helpers.js';
import { vendorWithIntegration } from '../compliance-evidence/helpers.js';

const API = '/api/v1/compliance';

describe('compliance program over HTTP: incidents, containment, evidence, breach, policies, roles', () => {
  let h: Harness;
  let app: FastifyInstance;
  let logs: LogCapture;
  let admin: Enrolled;
  let cora: Enrolled; // compliance officer
  let carl: Enrolled; // a second compliance officer
  let auditor: Enrolled;
  let support: Enrolled;
  let pat: Enrolled; // prescriber whose password was stolen
  let mal: Enrolled; // account to disable
  let olga: Enrolled; // compliance officer of another tenant
  let tenant: string;
  let incidentId: string;

  async function stepUp(e: Enrolled): Promise<void> {
    const res = await post(h.app, '/api/v1/auth/step-up', e.browser, {
      action: 'compliance.containment',
      totp: codeFor(e.secret, h.clock),
    });
    expect(res.statusCode, res.body).toBe(200);
    h.clock.advance(30_000);
  }

  const put = (b: Browser, url: string, payload: Record<string, unknown>) =>
    app.inject({ method: 'PUT', url, headers: headers(b), payload });
  const contain = (b: Browser, payload: Record<string, unknown>) =>
    post(app, `${API}/incidents/${incidentId}/containment`, b, payload);

  beforeAll(async () => {
    h = await harness();
    // The program as the platform composes it: real sessions, accounts, keys and integrations.
    ({ app, logs } = await buildTestApp(h.p.db, {
      routes: complianceProgramRoutes(h.p.complianceProgram),
      authenticator: sessionAuthenticator(h.p.identity.sessions),
    }));
    admin = await bootstrapAdmin(h);
    tenant = admin.tenantId;
    cora = await inviteAndEnrol(h, admin.browser, 'cora@example.test', ['compliance_officer']);
    carl = await inviteAndEnrol(h, admin.browser, 'carl@example.test', ['compliance_officer']);
    auditor = await inviteAndEnrol(h, admin.browser, 'aud@example.test', ['auditor']);
    support = await inviteAndEnrol(h, admin.browser, 'sue@example.test', ['support']);
    pat = await inviteAndEnrol(h, admin.browser, 'pat@example.test', ['prescriber']);
    mal = await inviteAndEnrol(h, admin.browser, 'mal@example.test', ['staff']);
    // A second tenant with its own compliance officer.
    const t2 = asTenantId(randomUUID());
    await h.p.db.withTenant(t2, (tx) =>
      tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [t2, 'Elsewhere']),
    );
    const link = await h.p.identity.onboarding.invite(
      t2,
      'olga@example.test',
      ['compliance_officer'],
      {
        kind: 'cli',
      },
    );
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: link.token,
      email: 'olga@example.test',
      password: PASSWORD,
      displayName: 'Olga Other',
    });
    expect(acc.statusCode, acc.body).toBe(200);
    olga = await enrol(h, cookiesOf(acc));

    const res = await post(app, `${API}/incidents`, cora.browser, {
      title: 'Stolen prescriber password',
      summary: 'A prescriber reported a phishing page that captured the password.',
      category: 'credential_theft',
      severity: 'high',
      discoveredAt: h.clock.now().toISOString(),
      roles: { incident_commander: cora.userId, security_lead: carl.userId },
    });
    expect(res.statusCode, res.body).toBe(201);
    incidentId = res.json<{ id: string }>().id;
  }, 180_000);
  afterAll(async () => {
    await app.close();
    await h.close();
  });

  it('opens the incident with its playbook checklist and first timeline entry', async () => {
    const res = await get(app, `${API}/incidents/${incidentId}`, cora.browser);
    expect(res.statusCode, res.body).toBe(200);
    const inc = res.json<{
      category: string;
      current: { status: string; roles: Record<string, string>; version: number };
      checklistItems: { key: string; done: boolean }[];
      timeline: { kind: string; entry: number }[];
    }>();
    expect(inc.category).toBe('credential_theft');
    expect(inc.current).toMatchObject({
      status: 'open',
      version: 1,
      roles: { incident_commander: cora.userId },
    });
    expect(inc.checklistItems.map((i) => i.key)).toContain('end_sessions');
    expect(inc.timeline).toEqual([expect.objectContaining({ kind: 'created', entry: 1 })]);
    const ticked = await put(
      cora.browser,
      `${API}/incidents/${incidentId}/checklist/scope_accounts`,
      {
        done: true,
      },
    );
    expect(ticked.statusCode, ticked.body).toBe(200);
    expect(
      ticked.json<{ items: { key: string; done: boolean; by: string | null }[] }>().items[0],
    ).toMatchObject({
      key: 'scope_accounts',
      done: true,
      by: cora.userId,
    });
    expect(
      (
        await put(cora.browser, `${API}/incidents/${incidentId}/checklist/no_such_item`, {
          done: true,
        })
      ).statusCode,
    ).toBe(404);
  });

  it('a containment action taken from the incident ends the user’s sessions (the old session then fails) and is audited', async () => {
    expect((await get(h.app, '/api/v1/test/full', pat.browser)).statusCode).toBe(200);
    // A fresh second factor is required for containment.
    const bare = await contain(cora.browser, { action: 'end_sessions', userId: pat.userId });
    expect(bare.statusCode).toBe(403);
    expect(bare.json<{ code: string }>().code).toBe('step_up_required');
    await stepUp(cora);
    const res = await contain(cora.browser, {
      action: 'end_sessions',
      userId: pat.userId,
      note: 'password captured by a phishing page',
    });
    expect(res.statusCode, res.body).toBe(200);
    const result = res.json<{
      action: string;
      target: string;
      endedSessions: number;
      entry: { entry: number };
    }>();
    expect(result).toMatchObject({ action: 'end_sessions', target: pat.userId });
    expect(result.endedSessions).toBeGreaterThanOrEqual(1);
    // The request with the old session now fails.
    expect((await get(h.app, '/api/v1/test/full', pat.browser)).statusCode).toBe(401);
    expect((await get(app, `${API}/incidents`, pat.browser)).statusCode).toBe(401);
    const sessions = await h.p.db.withTenant(
      asTenantId(tenant),
      async (tx) =>
        (
          await tx.query<{ live: number; incident: number }>(
            `SELECT count(*) FILTER (WHERE revoked_at IS NULL)::int AS live,
                  count(*) FILTER (WHERE revoke_reason = 'incident')::int AS incident
             FROM sessions WHERE user_id = $1`,
            [pat.userId],
          )
        ).rows[0],
    );
    expect(sessions).toEqual({ live: 0, incident: result.endedSessions });
    // Audited, with the incident and the user as subjects, and on the incident timeline.
    const audit = (await auditOf(h.p.db, asTenantId(tenant))).filter(
      (a) => a.action === 'compliance.incident.containment',
    );
    expect(audit).toEqual([
      expect.objectContaining({
        outcome: 'success',
        subjects: [
          { type: 'incident', id: incidentId },
          { type: 'user', id: pat.userId },
        ],
        details: expect.objectContaining({
          containment: 'end_sessions',
          target: pat.userId,
          endedSessions: result.endedSessions,
          entry: result.entry.entry,
        }) as unknown,
      }),
    ]);
    const inc = (await get(app, `${API}/incidents/${incidentId}`, cora.browser)).json<{
      timeline: { kind: string; text: string | null; details: Record<string, unknown> }[];
    }>();
    expect(inc.timeline.at(-1)).toMatchObject({
      kind: 'containment',
      text: 'password captured by a phishing page',
      details: { containment: 'end_sessions', target: pat.userId },
    });
    // Pat signs in again later: the incident ended sessions, not the account.
    const again = await login(h, 'pat@example.test', { totp: codeFor(pat.secret, h.clock) });
    expect(again.statusCode, again.body).toBe(200);
    pat = { ...pat, browser: cookiesOf(again) };
    h.clock.advance(30_000);
  });

  it('disables an account, suspends an integration and requests a dual-control key rotation, each on the timeline', async () => {
    await stepUp(cora);
    const disabled = await contain(cora.browser, { action: 'disable_account', userId: mal.userId });
    expect(disabled.statusCode, disabled.body).toBe(200);
    expect((await get(h.app, '/api/v1/test/full', mal.browser)).statusCode).toBe(401);
    const relogin = await login(h, 'mal@example.test', { totp: codeFor(mal.secret, h.clock) });
    expect(relogin.statusCode).toBe(401);

    await stepUp(cora);
    const self = await contain(cora.browser, { action: 'disable_account', userId: cora.userId });
    expect(self.statusCode).toBe(403);
    expect(self.json<{ detail: string }>().detail).toBe('self');

    await stepUp(cora);
    const missingTarget = await contain(cora.browser, { action: 'end_sessions' });
    expect(missingTarget.statusCode).toBe(400);

    // A real, enabled PHI integration under a BAA: the send gate lets it through until contained.
    const t = asTenantId(tenant);
    const { vendorId, integrationId } = await vendorWithIntegration(h.p.compliance, t, {
      effective: '2026-01-01',
      expiry: null,
    });
    await h.p.compliance.integrations.enable(t, integrationId, {
      kind: 'user',
      userId: carl.userId,
    });
    const gate = () =>
      h.p.db.withTenant(t, (tx) =>
        h.p.compliance.gate.requireEnabled(tx, t, 'pharmacy_network', `acme-${vendorId}`),
      );
    await expect(gate()).resolves.toMatchObject({ id: integrationId, status: 'enabled' });
    // Unknown (or another tenant's) integration: 404 and nothing recorded.
    for (const unknown of [randomUUID(), 'surescripts-east']) {
      await stepUp(cora);
      const missing = await contain(cora.browser, {
        action: 'suspend_integration',
        integrationId: unknown,
      });
      expect(missing.statusCode, missing.body).toBe(404);
    }
    await stepUp(cora);
    const noTarget = await contain(cora.browser, { action: 'suspend_integration' });
    expect(noTarget.statusCode).toBe(400);
    expect(noTarget.json<{ detail: string }>().detail).toBe('integrationId');

    await stepUp(cora);
    const suspended = await contain(cora.browser, {
      action: 'suspend_integration',
      integrationId: integrationId.toUpperCase(),
    });
    expect(suspended.statusCode, suspended.body).toBe(200);
    expect(suspended.json<{ target: string }>().target).toBe(integrationId);
    expect(await h.p.compliance.integrations.get(t, integrationId)).toMatchObject({
      status: 'suspended',
      statusReason: `incident ${incidentId}`,
    });
    await expect(gate()).rejects.toMatchObject({
      detail: expect.stringMatching(/^integration_suspended/) as unknown,
    });
    const suspension = (await auditOf(h.p.db, t)).filter(
      (a) => a.action === 'compliance.integration.suspend',
    );
    expect(suspension).toEqual([
      expect.objectContaining({ actor_kind: 'user', actor_user_id: cora.userId }),
    ]);

    await stepUp(cora);
    const rotation = await contain(cora.browser, { action: 'rotate_keys' });
    expect(rotation.statusCode, rotation.body).toBe(200);
    const requestId = rotation.json<{ keyRequestId: string }>().keyRequestId;
    const pending = (await h.p.keyAdmin.list()).find((r) => r.id === requestId);
    expect(pending).toMatchObject({
      operation: 'rotate_kek',
      status: 'pending',
      requestedBy: cora.userId,
      params: { reason: 'incident', incidentId, tenantId: tenant },
    });
    // Dual control stands: the requester cannot approve it.
    await expect(h.p.keyAdmin.approve(requestId, cora.userId)).rejects.toMatchObject({
      code: 'forbidden',
    });

    // Another tenant's user is not found, like a missing one.
    await stepUp(cora);
    const foreign = await contain(cora.browser, { action: 'end_sessions', userId: olga.userId });
    expect(foreign.statusCode).toBe(404);

    const audit = (await auditOf(h.p.db, asTenantId(tenant)))
      .filter((a) => a.action === 'compliance.incident.containment')
      .map((a) => a.details.containment);
    expect(audit).toEqual([
      'end_sessions',
      'disable_account',
      'suspend_integration',
      'rotate_keys',
    ]);
    const timeline = (await get(app, `${API}/incidents/${incidentId}`, cora.browser))
      .json<{ timeline: { kind: string; details: Record<string, unknown> }[] }>()
      .timeline.filter((e) => e.kind === 'containment');
    expect(timeline.map((e) => e.details.containment)).toEqual(audit);
    expect(timeline.at(-1)?.details.keyRequestId).toBe(requestId);
  });

  it('roles: the auditor reads but cannot change, support gets 403, another tenant’s incident is 404', async () => {
    expect((await get(app, `${API}/incidents`, undefined)).statusCode).toBe(401);
    // Auditor: read-only.
    expect((await get(app, `${API}/incidents`, auditor.browser)).statusCode).toBe(200);
    expect((await get(app, `${API}/incidents/${incidentId}`, auditor.browser)).statusCode).toBe(
      200,
    );
    expect((await get(app, `${API}/risks`, auditor.browser)).statusCode).toBe(200);
    expect((await get(app, `${API}/reports/risk`, auditor.browser)).statusCode).toBe(200);
    expect((await get(app, `${API}/policies`, auditor.browser)).statusCode).toBe(200);
    expect(
      (await get(app, `${API}/incidents/${incidentId}/breach`, auditor.browser)).statusCode,
    ).toBe(200);
    const auditorWrites = [
      post(app, `${API}/incidents`, auditor.browser, {
        title: 'x',
        summary: '',
        category: 'other',
        severity: 'low',
        discoveredAt: h.clock.now().toISOString(),
      }),
      post(app, `${API}/incidents/${incidentId}/notes`, auditor.browser, { text: 'note' }),
      contain(auditor.browser, { action: 'end_sessions', userId: pat.userId }),
      post(app, `${API}/incidents/${incidentId}/evidence`, auditor.browser, {
        fromSeq: 0,
        toSeq: 1,
      }),
      put(auditor.browser, `${API}/incidents/${incidentId}/checklist/scope_accounts`, {
        done: false,
      }),
      post(app, `${API}/training`, auditor.browser, {
        userId: pat.userId,
        course: 'hipaa-awareness',
        completedOn: '2026-01-10',
        expiresOn: null,
      }),
    ];
    for (const res of await Promise.all(auditorWrites)) {
      expect(res.statusCode, res.body).toBe(403);
      expect(res.json<{ code: string }>().code).toBe('forbidden');
    }
    // Support (user administration helpers) sees none of it.
    for (const url of [
      `${API}/incidents`,
      `${API}/incidents/${incidentId}`,
      `${API}/risks`,
      `${API}/reports/risk.html`,
      `${API}/policies`,
      `${API}/training`,
      `${API}/playbooks`,
    ]) {
      expect((await get(app, url, support.browser)).statusCode, url).toBe(403);
    }
    // Another tenant's compliance officer: 404, exactly as for an id that does not exist.
    const foreign = await get(app, `${API}/incidents/${incidentId}`, olga.browser);
    const missing = await get(app, `${API}/incidents/${randomUUID()}`, olga.browser);
    expect(foreign.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    expect(foreign.json<{ code: string; title: string }>()).toMatchObject({
      code: missing.json<{ code: string }>().code,
      title: missing.json<{ title: string }>().title,
    });
    expect((await get(app, `${API}/incidents/${incidentId}/breach`, olga.browser)).statusCode).toBe(
      404,
    );
    expect(
      (await get(app, `${API}/incidents/${incidentId}/breach/letter`, olga.browser)).statusCode,
    ).toBe(404);
    expect(
      (await post(app, `${API}/incidents/${incidentId}/notes`, olga.browser, { text: 'mine now' }))
        .statusCode,
    ).toBe(404);
    await stepUp(olga);
    expect(
      (
        await post(app, `${API}/incidents/${incidentId}/containment`, olga.browser, {
          action: 'rotate_keys',
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (await get(app, `${API}/incidents`, olga.browser)).json<{ incidents: unknown[] }>().incidents,
    ).toEqual([]);
  });

  it('preserves an audit range with the signed checkpoint and inclusion proofs that verify offline', async () => {
    const records = (await auditOf(h.p.db, asTenantId(tenant))).filter(
      (a) => a.action === 'compliance.incident.containment',
    );
    const fromSeq = records[0]!.seq;
    const toSeq = records.at(-1)!.seq + 1;
    const early = await post(app, `${API}/incidents/${incidentId}/evidence`, cora.browser, {
      fromSeq,
      toSeq,
    });
    expect(early.statusCode).toBe(409);
    expect(early.json<{ detail: string }>().detail).toBe('checkpoint');
    const signer = testSigner(ORIGIN);
    const cp = await createCheckpoint(h.p.db, signer, ORIGIN, { clock: h.clock });
    expect(cp?.treeSize).toBeGreaterThan(toSeq - 1);
    const res = await post(app, `${API}/incidents/${incidentId}/evidence`, cora.browser, {
      fromSeq,
      toSeq,
      note: 'containment actions',
    });
    expect(res.statusCode, res.body).toBe(201);
    const evidence = res.json<{
      id: string;
      records: number;
      checkpointSize: number;
      checkpoint: string;
      proofs: { leafIndex: number; checkpoint: string }[];
    }>();
    // Only this tenant's records in the range (other tenants' are skipped, never proved).
    const ours = (await auditOf(h.p.db, asTenantId(tenant))).filter(
      (a) => a.seq >= fromSeq && a.seq < toSeq,
    );
    expect(evidence.records).toBe(ours.length);
    expect(evidence.proofs.map((p) => p.leafIndex)).toEqual(ours.map((a) => a.seq));
    expect(evidence.checkpointSize).toBe(cp?.treeSize);
    for (const proof of evidence.proofs) {
      expect(proof.checkpoint).toBe(evidence.checkpoint);
      const verified = verifyInclusionBundle(proof, signer.publicKey);
      expect(verified.treeSize).toBe(cp?.treeSize);
    }
    const again = await get(
      app,
      `${API}/incidents/${incidentId}/evidence/${evidence.id}`,
      auditor.browser,
    );
    expect(again.statusCode).toBe(200);
    expect(again.json<{ proofs: unknown[]; note: string }>()).toMatchObject({
      proofs: expect.any(Array) as unknown,
      note: 'containment actions',
    });
    expect(again.json<{ proofs: unknown[] }>().proofs).toHaveLength(evidence.records);
    // The note is sealed at rest (incident-narrative.ts): the column holds no plaintext.
    const stored = await h.p.db.withTenant(asTenantId(tenant), (tx) =>
      tx.query<{ note: Buffer }>('SELECT note FROM compliance_incident_evidence WHERE id = $1', [
        evidence.id,
      ]),
    );
    expect(stored.rows[0]?.note.toString('latin1')).not.toContain('containment actions');
    expect(
      (await get(app, `${API}/incidents/${incidentId}/evidence/${evidence.id}`, olga.browser))
        .statusCode,
    ).toBe(404);
    const detail = (await get(app, `${API}/incidents/${incidentId}`, cora.browser)).json<{
      evidence: { id: string }[];
      timeline: { kind: string }[];
    }>();
    expect(detail.evidence.map((e) => e.id)).toEqual([evidence.id]);
    expect(detail.timeline.at(-1)?.kind).toBe('evidence');
    // A range holding none of this tenant's records is refused.
    const empty = await post(app, `${API}/incidents/${incidentId}/evidence`, cora.browser, {
      fromSeq: toSeq + 1_000_000,
      toSeq: toSeq + 1_000_001,
    });
    expect(empty.statusCode).toBe(400);
  });

  it('records the four-factor assessment, shows the clock, drafts the letter with placeholders', async () => {
    const today = h.clock.now().toISOString().slice(0, 10);
    const factor = (rating: string, rationale: string) => ({ rating, rationale });
    const base = {
      factors: {
        natureAndExtent: factor(
          'high',
          'Names, dates of birth and medication lists were reachable.',
        ),
        unauthorizedPerson: factor('high', 'An unknown external party.'),
        acquiredOrViewed: factor('moderate', 'Audit shows 612 patient records opened.'),
        mitigation: factor('moderate', 'Sessions ended within the hour; password reset.'),
      },
      decision: 'breach',
      exception: null,
      rationale: 'PHI was viewed by an unauthorized person; low probability cannot be shown.',
      role: 'covered_entity',
      discoveredOn: today,
      occurredFrom: today,
      occurredTo: null,
      affectedByJurisdiction: { CA: 501, NV: 111 },
      phiTypes: ['full_name', 'date_of_birth', 'medications'],
      notice: null,
    };
    // Low probability of compromise cannot stand on a factor rated high.
    const lopro = await post(
      app,
      `${API}/incidents/${incidentId}/breach/assessments`,
      cora.browser,
      {
        ...base,
        decision: 'low_probability',
        baseVersion: 0,
      },
    );
    expect(lopro.statusCode).toBe(400);
    expect(lopro.json<{ detail: string }>().detail).toBe('decision');
    const v1 = await post(app, `${API}/incidents/${incidentId}/breach/assessments`, cora.browser, {
      ...base,
      baseVersion: 0,
    });
    expect(v1.statusCode, v1.body).toBe(200);
    const view = v1.json<{
      assessment: { version: number; affectedTotal: number };
      deadlines: {
        recipient: string;
        jurisdiction: string | null;
        dueOn: string;
        daysLeft: number;
      }[];
      missingNoticeElements: string[];
    }>();
    expect(view.assessment).toMatchObject({ version: 1, affectedTotal: 612 });
    expect(view.deadlines.map((d) => [d.recipient, d.jurisdiction, d.daysLeft])).toEqual([
      ['individuals', null, 60],
      ['hhs', null, 60],
      ['media', 'CA', 60],
    ]);
    expect(view.missingNoticeElements).toContain('whatHappened');
    const noLetter = await get(app, `${API}/incidents/${incidentId}/breach/letter`, cora.browser);
    expect(noLetter.statusCode).toBe(409);

    const v2 = await post(app, `${API}/incidents/${incidentId}/breach/assessments`, cora.browser, {
      ...base,
      baseVersion: 1,
      notice: {
        whatHappened:
          'A prescriber’s password was captured by a fake sign-in page and used to open patient records.',
        stepsIndividualsShouldTake:
          'Review the explanation of benefits you receive and tell us about anything you do not recognise.',
        whatWeAreDoing:
          'We ended the sessions, reset the password, and are adding phishing-resistant sign-in.',
        contact: { tollFreeNumber: '1-800-555-0134', email: 'privacy@clinic.example' },
      },
    });
    expect(v2.statusCode, v2.body).toBe(200);
    const stale = await post(
      app,
      `${API}/incidents/${incidentId}/breach/assessments`,
      cora.browser,
      {
        ...base,
        baseVersion: 1,
      },
    );
    expect(stale.statusCode).toBe(409);
    const letter = await get(app, `${API}/incidents/${incidentId}/breach/letter`, auditor.browser);
    expect(letter.statusCode, letter.body).toBe(200);
    const draft = letter.json<{
      body: string;
      placeholders: string[];
      elements: { citation: string }[];
    }>();
    expect(draft.placeholders).toEqual([
      '{{letter_date}}',
      '{{recipient_name}}',
      '{{recipient_address}}',
    ]);
    expect(draft.body).toContain('Dear {{recipient_name}},');
    expect(draft.body).toContain(`We discovered it on ${today}.`);
    expect(draft.body).toContain('full name; date of birth; medications and prescription details');
    expect(draft.body).toContain('Call us toll-free at 1-800-555-0134');
    expect(draft.elements.map((e) => e.citation)).toEqual([
      '45 CFR 164.404(c)(1)(A)',
      '45 CFR 164.404(c)(1)(B)',
      '45 CFR 164.404(c)(1)(C)',
      '45 CFR 164.404(c)(1)(D)',
      '45 CFR 164.404(c)(1)(E)',
    ]);
    // Nothing of the letter reaches the logs.
    expect(logs.text).not.toContain('fake sign-in page');
    expect(logs.text).not.toContain('1-800-555-0134');

    const notice = await post(app, `${API}/incidents/${incidentId}/breach/notices`, cora.browser, {
      recipient: 'media',
      jurisdiction: 'CA',
      sentOn: today,
      method: 'press release to outlets serving California',
    });
    expect(notice.statusCode, notice.body).toBe(201);
    const wrong = await post(app, `${API}/incidents/${incidentId}/breach/notices`, cora.browser, {
      recipient: 'media',
      jurisdiction: 'NV',
      sentOn: today,
      method: 'press release',
    });
    expect(wrong.statusCode).toBe(409);
    const after = (await get(app, `${API}/incidents/${incidentId}/breach`, cora.browser)).json<{
      deadlines: { recipient: string; state: string }[];
    }>();
    expect(after.deadlines.find((d) => d.recipient === 'media')?.state).toBe('met');
    const actions = (await auditActions(h, tenant)).map((a) => a.action);
    expect(actions.filter((a) => a === 'compliance.breach.assess')).toHaveLength(2);
    expect(actions).toContain('compliance.breach.notice');
  });

  it('policy approval by its author is refused (and audited); another officer approves; members acknowledge', async () => {
    const today = h.clock.now().toISOString().slice(0, 10);
    const created = await post(app, `${API}/policies`, cora.browser, {
      key: 'access-control',
      title: 'Access control policy',
      body: 'Access to PHI is granted by role and relationship, reviewed quarterly.',
      effectiveDate: today,
      reviewCycleMonths: 12,
    });
    expect(created.statusCode, created.body).toBe(201);
    const policy = created.json<{
      id: string;
      latest: { version: number; authorId: string; acknowledgementDays: number };
    }>();
    expect(policy.latest).toMatchObject({
      version: 1,
      authorId: cora.userId,
      acknowledgementDays: 30,
    });
    const self = await post(app, `${API}/policies/${policy.id}/versions/1/approve`, cora.browser);
    expect(self.statusCode).toBe(403);
    expect(self.json<{ detail: string }>().detail).toBe('author');
    const denied = (await auditActions(h, tenant)).filter(
      (a) => a.action === 'compliance.policy.approve' && a.outcome === 'denied',
    );
    expect(denied).toEqual([
      expect.objectContaining({ details: { version: 1, reason: 'author_cannot_approve' } }),
    ]);
    // Not before approval: members see nothing to acknowledge, and cannot acknowledge a draft.
    expect(
      (await get(app, '/api/v1/me/policies', pat.browser)).json<{ policies: unknown[] }>().policies,
    ).toEqual([]);
    expect(
      (await post(app, `/api/v1/me/policies/${policy.id}/versions/1/acknowledge`, pat.browser))
        .statusCode,
    ).toBe(404);
    const ok = await post(app, `${API}/policies/${policy.id}/versions/1/approve`, carl.browser);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(
      ok.json<{ effective: { version: number; approvedBy: string } }>().effective,
    ).toMatchObject({
      version: 1,
      approvedBy: carl.userId,
    });
    expect(
      (await post(app, `${API}/policies/${policy.id}/versions/1/approve`, carl.browser)).statusCode,
    ).toBe(409);
    const mine = (await get(app, '/api/v1/me/policies', pat.browser)).json<{
      policies: { policyId: string; acknowledgedAt: string | null }[];
    }>().policies;
    expect(mine).toEqual([expect.objectContaining({ policyId: policy.id, acknowledgedAt: null })]);
    const ack = await post(
      app,
      `/api/v1/me/policies/${policy.id}/versions/1/acknowledge`,
      pat.browser,
    );
    expect(ack.statusCode, ack.body).toBe(200);
    const detail = (await get(app, `${API}/policies/${policy.id}`, cora.browser)).json<{
      missingAcknowledgements: string[];
      acknowledgements: { acknowledged: number };
    }>();
    expect(detail.missingAcknowledgements).not.toContain(pat.userId);
    expect(detail.missingAcknowledgements).toContain(cora.userId);
    expect(detail.acknowledgements.acknowledged).toBe(1);
    // The other tenant sees no such policy.
    expect((await get(app, `${API}/policies/${policy.id}`, olga.browser)).statusCode).toBe(404);
    expect(
      (await post(app, `/api/v1/me/policies/${policy.id}/versions/1/acknowledge`, olga.browser))
        .statusCode,
    ).toBe(404);
  });

  it('serves the HTML risk report with every typed value escaped', async () => {
    const gateway = await h.p.compliance.inventory.createAsset(
      asTenantId(tenant),
      {
        kind: 'endpoint',
        name: 'Pharmacy gateway',
        description: '',
        owner: 'IT',
        phiClassification: 'ephi',
      },
      { kind: 'user', userId: cora.userId },
    );
    const statement = {
      title: '<script>alert(document.cookie)</script>',
      threat: '"><img src=x onerror=alert(1)>',
      vulnerability: 'x',
      likelihood: 3,
      impact: 4,
      residualLikelihood: 2,
      residualImpact: 2,
      ownerId: carl.userId,
      treatment: 'mitigate',
      controlIds: [],
      acceptanceCriteria: '',
      dueDate: null,
      status: 'open',
    };
    // A reference that is not an inventory asset of this tenant: 400 naming the field, no risk.
    for (const ref of ['gw-1', randomUUID()]) {
      const bad = await post(app, `${API}/risks`, cora.browser, { ...statement, assetRefs: [ref] });
      expect(bad.statusCode, bad.body).toBe(400);
      expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(bad.json<{ detail: string }>().detail).toBe('assetRefs');
    }
    const none = (await get(app, `${API}/risks`, cora.browser)).json<{ risks: unknown[] }>();
    expect(none.risks).toEqual([]);
    const created = await post(app, `${API}/risks`, cora.browser, {
      ...statement,
      assetRefs: [gateway.id],
    });
    expect(created.statusCode, created.body).toBe(201);
    const res = await get(app, `${API}/reports/risk.html`, auditor.browser);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.body).toContain('&lt;script&gt;alert(document.cookie)&lt;/script&gt;');
    expect(res.body).not.toContain('<script');
    const report = (await get(app, `${API}/reports/risk`, auditor.browser)).json<{
      heatMap: { inherent: number[][] };
      totals: { risks: number };
    }>();
    expect(report.totals.risks).toBe(1);
    expect(report.heatMap.inherent[2]?.[3]).toBe(1);
  });

  it('documents every route in a valid OpenAPI 3.1 document with its permission', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const doc = res.json<{ paths: Record<string, Record<string, { 'x-permission'?: string }>> }>();
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    const ours = app.scripRoutes.filter(
      (r) => r.url.startsWith(API) || r.url.startsWith('/api/v1/me/'),
    );
    expect(ours.length).toBeGreaterThan(30);
    for (const r of ours) {
      const expected = r.method === 'GET' ? 'compliance.read' : 'compliance.manage';
      if (r.url.startsWith('/api/v1/me/')) expect(r.permission, r.url).toBe('authenticated');
      else expect(r.permission, `${r.method} ${r.url}`).toBe(expected);
      expect(
        doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()]?.['x-permission'],
      ).toBe(r.permission);
    }
  });
});
