import * as https from 'node:https';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckpoint, verifyAuditLog } from '../../src/audit/index.js';
import { systemClock } from '../../src/core/index.js';
import { DeliveryError } from '../../src/network/mtls.js';
import { buildMessage } from '../../src/network/ncpdp-script.codec.js';
import { scriptId } from '../../src/network/newrx-message.js';
import { checkpointSigner } from '../../src/platform.js';
import {
  saveParticipants,
  startSwitch,
  SWITCH_TENANT_ID,
  type RunningSwitch,
} from '../../src/switch/index.js';
import { freshTenant } from '../db.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import {
  clinicParticipant,
  ncpdpId,
  networkPki,
  newRx,
  pharmacyParticipant,
  rxDoc,
  sendTo,
  signedNewRx,
  signingKey,
  TestEndpoint,
  until,
  type NetworkPki,
} from './switch-harness.js';

const CLINIC = 'CLINIC-SW-01';
const UNUSED_PIN = `${'A'.repeat(43)}=`;

describe('network switch: routing, store and forward, refusals', () => {
  let p: TestPlatform;
  let pki: NetworkPki;
  let sw: RunningSwitch;
  let clinicInbound: TestEndpoint;
  let pharmacy: TestEndpoint;
  let cPharmacy: TestEndpoint;
  const key = signingKey();
  const PHARMACY = ncpdpId();
  const C_PHARMACY = ncpdpId();

  beforeAll(async () => {
    // A database of its own: the audit-log verification below must meet only this run's keys.
    p = await testPlatform(systemClock, { isolated: true });
    pki = await networkPki();
    clinicInbound = new TestEndpoint(pki.clinicServer, pki.ca, { qualifier: 'D', id: CLINIC });
    pharmacy = new TestEndpoint(pki.pharmacyServer, pki.ca, { qualifier: 'P', id: PHARMACY });
    cPharmacy = new TestEndpoint(pki.pharmacyServer, pki.ca, { qualifier: 'P', id: C_PHARMACY });
    await Promise.all([clinicInbound.start(), pharmacy.start(), cPharmacy.start()]);
    await saveParticipants(
      p.db,
      p.clock,
      [
        clinicParticipant(pki, CLINIC, clinicInbound, key.jwks),
        // No controlled level: refuses Schedule II.
        pharmacyParticipant(pki, PHARMACY, pharmacy, ['new', 'cancel']),
        {
          ...pharmacyParticipant(pki, C_PHARMACY, cPharmacy, ['new', 'controlled']),
          // A client key of its own (never used to send here).
          clientPins: { primary: UNUSED_PIN },
        },
      ],
      { kind: 'cli' },
    );
    sw = await startSwitch(
      { db: p.db, keyring: p.keyring, clock: p.clock },
      {
        tls: {
          key: pki.switchCert.keyPem,
          cert: pki.switchCert.certPem,
          clientCa: pki.ca.certPem,
          peerCa: pki.ca.certPem,
          clientKey: pki.switchCert.keyPem,
          clientCert: pki.switchCert.certPem,
        },
        policy: { deadlineMs: 3_600_000, baseBackoffMs: 100, maxBackoffMs: 400 },
        host: '127.0.0.1',
        port: 0,
        switchId: 'TEST-SWITCH',
        intervalMs: 100,
        deliveryTimeoutMs: 3_000,
      },
    );
  }, 120_000);

  afterAll(async () => {
    await sw.close();
    await Promise.all([clinicInbound.stop(), pharmacy.stop(), cPharmacy.stop()]);
    await p.close();
  });

  const url = (): string => `https://localhost:${String(sw.port)}/ncpdp/script`;

  async function switchAudit(): Promise<{ action: string; details: Record<string, unknown> }[]> {
    return p.db.withTenant(SWITCH_TENANT_ID, async (tx) => {
      const { rows } = await tx.query<{ action: string; details: Record<string, unknown> }>(
        'SELECT action, details FROM audit_log WHERE tenant_id = $1 ORDER BY seq',
        [SWITCH_TENANT_ID],
      );
      return rows;
    });
  }

  async function stored(messageId: string): Promise<{ status: string; relay_status: string }[]> {
    return p.db.withTenant(SWITCH_TENANT_ID, async (tx) => {
      const { rows } = await tx.query<{ status: string; relay_status: string }>(
        'SELECT status, relay_status FROM switch_messages WHERE message_id = $1',
        [messageId],
      );
      return rows;
    });
  }

  it('routes a NewRx: Status 010 to the sender, delivered once, Status 000 relayed back', async () => {
    const { m, xml, jws } = await signedNewRx(key, CLINIC, PHARMACY, false);
    const answer = await sendTo(url(), pki.clinicClient, pki, xml, jws);
    expect(answer.http).toBe(200);
    expect(answer.message.type).toBe('Status');
    expect(answer.message.body).toMatchObject({ code: '010' });
    expect(answer.message.header.relatesToMessageId).toBe(m.header.messageId);
    expect(answer.message.header.to).toEqual({ qualifier: 'D', id: CLINIC });

    await until(() => pharmacy.byMessageId(m.header.messageId).length === 1, 15_000, 'delivery');
    const got = pharmacy.byMessageId(m.header.messageId)[0];
    expect(got?.jws).toBe(jws); // forwarded unchanged
    expect(got?.message.type).toBe('NewRx');

    const relayed = () =>
      clinicInbound.received.filter(
        (r) => r.message.header.relatesToMessageId === m.header.messageId,
      );
    await until(() => relayed().length === 1, 15_000, 'relay');
    const relay = relayed()[0]?.message;
    expect(relay?.type).toBe('Status');
    expect(relay?.body).toMatchObject({ code: '000' });
    expect(relay?.header.to).toEqual({ qualifier: 'D', id: CLINIC });
    expect(relay?.header.from).toEqual({ qualifier: 'P', id: PHARMACY });
    await until(async () => (await stored(m.header.messageId))[0]?.relay_status === 'sent');
    expect(await stored(m.header.messageId)).toEqual([
      { status: 'delivered', relay_status: 'sent' },
    ]);

    const actions = (await switchAudit())
      .filter((r) => r.details.messageId === m.header.messageId)
      .map((r) => r.action);
    expect(actions).toEqual([
      'switch.message.accepted',
      'switch.message.delivered',
      'switch.answer.relayed',
    ]);
  }, 60_000);

  it('stores for an offline pharmacy and delivers exactly once when it is back', async () => {
    await pharmacy.stop();
    const { m, xml, jws } = await signedNewRx(key, CLINIC, PHARMACY, false);
    const answer = await sendTo(url(), pki.clinicClient, pki, xml, jws);
    expect(answer.message.body).toMatchObject({ code: '010' });
    await until(
      async () =>
        (await switchAudit()).some(
          (r) => r.action === 'switch.forward.failed' && r.details.messageId === m.header.messageId,
        ),
      15_000,
      'a failed attempt',
    );
    expect((await stored(m.header.messageId))[0]?.status).toMatch(/pending|claimed/);
    expect(pharmacy.byMessageId(m.header.messageId)).toHaveLength(0);
    await pharmacy.start();
    await until(() => pharmacy.byMessageId(m.header.messageId).length > 0, 15_000, 'delivery');
    await until(async () => (await stored(m.header.messageId))[0]?.status === 'delivered');
    await new Promise((r) => setTimeout(r, 800)); // several more forwarder runs
    expect(pharmacy.byMessageId(m.header.messageId)).toHaveLength(1);
    const delivered = (await switchAudit()).filter(
      (r) => r.action === 'switch.message.delivered' && r.details.messageId === m.header.messageId,
    );
    expect(delivered).toHaveLength(1);
  }, 60_000);

  it('answers a duplicate MessageID the same way and forwards it once', async () => {
    const { xml, jws } = await signedNewRx(key, CLINIC, PHARMACY, false);
    const first = await sendTo(url(), pki.clinicClient, pki, xml, jws);
    const [second, third] = await Promise.all([
      sendTo(url(), pki.clinicClient, pki, xml, jws),
      sendTo(url(), pki.clinicClient, pki, xml, jws),
    ]);
    const id = first.message.header.relatesToMessageId ?? '';
    for (const a of [first, second, third]) {
      expect(a.http).toBe(200);
      expect(a.message.body).toMatchObject({ code: '010' });
      expect(a.message.header.messageId).toBe(first.message.header.messageId);
    }
    await until(() => pharmacy.byMessageId(id).length === 1, 15_000, 'delivery');
    await new Promise((r) => setTimeout(r, 800));
    expect(pharmacy.byMessageId(id)).toHaveLength(1);
    expect(await stored(id)).toHaveLength(1);
    const dup = (await switchAudit()).filter(
      (r) => r.action === 'switch.message.duplicate' && r.details.messageId === id,
    );
    expect(dup).toHaveLength(2);
  }, 60_000);

  it('two switch processes on one database deliver each message exactly once', async () => {
    const second = await startSwitch(
      { db: p.db, keyring: p.keyring, clock: p.clock },
      {
        tls: {
          key: pki.switchCert.keyPem,
          cert: pki.switchCert.certPem,
          clientCa: pki.ca.certPem,
          peerCa: pki.ca.certPem,
          clientKey: pki.switchCert.keyPem,
          clientCert: pki.switchCert.certPem,
        },
        policy: { deadlineMs: 3_600_000, baseBackoffMs: 100, maxBackoffMs: 400 },
        host: '127.0.0.1',
        port: 0,
        switchId: 'TEST-SWITCH',
        intervalMs: 5,
      },
    );
    try {
      const urls = [url(), `https://localhost:${String(second.port)}/ncpdp/script`];
      const ids: string[] = [];
      await Promise.all(
        Array.from({ length: 16 }, async (_, i) => {
          const { m, xml, jws } = await signedNewRx(key, CLINIC, PHARMACY, false);
          ids.push(m.header.messageId);
          const a = await sendTo(urls[i % 2] ?? '', pki.clinicClient, pki, xml, jws);
          expect(a.message.body).toMatchObject({ code: '010' });
        }),
      );
      await until(() => ids.every((id) => pharmacy.byMessageId(id).length > 0), 20_000, 'all');
      await new Promise((r) => setTimeout(r, 800));
      for (const id of ids) expect(pharmacy.byMessageId(id), id).toHaveLength(1);
    } finally {
      await second.close();
    }
  }, 60_000);

  it('refuses an unregistered client key and a missing client certificate, and audits both', async () => {
    const before = (await switchAudit()).length;
    const err = await sendTo(
      url(),
      pki.stranger,
      pki,
      buildMessage(newRx(CLINIC, PHARMACY, false)),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryError);
    const noCert = await new Promise<unknown>((resolve) => {
      const req = https.request(
        url(),
        { method: 'POST', agent: false, ca: pki.ca.certPem },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', resolve);
      req.end('<Message/>');
    });
    expect(noCert).toBeInstanceOf(Error);
    const foreign = await sendTo(url(), pki.foreign, pki, 'x').catch((e: unknown) => e);
    expect(foreign).toBeInstanceOf(DeliveryError);
    await until(
      async () => {
        const reasons = (await switchAudit())
          .slice(before)
          .filter((r) => r.action === 'switch.connection.refused')
          .map((r) => r.details.reason);
        return reasons.includes('client_pin_mismatch') && reasons.includes('handshake_failed');
      },
      10_000,
      'refusal records',
    );
    // Nothing from those connections was stored.
    const accepted = (await switchAudit())
      .slice(before)
      .filter((r) => r.action === 'switch.message.accepted');
    expect(accepted).toHaveLength(0);
  }, 60_000);

  it('refuses a From address the sender does not own', async () => {
    const m = newRx('CLINIC-SOMEONE-ELSE', PHARMACY, false);
    const a = await sendTo(url(), pki.clinicClient, pki, buildMessage(m));
    expect(a.http).toBe(400);
    expect(a.message.type).toBe('Error');
    expect(a.message.body).toMatchObject({ code: '900' });
    expect(await stored(m.header.messageId)).toHaveLength(0);
    const rec = (await switchAudit()).find(
      (r) => r.action === 'switch.message.refused' && r.details.messageId === m.header.messageId,
    );
    expect(rec?.details.reason).toBe('from_not_owned');
  });

  it('refuses an unknown recipient and a pharmacy without the controlled service level', async () => {
    const unknown = newRx(CLINIC, '7654321', false);
    const a = await sendTo(url(), pki.clinicClient, pki, buildMessage(unknown));
    expect(a.message.body).toMatchObject({ code: '900' });
    const rxId = randomUUID();
    const cii = newRx(CLINIC, PHARMACY, true, rxId);
    const jws = await key.sign(rxDoc(rxId, PHARMACY, 'CII'));
    const b = await sendTo(url(), pki.clinicClient, pki, buildMessage(cii), jws);
    expect(b.http).toBe(400);
    expect(b.message.body).toMatchObject({ code: '900' });
    const reasons = (await switchAudit())
      .filter((r) => r.action === 'switch.message.refused')
      .filter((r) =>
        [unknown.header.messageId, cii.header.messageId].includes(String(r.details.messageId)),
      )
      .map((r) => r.details.reason);
    expect(reasons).toEqual(['unknown_recipient', 'not_supported']);
  });

  it('verifies the prescriber signature of a controlled NewRx', async () => {
    const rxId = randomUUID();
    const m = () => newRx(CLINIC, C_PHARMACY, true, rxId);
    // Same kid, another key: the registered JWKS does not verify it.
    const other = signingKey(key.kid);
    const cases: [string, string | undefined, string][] = [
      ['signature_missing', undefined, ''],
      ['signature_invalid', await other.sign(rxDoc(rxId, C_PHARMACY, 'CII')), ''],
      ['signature_mismatch', await key.sign(rxDoc(randomUUID(), C_PHARMACY, 'CII')), ''],
      ['signature_mismatch', await key.sign(rxDoc(rxId, C_PHARMACY, 'CIV')), ''],
    ];
    for (const [reason, jws] of cases) {
      const msg = m();
      const a = await sendTo(url(), pki.clinicClient, pki, buildMessage(msg), jws);
      expect(a.http, reason).toBe(400);
      expect(a.message.body).toMatchObject({ code: '900' });
      const rec = (await switchAudit()).find(
        (r) =>
          r.action === 'switch.message.refused' && r.details.messageId === msg.header.messageId,
      );
      expect(rec?.details.reason).toBe(reason);
      expect(await stored(msg.header.messageId)).toHaveLength(0);
    }
    // Tampered: a valid JWS with one payload character changed.
    const good = await key.sign(rxDoc(rxId, C_PHARMACY, 'CII'));
    const [h, pl, s] = good.split('.');
    const flipped = `${h ?? ''}.${(pl ?? '').slice(0, -2)}${(pl ?? '').endsWith('A') ? 'B' : 'A'}${(pl ?? '').slice(-1)}.${s ?? ''}`;
    const t = m();
    const tampered = await sendTo(url(), pki.clinicClient, pki, buildMessage(t), flipped);
    expect(tampered.message.body).toMatchObject({ code: '900' });

    const ok = m();
    const accepted = await sendTo(url(), pki.clinicClient, pki, buildMessage(ok), good);
    expect(accepted.http).toBe(200);
    expect(accepted.message.body).toMatchObject({ code: '010' });
    await until(() => cPharmacy.byMessageId(ok.header.messageId).length === 1, 15_000, 'delivery');
    expect(cPharmacy.byMessageId(ok.header.messageId)[0]?.jws).toBe(good);
  }, 60_000);

  it('requires a verifying JWS on every NewRx: an unsigned one, or a controlled one stripped of its DEASchedule, is refused', async () => {
    const unsigned = newRx(CLINIC, PHARMACY, false);
    const rxId = randomUUID();
    const cii = await signedNewRx(key, CLINIC, C_PHARMACY, true, rxId);
    const strip = (m: typeof unsigned) => {
      const medication = { ...m.body.medicationPrescribed };
      const header = { ...m.header, messageId: scriptId(randomUUID()) };
      delete medication.deaSchedule;
      delete header.digitalSignature;
      return { ...m, header, body: { ...m.body, medicationPrescribed: medication } };
    };
    const cases: [string, typeof unsigned, string | undefined][] = [
      ['signature_missing', unsigned, undefined],
      ['signature_missing', strip(cii.m), undefined],
      ['signature_mismatch', strip(cii.m), cii.jws],
    ];
    for (const [reason, msg, jws] of cases) {
      const xml = buildMessage(msg);
      expect(xml).toContain('<NewRx>');
      const a = await sendTo(url(), pki.clinicClient, pki, xml, jws);
      expect(a.http, reason).toBe(400);
      expect(a.message.body).toMatchObject({ code: '900' });
      const rec = (await switchAudit()).find(
        (r) =>
          r.action === 'switch.message.refused' && r.details.messageId === msg.header.messageId,
      );
      expect(rec?.details.reason).toBe(reason);
      expect(await stored(msg.header.messageId)).toHaveLength(0);
    }
  }, 60_000);

  it('answers malformed and oversized XML with Error 900, audited, nothing stored', async () => {
    const before = (await switchAudit()).length;
    const bad = await sendTo(url(), pki.clinicClient, pki, '<Message><Header>');
    expect(bad.http).toBe(400);
    expect(bad.message.type).toBe('Error');
    expect(bad.message.body).toMatchObject({ code: '900', descriptionCode: '001' });
    const dtd = await sendTo(
      url(),
      pki.clinicClient,
      pki,
      '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Message>&e;</Message>',
    );
    expect(dtd.message.body).toMatchObject({ code: '900' });
    const big = await sendTo(url(), pki.clinicClient, pki, Buffer.alloc(300 * 1024, 0x41));
    expect(big.http).toBe(413);
    expect(big.message.body).toMatchObject({ code: '900' });
    // (Earlier messages may still be delivering: only the refusals matter here.)
    const after = (await switchAudit())
      .slice(before)
      .filter(
        (r) => r.action !== 'switch.message.delivered' && !r.action.startsWith('switch.answer.'),
      );
    expect(after.map((r) => r.action)).toEqual([
      'switch.message.refused',
      'switch.message.refused',
      'switch.message.refused',
    ]);
    expect(after.map((r) => r.details.reason)).toEqual([
      'codec_malformed',
      'codec_forbidden_markup',
      'too_large',
    ]);
  });

  it('relays a recipient rejection to the sender as Error 900', async () => {
    pharmacy.mode = 'reject';
    try {
      const { m, xml, jws } = await signedNewRx(key, CLINIC, PHARMACY, false);
      const a = await sendTo(url(), pki.clinicClient, pki, xml, jws);
      expect(a.message.body).toMatchObject({ code: '010' });
      const relayed = () =>
        clinicInbound.received.filter(
          (r) => r.message.header.relatesToMessageId === m.header.messageId,
        );
      await until(() => relayed().length === 1, 15_000, 'relay');
      expect(relayed()[0]?.message.type).toBe('Error');
      expect(relayed()[0]?.message.body).toMatchObject({ code: '900' });
      expect((await stored(m.header.messageId))[0]?.status).toBe('failed');
    } finally {
      pharmacy.mode = 'ok';
    }
  }, 60_000);

  it('gives up at the deadline and relays Error 900 (008) to the sender', async () => {
    await pharmacy.stop();
    try {
      const { m, xml, jws } = await signedNewRx(key, CLINIC, PHARMACY, false);
      const a = await sendTo(url(), pki.clinicClient, pki, xml, jws);
      expect(a.message.body).toMatchObject({ code: '010' });
      await p.db.withTenant(SWITCH_TENANT_ID, (tx) =>
        tx.query(
          `UPDATE switch_messages SET deadline_at = now() - interval '1 second' WHERE message_id = $1`,
          [m.header.messageId],
        ),
      );
      const relayed = () =>
        clinicInbound.received.filter(
          (r) => r.message.header.relatesToMessageId === m.header.messageId,
        );
      await until(() => relayed().length === 1, 15_000, 'relay');
      expect(relayed()[0]?.message.type).toBe('Error');
      expect(relayed()[0]?.message.body).toMatchObject({ code: '900', descriptionCode: '008' });
      const rec = (await switchAudit()).find(
        (r) => r.action === 'switch.message.rejected' && r.details.messageId === m.header.messageId,
      );
      expect(rec?.details).toMatchObject({ answerCode: 'expired', reason: 'deadline_passed' });
    } finally {
      await pharmacy.start();
    }
  }, 60_000);

  it('keeps switch rows out of every other tenant (RLS) and seals message bodies', async () => {
    const other = await freshTenant(p.db, 'Another clinic');
    const seen = await p.db.withTenant(other, async (tx) => {
      const { rows } = await tx.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM switch_messages)::int
              + (SELECT count(*) FROM switch_participants)::int AS n`,
      );
      return rows[0]?.n;
    });
    expect(seen).toBe(0);
    const counts = await p.db.withTenant(SWITCH_TENANT_ID, async (tx) => {
      const { rows } = await tx.query<{ total: number; clear: number }>(
        `SELECT count(*)::int AS total,
                count(*) FILTER (WHERE position(convert_to('NewRx', 'UTF8') in body) > 0)::int AS clear
           FROM switch_messages`,
      );
      return rows[0];
    });
    expect(counts?.total).toBeGreaterThan(0);
    expect(counts?.clear).toBe(0);
  });

  it('refuses to register an address another participant owns', async () => {
    const squatter = {
      ...pharmacyParticipant(pki, PHARMACY, pharmacy, ['new']),
      id: 'pharmacy-squatter',
      clientPins: { primary: `${'C'.repeat(43)}=` },
    };
    const err = await saveParticipants(p.db, p.clock, [squatter], { kind: 'cli' }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'conflict' });
  });

  it('keeps a tamper-evident log that verifies', async () => {
    const signer = await checkpointSigner(p.signingKeys, 'test/switch/audit');
    const cp = await createCheckpoint(p.db, signer, 'test/switch/audit');
    expect(cp).not.toBeNull();
    const report = await verifyAuditLog(p.db, signer.publicKey);
    expect(report.ok, JSON.stringify(report.problem)).toBe(true);
    expect(report.checkpoints).toBeGreaterThan(0);
    expect((await switchAudit()).length).toBeGreaterThan(10);
  });
});
