import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PLATFORM_CHECKS } from '../../src/compliance/control-checks-platform.js';
import type { ControlDeps } from '../../src/compliance/control-ports.js';
import { demoDea } from '../../src/cli/demo-seed.js';
import { rxCommand } from '../../src/cli/rx.command.js';
import { findingKey } from '../../src/prescribing/prescription.audit.js';
import { get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { assertValidFhir } from '../fhir.js';
import {
  clinic,
  draftBody,
  DRUGS,
  grantEpcs,
  patientWithTeam,
  plainUser,
  proofedPrescriber,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

const DOC = practitioner('Okafor', '123456789', '123456');
const APPROVER = practitioner('Appel', '177777777', '888888');
const MARSH = practitioner('Marsh', '144444444', '555555');
const MARSH_SECOND = { ...MARSH, dea: demoDea('Marsh', '565656') };

describe('prescriptions: non-controlled signing, safety overrides, DEA choice, FHIR, logs, verification', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  let marsh: Person;
  let pharmacist: Person;

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC, APPROVER, MARSH], [MARSH_SECOND]);
    const approver = await proofedPrescriber(h, c, APPROVER, 'appel@example.test');
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    await grantEpcs(h, c, approver, doc.userId);
    marsh = await proofedPrescriber(h, c, MARSH, 'marsh@example.test', [
      MARSH.dea,
      MARSH_SECOND.dea,
    ]);
    await grantEpcs(h, c, approver, marsh.userId);
    pharmacist = await plainUser(h, c, 'pharm@example.test', ['pharmacist']);
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  async function draftReady(body: Record<string, unknown>): Promise<string> {
    const d = await post(h.app, '/api/v1/prescriptions', doc.browser, body);
    expect(d.statusCode, d.body).toBe(201);
    const id = d.json<{ id: string }>().id;
    expect(
      (await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {})).statusCode,
    ).toBe(200);
    return id;
  }

  it('signs a non-controlled prescription only after a fresh rx.sign step-up; a controlled one is refused there', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await draftReady(draftBody(patientId, DRUGS.amoxicillin, { refills: 1 }));
    const bare = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: 'step_up_required' });
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const signed = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
    expect(signed.statusCode, signed.body).toBe(200);
    expect(signed.json()).toMatchObject({ prescription: { status: 'queued', refills: 1 } });
    const again = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
    expect(again.statusCode).toBe(403); // the step-up was single use

    const cs = await draftReady(draftBody(patientId, DRUGS.oxycodone));
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const viaPlain = await post(h.app, `/api/v1/prescriptions/${cs}/sign`, doc.browser);
    expect(viaPlain.statusCode).toBe(409);
    expect(viaPlain.json()).toMatchObject({ detail: 'controlled' });

    // CLI: verify the saved JWS offline against the saved JWKS.
    const dir = mkdtempSync(join(tmpdir(), 'scrip-rx-'));
    const jwks = await get(h.app, '/.well-known/jwks.json', undefined);
    writeFileSync(join(dir, 'jwks.json'), jwks.body);
    writeFileSync(
      join(dir, 'rx.json'),
      JSON.stringify({ jws: signed.json<{ jws: string }>().jws }),
    );
    const jws = signed.json<{ jws: string }>().jws;
    const [head = '', , sig = ''] = jws.split('.');
    writeFileSync(
      join(dir, 'forged.jws'),
      `${head}.${Buffer.from('{"format":"scrip-rx/1"}').toString('base64url')}.${sig}`,
    );
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(
        await rxCommand('verify', [join(dir, 'rx.json')], { jwks: join(dir, 'jwks.json') }),
      ).toBe(0);
      expect(
        await rxCommand('verify', [join(dir, 'forged.jws')], { jwks: join(dir, 'jwks.json') }),
      ).toBe(1);
    } finally {
      out.mockRestore();
    }
  });

  it('safety findings are shown, must be overridden with a reason, and the override is recorded and audited', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    h.safety.findings = [
      { kind: 'allergy', severity: 'high', message: 'Patient allergic to penicillins' },
      { kind: 'info', severity: 'info', message: 'Take with food' },
    ];
    try {
      const d = await post(
        h.app,
        '/api/v1/prescriptions',
        doc.browser,
        draftBody(patientId, DRUGS.amoxicillin),
      );
      const id = d.json<{ id: string }>().id;
      const shown = await get(h.app, `/api/v1/prescriptions/${id}/safety-checks`, doc.browser);
      const findings = shown.json<{ findings: { key: string; severity: string }[] }>().findings;
      expect(findings).toHaveLength(2);
      const key = findings.find((f) => f.severity === 'high')?.key ?? '';
      expect(key).toBe(
        findingKey({
          kind: 'allergy',
          severity: 'high',
          message: 'Patient allergic to penicillins',
        }),
      );
      const refused = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {});
      expect(refused.statusCode).toBe(409);
      expect(refused.json<{ detail: string }>().detail).toBe(`safety:${key}`);
      const ok = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {
        overrides: [{ key, reason: 'Tolerated amoxicillin in 2024 without reaction' }],
      });
      expect(ok.statusCode, ok.body).toBe(200);
      expect(ok.json<{ findings: unknown[] }>().findings).toContainEqual(
        expect.objectContaining({
          key,
          overrideReason: 'Tolerated amoxicillin in 2024 without reaction',
        }),
      );
      // A new finding after the review blocks signing.
      h.safety.findings = [
        ...h.safety.findings,
        { kind: 'interaction', severity: 'warning', message: 'New interaction' },
      ];
      expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
      const blocked = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
      expect(blocked.statusCode).toBe(409);
      const audit = await h.p.db.withTenant(
        c.tenant,
        async (tx) =>
          (
            await tx.query<{ details: Record<string, unknown> }>(
              `SELECT details FROM audit_log WHERE action = 'prescription.ready' AND subjects @> $1::jsonb`,
              [JSON.stringify([{ type: 'prescription', id }])],
            )
          ).rows,
      );
      expect(audit).toEqual([
        { details: { findings: 2, overridden: 1, overriddenKinds: 'allergy' } },
      ]);
      expect(JSON.stringify(audit)).not.toContain('Tolerated');
    } finally {
      h.safety.findings = [];
    }
  });

  it('a prescriber with several DEA registrations must choose one; the choice is printed on the review', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [marsh.userId]);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      marsh.browser,
      draftBody(patientId, DRUGS.oxycodone),
    );
    const id = d.json<{ id: string }>().id;
    const unchosen = await post(h.app, `/api/v1/prescriptions/${id}/ready`, marsh.browser, {});
    expect(unchosen.statusCode).toBe(400);
    expect(unchosen.json()).toMatchObject({ detail: 'deaNumber_choice' });
    const foreign = await post(h.app, `/api/v1/prescriptions/${id}/ready`, marsh.browser, {
      deaNumber: DOC.dea,
    });
    expect(foreign.statusCode).toBe(400);
    const chosen = await post(h.app, `/api/v1/prescriptions/${id}/ready`, marsh.browser, {
      deaNumber: MARSH_SECOND.dea,
    });
    expect(chosen.statusCode, chosen.body).toBe(200);
    const review = await get(h.app, `/api/v1/patients/${patientId}/epcs-review`, marsh.browser);
    expect(review.json<{ deaNumbers: string[]; items: { deaNumber: string }[] }>()).toMatchObject({
      deaNumbers: [MARSH.dea, MARSH_SECOND.dea].sort(),
      items: [{ deaNumber: MARSH_SECOND.dea }],
    });
    expect(await stepUp(h, marsh, 'rx.sign.controlled')).toBe(200);
    const signed = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, marsh.browser, {
      prescriptionIds: [id],
      deaNumber: MARSH_SECOND.dea,
    });
    expect(signed.statusCode, signed.body).toBe(200);
  });

  it('a patient without an address cannot get a controlled prescription ready (21 CFR 1306.05(a))', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId], null);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.oxycodone),
    );
    const res = await post(
      h.app,
      `/api/v1/prescriptions/${d.json<{ id: string }>().id}/ready`,
      doc.browser,
      {},
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ detail: 'missing:patient.address' });
  });

  it('Schedule II series: a second prescription of the same visit needs an earliest fill date, at most 90 days in all', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const body = (extra: Record<string, unknown>) =>
      draftBody(patientId, DRUGS.oxycodone, {
        daysSupply: 30,
        quantity: { value: 120, unit: 'tablet' },
        ...extra,
      });
    expect((await post(h.app, '/api/v1/prescriptions', doc.browser, body({}))).statusCode).toBe(
      201,
    );
    const noDate = await post(h.app, '/api/v1/prescriptions', doc.browser, body({}));
    expect(noDate.statusCode).toBe(400);
    expect(noDate.json()).toMatchObject({ detail: 'earliestFillDate' });
    expect(
      (
        await post(
          h.app,
          '/api/v1/prescriptions',
          doc.browser,
          body({ earliestFillDate: '2026-03-31' }),
        )
      ).statusCode,
    ).toBe(201);
    expect(
      (
        await post(
          h.app,
          '/api/v1/prescriptions',
          doc.browser,
          body({ earliestFillDate: '2026-04-30' }),
        )
      ).statusCode,
    ).toBe(201);
    const fourth = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      body({ earliestFillDate: '2026-05-30' }),
    );
    expect(fourth.statusCode).toBe(400);
    expect(fourth.json()).toMatchObject({ detail: 'daysSupply' });
  });

  it('FHIR: MedicationRequest and the Provenance carrying the JWS pass the independent validator; the pharmacist view omits the diagnosis', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId, pharmacist.userId]);
    const id = await draftReady(
      draftBody(patientId, DRUGS.amoxicillin, {
        diagnosis: { code: 'J02.9', display: 'Acute pharyngitis' },
        notesToPharmacist: 'Dispense in original packaging',
        earliestFillDate: '2026-03-02',
      }),
    );
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const signed = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
    const jws = signed.json<{ jws: string }>().jws;
    const mr = await get(h.app, `/fhir/R4/MedicationRequest/${id}`, doc.browser);
    expect(mr.statusCode, mr.body).toBe(200);
    expect(mr.headers['content-type']).toContain('application/fhir+json');
    const resource = mr.json<Record<string, unknown>>();
    assertValidFhir(resource);
    expect(resource).toMatchObject({
      resourceType: 'MedicationRequest',
      status: 'active',
      requester: { reference: `Practitioner/${doc.userId}` },
      dispenseRequest: {
        numberOfRepeatsAllowed: 0,
        quantity: { value: 20 },
        validityPeriod: { start: '2026-03-02' },
      },
      substitution: { allowedBoolean: true },
      dosageInstruction: [{ text: expect.stringContaining('Take 1 tablet') as unknown }],
      reasonCode: [{ coding: [{ code: 'J02.9' }] }],
    });
    const prov = await get(
      h.app,
      `/fhir/R4/Provenance?target=MedicationRequest/${id}`,
      doc.browser,
    );
    const bundle = prov.json<{ entry: { resource: Record<string, unknown> }[] }>();
    assertValidFhir(bundle);
    const p = bundle.entry[0]?.resource as { signature: { data: string; sigFormat: string }[] };
    assertValidFhir(p);
    expect(p.signature[0]?.sigFormat).toBe('application/jose');
    expect(Buffer.from(p.signature[0]?.data ?? '', 'base64').toString('utf8')).toBe(jws);
    // The same Provenance read by its id; an unsigned prescription has none (404, like a missing one).
    const read = await get(h.app, `/fhir/R4/Provenance/rx-${id}`, doc.browser);
    expect(read.statusCode, read.body).toBe(200);
    expect(read.headers['content-type']).toContain('application/fhir+json');
    assertValidFhir(read.json());
    expect(read.json()).toEqual(p);
    const unsigned = await draftReady(draftBody(patientId, DRUGS.amoxicillin));
    const none = await get(h.app, `/fhir/R4/Provenance/rx-${unsigned}`, doc.browser);
    expect(none.statusCode).toBe(404);
    expect((await get(h.app, `/fhir/R4/Provenance/${id}`, doc.browser)).statusCode).toBe(404);
    expect((await get(h.app, '/fhir/R4/Provenance/rx-%3Cx%3E', doc.browser)).statusCode).toBe(400);
    const search = await get(h.app, `/fhir/R4/MedicationRequest?patient=${patientId}`, doc.browser);
    assertValidFhir(search.json());

    // The pharmacist (related to the patient) gets the dispensing view: no diagnosis, no findings.
    const asPharmacist = await get(h.app, `/fhir/R4/MedicationRequest/${id}`, pharmacist.browser);
    expect(asPharmacist.json()).not.toHaveProperty('reasonCode');
    assertValidFhir(asPharmacist.json());
    const api = await get(h.app, `/api/v1/prescriptions/${id}`, pharmacist.browser);
    expect(api.json()).not.toHaveProperty('diagnosis');
    expect(api.json()).not.toHaveProperty('findings');
    expect(api.json<{ jws: string }>().jws).toBe(jws);
  });

  it('renew and change are new linked drafts; cancelling a transmitted prescription queues a CancelRx', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await draftReady(draftBody(patientId, DRUGS.amoxicillin));
    const unsigned = await post(h.app, `/api/v1/prescriptions/${id}/renew`, doc.browser, {});
    expect(unsigned.statusCode).toBe(409);
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    expect((await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser)).statusCode).toBe(
      200,
    );
    const renewal = await post(h.app, `/api/v1/prescriptions/${id}/renew`, doc.browser, {});
    expect(renewal.json()).toMatchObject({ kind: 'renewal', previousId: id, status: 'draft' });
    const change = await post(h.app, `/api/v1/prescriptions/${id}/change`, doc.browser, {
      daysSupply: 10,
    });
    expect(change.json()).toMatchObject({ kind: 'change', previousId: id, daysSupply: 10 });
    await h.rx.service.advance(c.tenant, id, 'transmitted', 'network');
    await expect(h.rx.service.advance(c.tenant, id, 'draft', 'network')).rejects.toMatchObject({
      code: 'conflict',
    });
    const cancelled = await post(h.app, `/api/v1/prescriptions/${id}/cancel`, doc.browser);
    expect(cancelled.json()).toMatchObject({ status: 'cancelled' });
    const kinds = await h.p.db.withTenant(c.tenant, async (tx) =>
      (
        await tx.query<{ kind: string }>(
          'SELECT kind FROM outbox WHERE prescription_id = $1 ORDER BY created_at, kind',
          [id],
        )
      ).rows.map((r) => r.kind),
    );
    expect(kinds.sort()).toEqual(['CancelRx', 'NewRx']);
    // The cancellation is in the audit log with the request that made it.
    const audited = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ action: string; request_id: string | null }>(
            `SELECT action, request_id FROM audit_log
            WHERE subjects @> $1::jsonb AND action = 'prescription.cancelled'`,
            [JSON.stringify([{ type: 'prescription', id }])],
          )
        ).rows,
    );
    expect(audited).toEqual([
      { action: 'prescription.cancelled', request_id: cancelled.headers['x-request-id'] },
    ]);
    const twice = await post(h.app, `/api/v1/prescriptions/${id}/cancel`, doc.browser);
    expect(twice.statusCode).toBe(409);
  });

  it('controlled-substance logs: an on-demand report (at most two years, sortable) and the generated monthly log', async () => {
    const report = await get(
      h.app,
      '/api/v1/prescribers/me/controlled-report?from=2026-03-01&to=2026-03-02&sort=drug',
      marsh.browser,
    );
    expect(report.statusCode, report.body).toBe(200);
    const entries = report.json<{ entries: { deaNumber: string; patientName: string }[] }>()
      .entries;
    expect(entries).toEqual([
      expect.objectContaining({ deaNumber: MARSH_SECOND.dea, patientName: 'Rivera, Jordan' }),
    ]);
    const tooLong = await get(
      h.app,
      '/api/v1/prescribers/me/controlled-report?from=2023-01-01&to=2026-03-02',
      marsh.browser,
    );
    expect(tooLong.statusCode).toBe(400);
    const notYet = await get(h.app, '/api/v1/prescribers/me/monthly-logs/2026-03', marsh.browser);
    expect(notYet.statusCode).toBe(404);
    const pharm = await get(
      h.app,
      '/api/v1/prescribers/me/monthly-logs/2026-03',
      pharmacist.browser,
    );
    expect(pharm.statusCode).toBe(403);

    // The compliance control (21 CFR 1311.120(b)(27)) waits until the 7th, then fails while a
    // prescriber's March log is missing; generating it (once) makes it pass.
    const monthlyLogControl = PLATFORM_CHECKS['epcs-monthly-log'];
    if (monthlyLogControl === undefined) throw new TypeError('no epcs-monthly-log check');
    const controlDeps = { db: h.p.db, clock: h.clock } as unknown as ControlDeps;
    h.clock.set(new Date(Date.UTC(2026, 3, 7, 2, 0, 0)));
    expect((await monthlyLogControl(controlDeps, c.tenant)).status).toBe('pass');
    h.clock.set(new Date(Date.UTC(2026, 3, 8, 2, 0, 0)));
    const missing = await monthlyLogControl(controlDeps, c.tenant);
    expect(missing).toMatchObject({ status: 'fail' });
    expect(missing.details).toContain(marsh.userId);
    expect(await h.rx.logs.generateMonthlyLogs({ tenantId: c.tenant })).toBeGreaterThanOrEqual(1);
    expect(await h.rx.logs.generateMonthlyLogs({ tenantId: c.tenant })).toBe(0);
    expect((await monthlyLogControl(controlDeps, c.tenant)).status).toBe('pass');
    const actor = {
      tenantId: c.tenant,
      userId: marsh.userId,
      sessionId: '00000000-0000-0000-0000-000000000000',
      permissions: new Set<string>(),
      roles: ['prescriber'],
    };
    const march = await h.rx.logs.monthly(actor, '2026-03', 'patient', {});
    expect(march).toEqual([
      expect.objectContaining({ deaNumber: MARSH_SECOND.dea, schedule: 'CII' }),
    ]);
  });
});
