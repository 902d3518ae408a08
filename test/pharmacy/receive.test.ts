import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localEs256Signer } from '../../src/crypto/jws.js';
import { signPrescription } from '../../src/prescribing/canonical-prescription.js';
import type { CanonicalPrescription } from '../../src/prescribing/canonical-prescription.js';
import { get, post } from '../identity/harness.js';
import {
  CLINIC_SENDER,
  counts,
  deliver,
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
 * Receiving at the pharmacy (21 CFR 1311.205, 1311.210): a NewRx signed by the real prescribing
 * flow verifies and is archived with its signature; altered, truncated, wrongly signed or unsigned
 * content (any NewRx from a registered sender must carry its JWS) is refused with Error 900, stored nowhere, and audited without PHI.
 */
describe('pharmacy receive', () => {
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

  const rejections = async () =>
    h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ outcome: string; details: Record<string, unknown> }>(
        `SELECT outcome, details FROM audit_log WHERE action = 'pharmacy.rx.rejected' ORDER BY seq`,
      );
      return rows;
    });

  it('a signed NewRx is verified, archived sealed with its JWS and answered Status 000; a repeat gets the same answer and stores nothing', async () => {
    const id = await signedRx(h, rx);
    const wire = await wireOf(h, rx, id);
    const before = await counts(h, pt.tenant);
    const a = await deliver(h, pt.tenant, wire.xml, wire.jws);
    expect(a.outcome).toBe('accepted');
    expect(a.message).toMatchObject({
      type: 'Status',
      body: { code: '000' },
      header: {
        to: { qualifier: 'D', id: CLINIC_SENDER },
        from: { qualifier: 'P', id: '1234567' },
        relatesToMessageId: wire.messageId,
      },
    });
    expect(await counts(h, pt.tenant)).toEqual({
      inbox: before.inbox + 1,
      inbound: before.inbound + 1,
    });
    const row = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{
        xml: Buffer;
        jws: Buffer;
        signature: string;
        key_id: string;
        verified_at: Date;
      }>(
        'SELECT xml, jws, signature, key_id, verified_at FROM pharmacy_inbound WHERE message_id = $1',
        [wire.messageId],
      );
      return rows[0]!;
    });
    expect(row.signature).toBe('verified');
    expect(row.key_id).toBe((await h.p.signingKeys.active()).keyId);
    expect(row.verified_at.toISOString()).toBe(h.clock.now().toISOString());
    // PHI at rest is sealed: neither the patient's name nor the JWS is stored in clear.
    expect(row.xml.toString('latin1')).not.toContain('Rivera');
    expect(row.jws.toString('latin1')).not.toContain(wire.jws.slice(0, 40));

    const again = await deliver(h, pt.tenant, wire.xml, wire.jws);
    expect(again.outcome).toBe('duplicate');
    expect(again.xml).toBe(a.xml);
    expect(await counts(h, pt.tenant)).toEqual({
      inbox: before.inbox + 1,
      inbound: before.inbound + 1,
    });
    const audit = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ details: Record<string, unknown> }>(
        `SELECT details FROM audit_log WHERE action = 'pharmacy.rx.received' AND details->>'messageId' = $1`,
        [wire.messageId],
      );
      return rows;
    });
    expect(audit).toHaveLength(1);
    expect(audit[0]!.details).toMatchObject({ signature: 'verified', controlled: false });
  });

  it('two concurrent deliveries of one MessageID: one is processed, the other gets its answer; one row', async () => {
    const wire = await wireOf(h, rx, await signedRx(h, rx));
    const before = await counts(h, pt.tenant);
    const [a, b] = await Promise.all([
      deliver(h, pt.tenant, wire.xml, wire.jws),
      deliver(h, pt.tenant, wire.xml, wire.jws),
    ]);
    expect([a.outcome, b.outcome].sort()).toEqual(['accepted', 'duplicate']);
    expect(a.xml).toBe(b.xml);
    expect(await counts(h, pt.tenant)).toEqual({
      inbox: before.inbox + 1,
      inbound: before.inbound + 1,
    });
  });

  it('the same prescription replayed under a new MessageID is refused (never dispensed twice)', async () => {
    const wire = await wireOf(h, rx, await signedRx(h, rx, 'oxycodone'));
    expect((await deliver(h, pt.tenant, wire.xml, wire.jws)).outcome).toBe('accepted');
    const replay = wire.xml.replace(
      `<MessageID>${wire.messageId}</MessageID>`,
      '<MessageID>REPLAYED0001</MessageID>',
    );
    expect(replay).not.toBe(wire.xml);
    await refused(replay, wire.jws, 'duplicate_prescription');
  });

  it('a Schedule II NewRx signed through EPCS verifies and is recorded as controlled', async () => {
    const id = await signedRx(h, rx, 'oxycodone');
    const wire = await wireOf(h, rx, id);
    expect((await deliver(h, pt.tenant, wire.xml, wire.jws)).outcome).toBe('accepted');
    const r = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ dea_schedule: string; signature: string }>(
        'SELECT dea_schedule, signature FROM pharmacy_inbox WHERE message_id = $1',
        [wire.messageId],
      );
      return rows[0]!;
    });
    expect(r).toEqual({ dea_schedule: 'CII', signature: 'verified' });
  });

  /** Asserts an Error 900 with `reason`, nothing stored, and one audited refusal without PHI. */
  async function refused(xml: string, jws: string | undefined, reason: string): Promise<void> {
    const before = await counts(h, pt.tenant);
    const auditBefore = (await rejections()).length;
    const a = await deliver(h, pt.tenant, xml, jws);
    expect(a.outcome, reason).toBe('rejected');
    expect(a.message.type).toBe('Error');
    expect(a.message.body).toMatchObject({ code: '900', description: reason });
    expect(await counts(h, pt.tenant)).toEqual(before);
    const after = await rejections();
    expect(after).toHaveLength(auditBefore + 1);
    const last = after.at(-1)!;
    expect(last.outcome).toBe('failure');
    expect(last.details).toMatchObject({ reason, sender: CLINIC_SENDER });
    const text = JSON.stringify(last.details);
    for (const phi of ['Rivera', 'Jordan', '1980-04-02', 'amoxicillin', 'oxycodone', 'Take 1']) {
      expect(text).not.toContain(phi);
    }
  }

  it('altered content (sig, quantity, patient, prescriber DEA, drug code, refills) is refused: Error 900 content_mismatch', async () => {
    const id = await signedRx(h, rx, 'oxycodone');
    const wire = await wireOf(h, rx, id);
    const alterations: [string | RegExp, string][] = [
      ['every 6 hours', 'every 2 hours'],
      ['<Value>20</Value>', '<Value>200</Value>'],
      ['<LastName>Rivera</LastName>', '<LastName>Riviera</LastName>'],
      ['<NumberOfRefills>0</NumberOfRefills>', '<NumberOfRefills>5</NumberOfRefills>'],
      ['<Code>1049621</Code>', '<Code>1049622</Code>'],
      ['<Code>C48675</Code>', '<Code>C48677</Code>'],
      ['<DaysSupply>5</DaysSupply>', '<DaysSupply>30</DaysSupply>'],
      ['<Substitutions>0</Substitutions>', '<Substitutions>1</Substitutions>'],
    ];
    for (const [from, to] of alterations) {
      const xml = wire.xml.replace(from, to);
      expect(xml, String(from)).not.toBe(wire.xml);
      await refused(xml, wire.jws, 'content_mismatch');
    }
    // The original still goes through afterwards: nothing was stored under its MessageID.
    expect((await deliver(h, pt.tenant, wire.xml, wire.jws)).outcome).toBe('accepted');
  });

  it('truncated content (a shortened sig, a dropped note) and a truncated JWS are refused', async () => {
    const id = await signedRx(h, rx, 'amoxicillin', {
      notesToPharmacist: 'Patient prefers blister packs',
    });
    const wire = await wireOf(h, rx, id);
    await refused(
      wire.xml.replace('every 6 hours as needed for pain', 'every 6 hours'),
      wire.jws,
      'content_mismatch',
    );
    await refused(wire.xml.replace(/<Note>[^<]*<\/Note>/, ''), wire.jws, 'content_mismatch');
    await refused(wire.xml, wire.jws.slice(0, -10), 'signature_invalid');
    await refused(wire.xml, wire.jws.split('.').slice(0, 2).join('.'), 'signature_invalid');
  });

  it('a JWS from another key (same kid) is refused: signature_invalid', async () => {
    const id = await signedRx(h, rx, 'oxycodone');
    const wire = await wireOf(h, rx, id);
    const [, payload] = wire.jws.split('.');
    const doc = JSON.parse(
      Buffer.from(payload!, 'base64url').toString('utf8'),
    ) as CanonicalPrescription;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const kid = (await h.p.signingKeys.active()).keyId;
    const forged = await signPrescription(doc, kid, localEs256Signer(privateKey));
    await refused(wire.xml, forged, 'signature_invalid');
  });

  it('a NewRx from a registered sender without a JWS is refused, whatever its XML claims; a controlled one stripped of DEASchedule and signature too', async () => {
    const cs = await wireOf(h, rx, await signedRx(h, rx, 'oxycodone'));
    await refused(cs.xml, undefined, 'signature_required');
    const plain = await wireOf(h, rx, await signedRx(h, rx));
    await refused(plain.xml, undefined, 'signature_required');
    // Without the DigitalSignature indicator a non-controlled NewRx is still refused unsigned.
    const noIndicator = plain.xml.replace(/<DigitalSignature[^>]*>.*<\/DigitalSignature>/, '');
    expect(noIndicator).not.toBe(plain.xml);
    await refused(noIndicator, undefined, 'signature_required');
    // The stripping attack: the schedule and the indicator removed, the JWS dropped.
    const stripped = cs.xml
      .replace(/<DEASchedule>.*?<\/DEASchedule>/, '')
      .replace(/<DigitalSignature[^>]*>.*<\/DigitalSignature>/, '');
    expect(stripped).not.toContain('DEASchedule');
    expect(stripped).not.toContain('DigitalSignature');
    await refused(stripped, undefined, 'signature_required');
    // With its JWS, the stripped schedule no longer matches what the prescriber signed.
    await refused(stripped, cs.jws, 'content_mismatch');
  });

  it('an unknown recipient pharmacy or an untrusted sender is refused', async () => {
    const wire = await wireOf(
      h,
      rx,
      await signedRx(h, rx, 'amoxicillin', { pharmacyNcpdpId: '1111111' }),
    );
    await refused(wire.xml, wire.jws, 'recipient_unknown');
    const other = await wireOf(h, rx, await signedRx(h, rx));
    const xml = other.xml.replace(`>${CLINIC_SENDER}<`, '>SOMEONE-ELSE<');
    const before = await counts(h, pt.tenant);
    const a = await deliver(h, pt.tenant, xml, other.jws);
    expect(a.message.body).toMatchObject({ code: '900', description: 'sender_unknown' });
    // Unsigned does not get around it: only registered prescriber systems may send.
    const unsigned = xml.replace(/<DigitalSignature[^>]*>.*<\/DigitalSignature>/, '');
    expect(unsigned).not.toBe(xml);
    const u = await deliver(h, pt.tenant, unsigned, undefined);
    expect(u.message.body).toMatchObject({ code: '900', description: 'sender_unknown' });
    expect(await counts(h, pt.tenant)).toEqual(before);
  });

  it('a CancelRx links to the received prescription and marks it cancel requested', async () => {
    const id = await signedRx(h, rx);
    const wire = await wireOf(h, rx, id);
    expect((await deliver(h, pt.tenant, wire.xml, wire.jws)).outcome).toBe('accepted');
    const cancel = await post(h.app, `/api/v1/prescriptions/${id}/cancel`, rx.doc.browser);
    expect(cancel.statusCode, cancel.body).toBe(200);
    const cw = await wireOf(h, rx, id, 'CancelRx');
    const a = await deliver(h, pt.tenant, cw.xml, cw.jws);
    expect(a.message).toMatchObject({ type: 'Status', body: { code: '000' } });
    expect((await deliver(h, pt.tenant, cw.xml, cw.jws)).xml).toBe(a.xml);
    const state = await h.p.db.withTenant(pt.tenant, async (tx) => {
      const { rows } = await tx.query<{ cancel_status: string; n: number }>(
        `SELECT i.cancel_status, (SELECT count(*)::int FROM pharmacy_inbound b WHERE b.inbox_id = i.id) AS n
           FROM pharmacy_inbox i WHERE i.message_id = $1`,
        [wire.messageId],
      );
      return rows[0]!;
    });
    expect(state).toEqual({ cancel_status: 'requested', n: 2 });
    // A cancellation of a prescription this pharmacy never received is refused.
    const stray = await wireOf(h, rx, await signedRx(h, rx));
    const strayCancel = stray.xml
      .replace('<NewRx>', '<CancelRx>')
      .replace('</NewRx>', '</CancelRx>');
    const r = await deliver(h, pt.tenant, strayCancel, undefined);
    expect(r.message.body).toMatchObject({ code: '900', description: 'prescription_unknown' });
  });

  it('the North pharmacist does not see Main Street prescriptions', async () => {
    const res = await get(h.app, '/api/v1/pharmacy/inbox', pt.northPharmacist.browser);
    expect(res.statusCode).toBe(200);
    expect(res.json<{ items: unknown[] }>().items).toEqual([]);
  });
});
