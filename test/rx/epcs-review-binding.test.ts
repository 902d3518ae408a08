import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPrescriptionJws } from '../../src/prescribing/canonical-prescription.js';
import type { Jwks } from '../../src/crypto/jws.js';
import { get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import {
  clinic,
  patientWithTeam,
  epcsPrescriber,
  readyCs,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from './rx-harness.js';

const DOC = practitioner('Okafor', '123456789', '123456');
const APPROVER = practitioner('Appel', '177777777', '888888');

/**
 * 21 CFR 1311.140(a)(2)-(3): what is signed is what the prescriber reviewed. The patient's and
 * the prescriber's name and address live outside the prescription; a change after "ready" must
 * send it back for review instead of being signed unseen.
 */
describe('EPCS: the review binds what is signed', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC, APPROVER]);
    ({ doc } = await epcsPrescriber(
      h,
      c,
      { pr: DOC, email: 'okafor@example.test' },
      { pr: APPROVER, email: 'appel@example.test' },
    ));
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  it('what is signed is what was reviewed: a patient address changed after "ready" is refused (409, audited, back to draft); after a new review it signs', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const id = await readyCs(h, doc, doc, patientId);
    await h.p.db.withTenant(c.tenant, (tx) =>
      h.p.patients.update(tx, c.tenant, patientId, {
        givenName: 'Jordan',
        familyName: 'Rivera',
        birthDate: '1980-04-02',
        address: '99 Oak Avenue, Springfield, CA 90002',
      }),
    );
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const refused = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.headers['content-type']).toContain('application/problem+json');
    expect(refused.json()).toMatchObject({ code: 'conflict', detail: 'review_changed' });
    expect(refused.body).not.toContain('Oak');
    const back = await get(h.app, `/api/v1/prescriptions/${id}`, doc.browser);
    expect(back.json()).toMatchObject({ status: 'draft', readyAt: null, signedAt: null });
    const audit = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ action: string; outcome: string }>(
            `SELECT action, outcome FROM audit_log WHERE subjects @> $1::jsonb AND action IN ('rx.sign.controlled', 'prescription.changed') ORDER BY seq`,
            [JSON.stringify([{ type: 'prescription', id }])],
          )
        ).rows,
    );
    expect(audit).toEqual([
      { action: 'prescription.changed', outcome: 'success' },
      { action: 'rx.sign.controlled', outcome: 'failure' },
    ]);

    // The prescriber reviews the new address, marks ready again and signs.
    const review = await get(h.app, `/api/v1/patients/${patientId}/epcs-review`, doc.browser);
    expect(review.json()).toMatchObject({
      items: [{ id, patientAddress: '99 Oak Avenue, Springfield, CA 90002' }],
    });
    const ready = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {});
    expect(ready.statusCode, ready.body).toBe(200);
    expect(await stepUp(h, doc, 'rx.sign.controlled')).toBe(200);
    const signed = await post(h.app, `/api/v1/patients/${patientId}/epcs-sign`, doc.browser, {
      prescriptionIds: [id],
    });
    expect(signed.statusCode, signed.body).toBe(200);
    const doc2 = verifyPrescriptionJws(
      signed.json<{ signed: { jws: string }[] }>().signed[0]?.jws ?? '',
      (await get(h.app, '/.well-known/jwks.json', doc.browser)).json<Jwks>(),
    );
    expect(doc2.patient.address).toBe('99 Oak Avenue, Springfield, CA 90002');
  });
});
