import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Enrolled } from '../identity/harness.js';
import {
  CLINIC_SENDER,
  deliver,
  headersOf,
  MAIN,
  pharmacyHarness,
  pharmacyTenant,
  prescribing,
  signedRx,
  wireOf,
  type PharmacyHarness,
  type PharmacyTenant,
  type Prescribing,
} from './pharmacy-harness.js';

/**
 * The pharmacist's inbox over HTTP: membership of the pharmacy decides visibility (404
 * otherwise), minimum-necessary shaping (list summaries; dispensing view with the signature
 * verification), the state machine, and the SCRIPT message each action hands to the outbox,
 * parsed back with the codec.
 */
describe('pharmacy inbox', () => {
  let h: PharmacyHarness;
  let rx: Prescribing;
  let pt: PharmacyTenant;

  beforeAll(async () => {
    h = await pharmacyHarness();
    rx = await prescribing(h);
    pt = await pharmacyTenant(h);
  }, 300_000);
  afterAll(async () => {
    await h.close();
  });

  const call = (method: 'GET' | 'POST', url: string, who: Enrolled, payload?: object) =>
    h.app.inject({
      method,
      url,
      headers: headersOf(who, method !== 'GET'),
      ...(payload === undefined ? {} : { payload }),
    });

  /** A prescription received at Main Street; returns its inbox id and the NewRx MessageID. */
  async function received(
    drug: 'amoxicillin' | 'oxycodone' = 'amoxicillin',
    extra: Record<string, unknown> = {},
  ): Promise<{ id: string; rxId: string; messageId: string; jws: string }> {
    const rxId = await signedRx(h, rx, drug, extra);
    const wire = await wireOf(h, rx, rxId);
    expect((await deliver(h, pt.tenant, wire.xml, wire.jws)).outcome).toBe('accepted');
    const id = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        'SELECT id FROM pharmacy_inbox WHERE message_id = $1',
        [wire.messageId],
      );
      return rows[0]!.id;
    });
    return { id, rxId, messageId: wire.messageId, jws: wire.jws };
  }

  const readActions = async () =>
    h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ action: string; subjects: unknown }>(
        `SELECT action, subjects FROM audit_log WHERE action LIKE 'patient.pharmacy_rx.%' ORDER BY seq`,
      );
      return rows;
    });

  it('lists summaries and reads the dispensing view with the signature verification; each access is audited', async () => {
    const r = await received('amoxicillin', { notesToPharmacist: 'Blister pack please' });
    const list = await call('GET', '/api/v1/pharmacy/inbox', pt.pharmacist);
    expect(list.statusCode, list.body).toBe(200);
    const item = list.json<{ items: Record<string, unknown>[] }>().items.find((i) => i.id === r.id);
    expect(item).toMatchObject({
      status: 'received',
      pharmacy: { ncpdpId: MAIN },
      patient: { lastName: 'Rivera', firstName: 'Jordan', birthDate: '1980-04-02' },
      drug: { quantity: '20' },
      signatureStatus: 'verified',
    });
    // Summaries: no sig, no notes, no signature, no addresses.
    const listed = JSON.stringify(item);
    for (const absent of ['Take 1 tablet', 'Blister pack', 'medication', 'jws', 'address']) {
      expect(listed).not.toContain(absent);
    }
    const one = await call('GET', `/api/v1/pharmacy/inbox/${r.id}`, pt.pharmacist);
    expect(one.statusCode, one.body).toBe(200);
    const body = one.json<Record<string, unknown>>();
    expect(body).toMatchObject({
      id: r.id,
      senderId: CLINIC_SENDER,
      messageId: r.messageId,
      medication: {
        sig: 'Take 1 tablet by mouth every 6 hours as needed for pain',
        note: 'Blister pack please',
        numberOfRefills: 0,
        quantity: { value: '20' },
      },
      signature: {
        status: 'verified',
        keyId: (await h.p.signingKeys.active()).keyId,
        verifiedAt: expect.any(String) as unknown,
        jws: r.jws,
      },
    });
    // The technician sees the dispensing view too (a member of Main Street).
    const tech = await call('GET', `/api/v1/pharmacy/inbox/${r.id}`, pt.technician);
    expect(tech.statusCode, tech.body).toBe(200);
    expect(tech.json<{ medication: { sig: string } }>().medication.sig).toContain('Take 1');
    const audit = await readActions();
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(['patient.pharmacy_rx.list', 'patient.pharmacy_rx.read']),
    );
    expect(JSON.stringify(audit)).not.toContain('Rivera');
  });

  it('another pharmacy’s pharmacist, support and the auditor get nothing clinical; unknown ids are 404', async () => {
    const r = await received();
    const north = await call('GET', `/api/v1/pharmacy/inbox/${r.id}`, pt.northPharmacist);
    expect(north.statusCode).toBe(404);
    const missing = await call(
      'GET',
      '/api/v1/pharmacy/inbox/00000000-0000-4000-8000-000000000000',
      pt.pharmacist,
    );
    expect(missing.statusCode).toBe(404);
    expect(north.json<{ code: string }>().code).toBe(missing.json<{ code: string }>().code);
    const northList = await call('GET', '/api/v1/pharmacy/inbox', pt.northPharmacist);
    expect(northList.json<{ items: unknown[] }>().items).toEqual([]);
    for (const act of ['accept', 'dispense']) {
      const res = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/${act}`, pt.northPharmacist, {
        quantity: '1',
      });
      expect(res.statusCode, act).toBe(404);
    }
    for (const who of [pt.support, pt.auditor]) {
      const list = await call('GET', '/api/v1/pharmacy/inbox', who);
      expect(list.statusCode).toBe(403);
      expect(list.body).not.toContain('Rivera');
      const one = await call('GET', `/api/v1/pharmacy/inbox/${r.id}`, who);
      expect(one.statusCode).toBe(403);
      expect(one.body).not.toContain('Rivera');
    }
    // The clinic's prescriber (another tenant) never reaches the pharmacy's inbox.
    const clinicUser = await h.app.inject({
      method: 'GET',
      url: `/api/v1/pharmacy/inbox/${r.id}`,
      headers: {
        cookie: `__Host-scrip_session=${rx.doc.browser.session}; __Host-scrip_csrf=${rx.doc.browser.csrf}`,
      },
    });
    expect(clinicUser.statusCode).toBe(403);
    expect(
      h.outbox.sent.filter(
        (s) => s.tenantId === pt.tenant && s.msg.relatesToMessageId === r.messageId,
      ),
    ).toEqual([]);
  });

  it('accept sends Status 000 "accepted by pharmacy"; a technician may not; a second accept is a conflict and sends nothing', async () => {
    const r = await received();
    const tech = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/accept`, pt.technician);
    expect(tech.statusCode).toBe(403);
    const sent = h.outbox.sent.length;
    const ok = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/accept`, pt.pharmacist);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json()).toMatchObject({ status: 'accepted' });
    expect(h.outbox.sent).toHaveLength(sent + 1);
    expect(h.outbox.sent.at(-1)!.tenantId).toBe(pt.tenant);
    const m = h.outbox.last();
    expect(m).toMatchObject({
      type: 'Status',
      header: {
        to: { qualifier: 'D', id: CLINIC_SENDER },
        from: { qualifier: 'P', id: MAIN },
        relatesToMessageId: r.messageId,
        prescriberOrderNumber: r.rxId.replace(/-/g, ''),
      },
      body: { code: '000', description: 'accepted by pharmacy' },
    });
    const again = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/accept`, pt.pharmacist);
    expect(again.statusCode).toBe(409);
    expect(again.headers['content-type']).toContain('application/problem+json');
    expect(h.outbox.sent).toHaveLength(sent + 1);
  });

  it('dispense: a partial fill then the rest (RxFill PartiallyDispensed, Dispensed); beyond the quantity is refused; bad input is 400', async () => {
    const r = await received();
    const early = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/dispense`, pt.pharmacist, {
      quantity: '5',
    });
    expect(early.statusCode).toBe(409); // not accepted yet
    expect(
      (await call('POST', `/api/v1/pharmacy/inbox/${r.id}/accept`, pt.pharmacist)).statusCode,
    ).toBe(200);
    const bad = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/dispense`, pt.pharmacist, {
      quantity: '0',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toContain('application/problem+json');
    const part = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/dispense`, pt.pharmacist, {
      quantity: '12',
      ndc: '00093310905',
      note: 'partial, rest tomorrow',
    });
    expect(part.statusCode, part.body).toBe(200);
    expect(part.json()).toMatchObject({ status: 'partially_dispensed', quantityDispensed: '12' });
    const fill1 = h.outbox.last();
    expect(fill1).toMatchObject({
      type: 'RxFill',
      header: { to: { qualifier: 'D', id: CLINIC_SENDER }, relatesToMessageId: r.messageId },
      body: {
        fillStatus: { kind: 'PartiallyDispensed', note: 'partial, rest tomorrow' },
        medicationDispensed: { quantity: { value: '12' }, ndc: '00093310905' },
        medicationPrescribed: { quantity: { value: '20' } },
      },
    });
    const rest = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/dispense`, pt.pharmacist, {
      quantity: '8',
    });
    expect(rest.statusCode, rest.body).toBe(200);
    expect(rest.json()).toMatchObject({ status: 'dispensed', quantityDispensed: '20' });
    expect(h.outbox.last()).toMatchObject({
      type: 'RxFill',
      body: {
        fillStatus: { kind: 'Dispensed' },
        medicationDispensed: { quantity: { value: '8' } },
      },
    });
    const sent = h.outbox.sent.length;
    const over = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/dispense`, pt.pharmacist, {
      quantity: '1',
    });
    expect(over.statusCode).toBe(409);
    expect(h.outbox.sent).toHaveLength(sent);
    const view = await call('GET', `/api/v1/pharmacy/inbox/${r.id}`, pt.pharmacist);
    expect(view.json<{ actions: { kind: string }[] }>().actions.map((a) => a.kind)).toEqual([
      'accept',
      'fill',
      'fill',
    ]);
    // Renewal request once dispensed.
    const renew = await call(
      'POST',
      `/api/v1/pharmacy/inbox/${r.id}/renewal-request`,
      pt.pharmacist,
      {
        note: 'patient asks for a refill',
      },
    );
    expect(renew.statusCode, renew.body).toBe(200);
    expect(h.outbox.last()).toMatchObject({
      type: 'RxRenewalRequest',
      header: { relatesToMessageId: r.messageId },
      body: {
        medicationDispensed: { quantity: { value: '20' }, note: 'patient asks for a refill' },
        medicationPrescribed: { quantity: { value: '20' } },
      },
    });
  });

  it('change request carries the MessageRequestCode and the requested drugs', async () => {
    const r = await received();
    const bad = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/change-request`, pt.pharmacist, {
      code: 'G',
      requested: [],
    });
    expect(bad.statusCode).toBe(400);
    const ok = await call('POST', `/api/v1/pharmacy/inbox/${r.id}/change-request`, pt.pharmacist, {
      code: 'G',
      requested: [
        { drugDescription: 'amoxicillin 500 MG Oral Tablet', rxnorm: '308192', quantity: '20' },
      ],
    });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(h.outbox.last()).toMatchObject({
      type: 'RxChangeRequest',
      body: {
        messageRequestCode: 'G',
        medicationRequested: [
          { drugDescription: 'amoxicillin 500 MG Oral Tablet', rxnorm: { code: '308192' } },
        ],
      },
    });
  });

  it('a CancelRx is answered: denied (CancelRxResponse Denied) or approved (→ cancelled); dispensing waits for the answer', async () => {
    const cancelOf = async (r: { rxId: string }) => {
      const c = await h.app.inject({
        method: 'POST',
        url: `/api/v1/prescriptions/${r.rxId}/cancel`,
        headers: {
          cookie: `__Host-scrip_session=${rx.doc.browser.session}; __Host-scrip_csrf=${rx.doc.browser.csrf}`,
          'x-csrf-token': rx.doc.browser.csrf,
        },
      });
      expect(c.statusCode, c.body).toBe(200);
      const cw = await wireOf(h, rx, r.rxId, 'CancelRx');
      expect((await deliver(h, pt.tenant, cw.xml, cw.jws)).outcome).toBe('accepted');
      return cw.messageId;
    };
    const a = await received();
    expect(
      (await call('POST', `/api/v1/pharmacy/inbox/${a.id}/accept`, pt.pharmacist)).statusCode,
    ).toBe(200);
    const none = await call(
      'POST',
      `/api/v1/pharmacy/inbox/${a.id}/cancel-response`,
      pt.pharmacist,
      {
        decision: 'approve',
      },
    );
    expect(none.statusCode).toBe(409);
    const cancelId = await cancelOf(a);
    const blocked = await call('POST', `/api/v1/pharmacy/inbox/${a.id}/dispense`, pt.pharmacist, {
      quantity: '20',
    });
    expect(blocked.statusCode).toBe(409);
    const noReason = await call(
      'POST',
      `/api/v1/pharmacy/inbox/${a.id}/cancel-response`,
      pt.pharmacist,
      {
        decision: 'deny',
      },
    );
    expect(noReason.statusCode).toBe(400);
    const deny = await call(
      'POST',
      `/api/v1/pharmacy/inbox/${a.id}/cancel-response`,
      pt.pharmacist,
      {
        decision: 'deny',
        reasonCode: 'AA',
        reason: 'already picked up',
      },
    );
    expect(deny.statusCode, deny.body).toBe(200);
    expect(deny.json()).toMatchObject({ status: 'accepted', cancelStatus: 'denied' });
    expect(h.outbox.last()).toMatchObject({
      type: 'CancelRxResponse',
      header: { relatesToMessageId: cancelId, to: { qualifier: 'D', id: CLINIC_SENDER } },
      body: { response: { kind: 'Denied', reasonCode: 'AA', reason: 'already picked up' } },
    });

    const b = await received();
    const bCancel = await cancelOf(b);
    const approve = await call(
      'POST',
      `/api/v1/pharmacy/inbox/${b.id}/cancel-response`,
      pt.pharmacist,
      {
        decision: 'approve',
      },
    );
    expect(approve.statusCode, approve.body).toBe(200);
    expect(approve.json()).toMatchObject({ status: 'cancelled', cancelStatus: 'approved' });
    expect(h.outbox.last()).toMatchObject({
      type: 'CancelRxResponse',
      header: { relatesToMessageId: bCancel },
      body: { response: { kind: 'Approved' } },
    });
    const after = await call('POST', `/api/v1/pharmacy/inbox/${b.id}/accept`, pt.pharmacist);
    expect(after.statusCode).toBe(409);
    const audit = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ action: string; details: Record<string, unknown> }>(
        `SELECT action, details FROM audit_log WHERE action = 'pharmacy.rx.cancel_answered' ORDER BY seq`,
      );
      return rows;
    });
    expect(audit.map((x) => x.details.decision)).toEqual(['deny', 'approve']);
  });

  it('the archive is immutable except for re-encryption; after a data-key rotation everything still reads', async () => {
    const r = await received();
    await expect(
      h.p.db.withTenant(pt.tenant, (tx) =>
        tx.query(`UPDATE pharmacy_inbound SET answer_xml = 'x' WHERE inbox_id = $1`, [r.id]),
      ),
    ).rejects.toThrow(/cannot be changed/);
    await expect(
      h.p.db.withTenant(pt.tenant, (tx) =>
        tx.query(`UPDATE pharmacy_inbound SET xml = jws WHERE inbox_id = $1`, [r.id]),
      ),
    ).rejects.toThrow(/cannot be changed/);
    expect(
      (await call('POST', `/api/v1/pharmacy/inbox/${r.id}/accept`, pt.pharmacist)).statusCode,
    ).toBe(200);
    const { job } = await h.p.reencryptor.start(pt.tenant);
    const done = await h.p.reencryptor.run(pt.tenant, { batchSize: 50 });
    expect(done.status).toBe('done');
    const versions = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const a = await tx.query<{ v: number }>(
        'SELECT DISTINCT dek_version AS v FROM pharmacy_inbound',
      );
      const b = await tx.query<{ v: number }>(
        'SELECT DISTINCT dek_version AS v FROM pharmacy_actions',
      );
      return [...a.rows, ...b.rows].map((x) => x.v);
    });
    expect(new Set(versions)).toEqual(new Set([job.toVersion]));
    const view = await call('GET', `/api/v1/pharmacy/inbox/${r.id}`, pt.pharmacist);
    expect(view.statusCode, view.body).toBe(200);
    expect(view.json()).toMatchObject({
      signature: { status: 'verified', jws: r.jws },
      medication: { quantity: { value: '20' } },
      actions: [{ kind: 'accept' }],
    });
  });
});
