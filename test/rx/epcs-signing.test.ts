import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asTenantId } from '../../src/core/index.js';
import { verifyPrescriptionJws } from '../../src/prescribing/canonical-prescription.js';
import { EPCS_ATTESTATION } from '../../src/prescribing/epcs-review.js';
import { PRESCRIPTIONS } from '../../src/prescribing/prescription.repository.js';
import { openRow, sealRow, SHREDDED } from '../../src/crypto/row-cipher.js';
import type { Jwks } from '../../src/crypto/jws.js';
import { cookiesOf, enrol, get, PASSWORD, post, type Browser } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { ownerClient } from '../db.js';
import { ownerUrlOf } from '../identity/harness.js';
import {
  auditOutcomes,
  clinic,
  draftBody,
  DRUGS,
  grantEpcs,
  patientWithTeam,
  plainUser,
  proofedPrescriber,
  readyCs,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

// Harness clock: 2026-03-01T09:00Z.
const DOC = practitioner('Okafor', '123456789', '123456');
const APPROVER = practitioner('Appel', '177777777', '888888');
const NOPERM = practitioner('Nolan', '155555555', '666666');
const LAPSED = practitioner('Lapsley', '166666666', '777777');

async function patch(h: RxHarness, url: string, b: Browser, payload: Record<string, unknown>) {
  return h.app.inject({
    method: 'PATCH',
    url,
    headers: {
      cookie: `__Host-scrip_session=${b.session}; __Host-scrip_csrf=${b.csrf}`,
      'x-csrf-token': b.csrf,
    },
    payload,
  });
}

describe('prescriptions: Schedule II end to end, EPCS signing and its refusals', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  let agent: Person;
  let noperm: Person;
  let lapsed: Person;

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC, APPROVER, NOPERM, LAPSED]);
    const approver = await proofedPrescriber(h, c, APPROVER, 'appel@example.test');
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    await grantEpcs(h, c, approver, doc.userId);
    noperm = await proofedPrescriber(h, c, NOPERM, 'nolan@example.test');
    lapsed = await proofedPrescriber(h, c, LAPSED, 'lapsley@example.test');
    await grantEpcs(h, c, approver, lapsed.userId);
    agent = await plainUser(h, c, 'agent@example.test', ['prescriber_agent']);
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  it('an agent drafts a Schedule II prescription; the prescriber reviews, attests, steps up and signs; the JWS verifies against the JWKS; created/ready/signed are audited with the request ids', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId, agent.userId]);
    const draft = await post(
      h.app,
      '/api/v1/prescriptions',
      agent.browser,
      draftBody(patientId, DRUGS.oxycodone, {
        prescriberId: doc.userId,
        diagnosis: { code: 'M54.50' },
        earliestFillDate: '2026-03-01',
      }),
    );
    expect(draft.statusCode, draft.body).toBe(201);
    const id = draft.json<{ id: string; status: string }>().id;
    expect(draft.json()).toMatchObject({
      status: 'draft',
      deaSchedule: 'CII',
      prescriberId: doc.userId,
    });

    const review = await get(h.app, `/api/v1/patients/${patientId}/epcs-review`, doc.browser);
    expect(review.statusCode, review.body).toBe(200);
    const rv = review.json<{ attestation: string; items: Record<string, unknown>[] }>();
    expect(rv.attestation).toBe(EPCS_ATTESTATION);
    expect(rv.attestation).toContain('you are legally signing the prescription(s)');
    expect(rv.items).toEqual([
      expect.objectContaining({
        id,
        status: 'draft',
        dateOfIssue: '2026-03-01',
        patientName: 'Jordan Rivera',
        patientAddress: '12 Elm Street, Springfield, CA 90001',
        drugName: DRUGS.oxycodone.name,
        strength: '5 mg',
        dosageForm: 'Oral Tablet',
        quantity: '20 tablet',
        refills: 0,
        earliestFillDate: '2026-03-01',
        prescriberName: 'Dr Okafor',
        prescriberAddress: expect.stringContaining('400 Main Street') as unknown,
      }),
    ]);

    const ready = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {});
    expect(ready.statusCode, ready.body).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', deaNumber: DOC.dea });
    const again = await get(h.app, `/api/v1/patients/${patientId}/epcs-review`, doc.browser);
    expect(again.json<{ items: { deaNumber: string; status: string }[] }>().items[0]).toMatchObject(
      {
        status: 'ready',
        deaNumber: DOC.dea,
      },
    );

    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const signed = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(signed.statusCode, signed.body).toBe(200);
    const [one] = signed.json<{ signed: { jws: string; prescription: { status: string } }[] }>()
      .signed;
    expect(one?.prescription.status).toBe('queued');

    const jwks = await get(h.app, '/.well-known/jwks.json', undefined);
    const verified = verifyPrescriptionJws(one?.jws ?? '', jwks.json<Jwks>());
    expect(verified).toMatchObject({
      id,
      medication: { rxcui: DRUGS.oxycodone.rxcui, deaSchedule: 'CII' },
      refills: 0,
      patient: { familyName: 'Rivera', address: '12 Elm Street, Springfield, CA 90001' },
      prescriber: { name: 'Dr Okafor', deaNumber: DOC.dea, npi: DOC.npi },
      issuedAt: h.clock.now().toISOString(),
      signature: { method: 'epcs-two-factor' },
    });
    // GET returns the same JWS.
    const read = await get(h.app, `/api/v1/prescriptions/${id}`, doc.browser);
    expect(read.json<{ jws: string }>().jws).toBe(one?.jws);

    const audit = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ action: string; request_id: string; outcome: string }>(
            `SELECT action, request_id, outcome FROM audit_log
            WHERE subjects @> $1::jsonb ORDER BY seq`,
            [JSON.stringify([{ type: 'prescription', id }])],
          )
        ).rows,
    );
    const rid = (res: { headers: Record<string, unknown> }) => res.headers['x-request-id'];
    expect(audit.filter((a) => a.action !== 'prescription.read')).toEqual([
      { action: 'prescription.created', request_id: rid(draft), outcome: 'success' },
      { action: 'prescription.ready', request_id: rid(ready), outcome: 'success' },
      { action: 'prescription.signed', request_id: rid(signed), outcome: 'success' },
      { action: 'rx.sign.controlled', request_id: rid(signed), outcome: 'success' },
      { action: 'prescription.queued', request_id: rid(signed), outcome: 'success' },
    ]);
    // The NewRx message waits in the outbox, sealed.
    const outbox = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ kind: string; status: string; payload: Buffer }>(
            'SELECT kind, status, payload FROM outbox WHERE prescription_id = $1',
            [id],
          )
        ).rows,
    );
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ kind: 'NewRx', status: 'pending' });
    expect(outbox[0]?.payload.toString('latin1')).not.toContain('Rivera');
  });

  it('an agent cannot sign (403), neither through the plain nor the EPCS route', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId, agent.userId]);
    const id = await readyCs(h, agent, doc, patientId);
    const plain = await post(h.app, `/api/v1/prescriptions/${id}/sign`, agent.browser);
    expect(plain.statusCode).toBe(403);
    expect(await stepUp(h, agent, 'rx.sign.controlled')).toBe(200);
    const epcs = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, agent.browser, {
      prescriptionIds: [id],
    });
    expect(epcs.statusCode).toBe(403);
    const ready = await post(h.app, `/api/v1/prescriptions/${id}/ready`, agent.browser, {});
    expect(ready.statusCode).toBe(403);
  });

  it('a prescriber without the EPCS permission, or with an expired DEA registration, cannot sign a controlled substance (audited failures)', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [noperm.userId, lapsed.userId]);
    const a = await readyCs(h, noperm, noperm, patientId);
    expect(await stepUp(h, noperm, 'rx.sign.controlled')).toBe(200);
    const refused = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, noperm.browser, {
      prescriptionIds: [a],
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ detail: string }>().detail).toContain('no_epcs_permission');

    const b = await readyCs(h, lapsed, lapsed, patientId);
    const owner = await ownerClient(ownerUrlOf(h));
    try {
      // The owner is subject to row-level security too (FORCE) unless it is a superuser.
      await owner.query("SELECT set_config('scrip.tenant_id', $1, false)", [c.tenant]);
      const changed = await owner.query(
        `UPDATE proofing_dea_registrations SET expires_on = '2026-02-01' WHERE dea_number = $1`,
        [LAPSED.dea],
      );
      expect(changed.rowCount).toBeGreaterThan(0);
    } finally {
      await owner.end();
    }
    expect(await stepUp(h, lapsed, 'rx.sign.controlled')).toBe(200);
    const expired = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, lapsed.browser, {
      prescriptionIds: [b],
    });
    expect(expired.statusCode).toBe(403);
    expect(expired.json<{ detail: string }>().detail).toContain('dea_expired');

    const failures = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM audit_log WHERE action = 'rx.sign.controlled' AND outcome = 'failure'
              AND (subjects @> $1::jsonb OR subjects @> $2::jsonb)`,
            [
              JSON.stringify([{ type: 'prescription', id: a }]),
              JSON.stringify([{ type: 'prescription', id: b }]),
            ],
          )
        ).rows[0]?.n,
    );
    expect(failures).toBe(2);
    const still = await get(h.app, `/api/v1/prescriptions/${b}`, lapsed.browser);
    expect(still.json()).toMatchObject({ status: 'ready', jws: null });
  });

  it('refills on Schedule II are refused (400) and nothing is stored', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const res = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.oxycodone, { refills: 2 }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed', detail: 'refills' });
    const n = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM prescriptions WHERE patient_id = $1',
            [patientId],
          )
        ).rows[0]?.n,
    );
    expect(n).toBe(0);
    // Schedule IV allows refills (up to five).
    const ok = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.alprazolam, { refills: 2 }),
    );
    expect(ok.statusCode, ok.body).toBe(201);
  });

  it('a signed prescription cannot be edited: the API refuses and audits it, and the trigger refuses the app role in SQL', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await readyCs(h, doc, doc, patientId);
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const s = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(s.statusCode, s.body).toBe(200);

    const edit = await patch(h, `/api/v1/prescriptions/${id}`, doc.browser, {
      sig: 'Take 2 tablets',
    });
    expect(edit.statusCode).toBe(409);
    expect(edit.json()).toMatchObject({ code: 'conflict', detail: 'immutable' });
    const refusedAudit = await auditOutcomes(h, c, 'prescription.edit.refused', id);
    expect(refusedAudit).toEqual([{ outcome: 'failure' }]);

    for (const sql of [
      `UPDATE prescriptions SET content = content || '\\x00'::bytea WHERE id = $1`,
      `UPDATE prescriptions SET patient_id = patient_id, version = version + 1 WHERE id = $1`,
      `UPDATE prescriptions SET status = 'ready' WHERE id = $1`,
      `UPDATE prescriptions SET signed_at = signed_at + interval '1 day' WHERE id = $1`,
    ]) {
      await expect(h.p.db.withTenant(c.tenant, (tx) => tx.query(sql, [id]))).rejects.toThrow(
        /signed prescription cannot be changed/,
      );
    }
    // Delivery may still advance, but never backwards (prescription.state.ts).
    await h.rx.service.advance(c.tenant, id, 'transmitted', 'network');
    const jws = s.json<{ signed: { jws: string }[] }>().signed[0]?.jws;
    const after = await get(h.app, `/api/v1/prescriptions/${id}`, doc.browser);
    expect(after.json()).toMatchObject({ status: 'transmitted', jws });
    for (const sql of [
      `UPDATE prescriptions SET status = 'queued' WHERE id = $1`,
      `UPDATE prescriptions SET status = 'signed' WHERE id = $1`,
      `UPDATE prescriptions SET sealed_digest = NULL WHERE id = $1`,
    ]) {
      await expect(h.p.db.withTenant(c.tenant, (tx) => tx.query(sql, [id]))).rejects.toThrow(
        /signed prescription cannot be changed/,
      );
    }

    // A data-key rotation re-encrypts the signed record; it still reads back, unchanged.
    await h.p.reencryptor.start(c.tenant);
    expect((await h.p.reencryptor.run(c.tenant)).status).toBe('done');
    const reencrypted = await get(h.app, `/api/v1/prescriptions/${id}`, doc.browser);
    expect(reencrypted.statusCode, reencrypted.body).toBe(200);
    expect(reencrypted.json()).toEqual(after.json());

    // After the next rotation the app role rewrites the body under the newer key: the database
    // cannot read ciphertexts, so the row is stored, but it never reads back as the signed record.
    const { job } = await h.p.reencryptor.start(c.tenant);
    await h.p.db.withTenant(c.tenant, async (tx) => {
      const key = await h.p.keyring.fieldKey(tx, c.tenant, job.toVersion);
      const { rows } = await tx.query<{ content: Buffer; safety: Buffer | null; jws: Buffer }>(
        'SELECT content, safety, jws FROM prescriptions WHERE id = $1',
        [id],
      );
      const old = await openRow(tx, h.p.keyring, c.tenant, PRESCRIPTIONS, id, {
        ...rows[0],
        review: null,
      });
      if (old === SHREDDED || typeof old.content !== 'string') throw new Error('unreadable');
      const forged = { ...(JSON.parse(old.content) as object), sig: 'Take 10 tablets' };
      const { sealed } = await sealRow(
        tx,
        h.p.keyring,
        c.tenant,
        PRESCRIPTIONS,
        id,
        { content: JSON.stringify(forged), safety: null, jws: old.jws ?? null, review: null },
        key,
      );
      await tx.query('UPDATE prescriptions SET content = $2, dek_version = $3 WHERE id = $1', [
        id,
        sealed.content,
        job.toVersion,
      ]);
    });
    const forgedRead = await get(h.app, `/api/v1/prescriptions/${id}`, doc.browser);
    expect(forgedRead.statusCode).toBe(500);
    expect(forgedRead.body).not.toContain('Take 10 tablets');
    await expect(
      h.rx.service.advance(c.tenant, id, 'acknowledged', 'network'),
    ).rejects.toMatchObject({ code: 'integrity_error' });
  });

  it('a replayed, an expired, or a before-the-review step-up is refused', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const first = await readyCs(h, doc, doc, patientId);
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const ok = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
      prescriptionIds: [first],
    });
    expect(ok.statusCode, ok.body).toBe(200);

    const other = await patientWithTeam(h, c.tenant, [doc.userId]);
    const second = await readyCs(h, doc, doc, other);
    // Replay: the step-up above was consumed by the first signing.
    const replay = await post(h.app, `/api/v1/patients/${other}/epcs-sign`, doc.browser, {
      prescriptionIds: [second],
    });
    expect(replay.statusCode).toBe(403);
    expect(replay.json()).toMatchObject({ code: 'step_up_required' });
    // Expired: five minutes is the step-up's life.
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    h.clock.advance(6 * 60_000);
    const stale = await post(h.app, `/api/v1/patients/${other}/epcs-sign`, doc.browser, {
      prescriptionIds: [second],
    });
    expect(stale.statusCode).toBe(403);
    // Before the review: a step-up completed before the prescription was marked ready.
    const third = await patientWithTeam(h, c.tenant, [doc.userId]);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(third, DRUGS.oxycodone),
    );
    const id = d.json<{ id: string }>().id;
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    expect(
      (await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {})).statusCode,
    ).toBe(200);
    const early = await post(h.app, `/api/v1/patients/${third}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(early.statusCode).toBe(403);
    expect(early.json()).toMatchObject({ code: 'step_up_required' });
    // A step-up for another action does not sign either.
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const wrong = await post(h.app, `/api/v1/patients/${third}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(wrong.statusCode).toBe(403);
  });

  it('changing a DEA-required element after ready forces a new review; a note to the pharmacist does not', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await readyCs(h, doc, doc, patientId);
    const note = await patch(h, `/api/v1/prescriptions/${id}`, doc.browser, {
      notesToPharmacist: 'Patient prefers blister packs',
    });
    expect(note.statusCode, note.body).toBe(200);
    expect(note.json()).toMatchObject({ status: 'ready' });
    const qty = await patch(h, `/api/v1/prescriptions/${id}`, doc.browser, {
      quantity: { value: 30, unit: 'tablet' },
    });
    expect(qty.json()).toMatchObject({ status: 'draft', readyAt: null });
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const sign = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(sign.statusCode).toBe(409);
    const audit = await h.p.db.withTenant(c.tenant, async (tx) =>
      (
        await tx.query<{ details: { reviewReset: boolean } }>(
          `SELECT details FROM audit_log WHERE action = 'prescription.changed' AND subjects @> $1::jsonb ORDER BY seq`,
          [JSON.stringify([{ type: 'prescription', id }])],
        )
      ).rows.map((r) => r.details.reviewReset),
    );
    expect(audit).toEqual([false, true]);
  });

  it("another tenant's prescription answers 404, like a missing one", async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.amoxicillin),
    );
    const id = d.json<{ id: string }>().id;
    const other = asTenantId(randomUUID());
    await h.p.db.withTenant(other, (tx) =>
      tx.query("INSERT INTO tenants (id, name, kind) VALUES ($1, 'Other clinic', 'clinic')", [
        other,
      ]),
    );
    const link = await h.p.identity.onboarding.invite(
      other,
      'outsider@example.test',
      ['prescriber'],
      { kind: 'cli' },
    );
    const acc = await post(h.app, '/api/v1/auth/invitations/accept', undefined, {
      token: link.token,
      email: 'outsider@example.test',
      password: PASSWORD,
      displayName: 'Dr Outsider',
    });
    expect(acc.statusCode, acc.body).toBe(200);
    const outsider = await enrol(h, cookiesOf(acc));
    for (const url of [
      `/api/v1/prescriptions/${id}`,
      `/api/v1/prescriptions/${randomUUID()}`,
      `/fhir/R4/MedicationRequest/${id}`,
    ]) {
      const res = await get(h.app, url, outsider.browser);
      expect(res.statusCode, url).toBe(404);
    }
    const edit = await patch(h, `/api/v1/prescriptions/${id}`, outsider.browser, { sig: 'x' });
    expect(edit.statusCode).toBe(404);
    // Same tenant but no relationship with the patient: also 404.
    const stranger = await plainUser(h, c, 'stranger@example.test', ['prescriber']);
    expect((await get(h.app, `/api/v1/prescriptions/${id}`, stranger.browser)).statusCode).toBe(
      404,
    );
  });
});
