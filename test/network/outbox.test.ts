import { randomUUID, X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Random } from '../../src/core/index.js';
import { createCa, issueCert, type IssuedCert } from '../../src/crypto/x509.js';
import { createMtlsServer, spkiSha256 } from '../../src/network/mtls.js';
import { buildMessage, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import { JWS_HEADER, scriptId, SCRIP_SOFTWARE } from '../../src/network/newrx-message.js';
import {
  answerOf,
  mtlsTransport,
  type OutboxTransport,
  type TransportResult,
} from '../../src/network/outbox-transport.js';
import {
  OutboxWorker,
  PRINT_REQUIRED,
  type OutboxWorkerOptions,
} from '../../src/network/outbox-worker.js';
import { allowAllGate } from '../../src/network/send-gate.js';
import {
  assertPharmacy,
  PharmacyDirectoryRepository,
} from '../../src/network/pharmacy-directory.repository.js';
import { auditActions, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { pharmacyRow, pin as labelPin } from './pharmacy-fixtures.js';
import {
  clinic,
  draftBody,
  DRUGS,
  patientWithTeam,
  proofedPrescriber,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from '../rx/rx-harness.js';

const DOC = practitioner('Okafor', '123456789', '123456');
const PHARMACY = '1234567';
const OPTIONS: OutboxWorkerOptions = {
  batch: 10,
  leaseMs: 60_000,
  baseBackoffMs: 10_000,
  maxBackoffMs: 600_000,
  from: { qualifier: 'D', id: 'SCRIP-CLINIC-01' },
};
/** Jitter at the top of its range, so back-off growth is visible. */
const HIGH: Random = { uuid: () => randomUUID(), bytes: (n) => Buffer.alloc(n, 0xff) };

/** An in-test transport: answers from a script (default Status 000) and records every call. */
class FakeTransport implements OutboxTransport {
  readonly calls: { endpoint: string; messageId: string; jws: string }[] = [];
  constructor(
    private readonly answers: TransportResult[] = [],
    private readonly delayMs = 0,
  ) {}
  async deliver(endpoint: string, _pins: readonly string[], m: { xml: string; jws: string }) {
    const parsed = parseMessage(m.xml);
    if (!parsed.ok) throw new Error('the worker sent an unparseable message');
    this.calls.push({ endpoint, messageId: parsed.message.header.messageId, jws: m.jws });
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return this.answers.shift() ?? { kind: 'status', code: '000' };
  }
}

const RETRY: TransportResult = { kind: 'error', code: 'network', permanent: false };

describe('outbox delivery worker', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;

  beforeAll(async () => {
    h = await rxHarness();
    c = await clinic(h, [DOC]);
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    const dir = new PharmacyDirectoryRepository(h.clock);
    await h.p.db.withTenant(c.tenant, (tx) =>
      dir.create(tx, c.tenant, assertPharmacy(pharmacyRow(PHARMACY))),
    );
  }, 180_000);
  afterAll(async () => {
    await h.close();
  });

  const worker = (transport: OutboxTransport, random: Random = HIGH) =>
    new OutboxWorker(
      {
        db: h.p.db,
        clock: h.clock,
        random,
        keyring: h.p.keyring,
        rx: h.rx.service,
        transport,
        gate: allowAllGate,
      },
      OPTIONS,
    );

  /** A signed (queued) non-controlled prescription; returns its id. */
  async function signed(extra: Record<string, unknown> = {}): Promise<string> {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.amoxicillin, extra),
    );
    expect(d.statusCode, d.body).toBe(201);
    const id = d.json<{ id: string }>().id;
    const r = await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {});
    expect(r.statusCode, r.body).toBe(200);
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const s = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
    expect(s.statusCode, s.body).toBe(200);
    return id;
  }

  const rxOf = (id: string) => h.p.db.withTenant(c.tenant, (tx) => h.rx.repo.get(tx, c.tenant, id));
  const rowOf = (id: string) =>
    h.p.db.withTenant(c.tenant, async (tx) => {
      const { rows } = await tx.query<{
        message_id: string;
        status: string;
        attempts: number;
        next_attempt_at: Date;
        last_error: string | null;
      }>(
        'SELECT message_id, status, attempts, next_attempt_at, last_error FROM outbox WHERE prescription_id = $1',
        [id],
      );
      expect(rows).toHaveLength(1);
      return rows[0]!;
    });

  it('delivers a signed prescription once; the prescription shows transmitted then acknowledged', async () => {
    const id = await signed();
    const row = await rowOf(id);
    const t = new FakeTransport();
    expect(await worker(t).runOnce()).toEqual({ claimed: 1, sent: 1, retried: 0, failed: 0 });
    expect(await worker(t).runOnce()).toEqual({ claimed: 0, sent: 0, retried: 0, failed: 0 });
    expect(t.calls.map((x) => x.messageId)).toEqual([scriptId(row.message_id)]);
    expect(t.calls[0]!.endpoint).toBe(`https://rx.example.test/${PHARMACY}/script`);
    const p = await rxOf(id);
    expect(p.status).toBe('acknowledged');
    expect(t.calls[0]!.jws).toBe(p.jws);
    expect((await rowOf(id)).status).toBe('sent');
    const actions = (await auditActions(h, c.tenant)).map((a) => a.action);
    expect(actions).toContain('prescription.transmitted');
    expect(actions).toContain('prescription.acknowledged');
  });

  it('retries a failing transport with growing back-off, then delivers', async () => {
    const id = await signed();
    const t = new FakeTransport([RETRY, RETRY]);
    const w = worker(t);
    const t0 = h.clock.now().getTime();
    expect((await w.runOnce()).retried).toBe(1);
    const first = await rowOf(id);
    expect(first).toMatchObject({ status: 'pending', attempts: 1, last_error: 'network' });
    const d1 = first.next_attempt_at.getTime() - t0;
    expect(d1).toBeGreaterThan(9_000);
    expect(d1).toBeLessThanOrEqual(10_000);
    // Not due yet: nothing claimed.
    expect((await w.runOnce()).claimed).toBe(0);
    h.clock.advance(d1);
    const t1 = h.clock.now().getTime();
    expect((await w.runOnce()).retried).toBe(1);
    const second = await rowOf(id);
    expect(second.attempts).toBe(2);
    const d2 = second.next_attempt_at.getTime() - t1;
    expect(d2).toBeGreaterThan(d1 * 1.5);
    expect((await rxOf(id)).status).toBe('queued');
    h.clock.advance(d2);
    expect((await w.runOnce()).sent).toBe(1);
    expect(t.calls).toHaveLength(3);
    expect(new Set(t.calls.map((x) => x.messageId)).size).toBe(1);
    expect((await rxOf(id)).status).toBe('acknowledged');
  });

  it('past the deadline: failed, prescription in error with the print path, audited, one alert', async () => {
    const id = await signed();
    const t = new FakeTransport(Array.from({ length: 10 }, () => RETRY));
    const w = worker(t);
    expect((await w.runOnce()).retried).toBe(1);
    // A short deadline (configurable per deployment; 24 h by default), reached on the clock.
    await h.p.db.withTenant(c.tenant, (tx) =>
      tx.query('UPDATE outbox SET deadline_at = $2 WHERE prescription_id = $1', [
        id,
        new Date(h.clock.now().getTime() + 60_000),
      ]),
    );
    h.clock.advance(60_000);
    expect(await w.runOnce()).toEqual({ claimed: 1, sent: 0, retried: 0, failed: 1 });
    expect(t.calls).toHaveLength(1); // no delivery once the deadline has passed
    expect(await rowOf(id)).toMatchObject({ status: 'failed', last_error: 'deadline_passed' });
    const p = await rxOf(id);
    expect(p.status).toBe('error');
    expect(p.errorCode).toBe(PRINT_REQUIRED);
    const audit = await auditActions(h, c.tenant);
    const failed = audit.filter((a) => a.action === 'rx.transmit.failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      outcome: 'failure',
      details: { printRequired: true, reason: 'deadline_passed', alertRaised: true },
    });
    expect(audit.some((a) => a.action === 'prescription.failed')).toBe(true);
    expect((await w.runOnce()).claimed).toBe(0);
    const alerts = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (
          await tx.query<{ severity: string; count: number }>(
            'SELECT severity, count FROM alerts WHERE subject = $1',
            [id],
          )
        ).rows,
    );
    expect(alerts).toEqual([{ severity: 'high', count: 1 }]);
  });

  it('an unknown pharmacy is a permanent failure at once (print path)', async () => {
    const id = await signed({ pharmacyNcpdpId: '9999999' });
    const t = new FakeTransport();
    expect((await worker(t).runOnce()).failed).toBe(1);
    expect(t.calls).toHaveLength(0);
    expect(await rowOf(id)).toMatchObject({ status: 'failed', last_error: 'pharmacy_unknown' });
    expect((await rxOf(id)).errorCode).toBe(PRINT_REQUIRED);
  });

  it('reads SCRIPT answers: Error 900 is permanent, 600 and garbage are retried; an unrelated answer or a disagreeing HTTP status is refused', () => {
    const SENT = 'SENT0001';
    const header = {
      to: { qualifier: 'D' as const, id: 'SCRIP-CLINIC-01' },
      from: { qualifier: 'P' as const, id: PHARMACY },
      messageId: 'PHARM-0002',
      relatesToMessageId: SENT,
      sentTime: '2026-03-01T09:00:00Z',
      senderSoftware: SCRIP_SOFTWARE,
    };
    const error = (code: '600' | '900', relatesToMessageId = SENT) =>
      Buffer.from(
        buildMessage({ type: 'Error', header: { ...header, relatesToMessageId }, body: { code } }),
      );
    const status = (relatesToMessageId?: string) => {
      const rest: Omit<typeof header, 'relatesToMessageId'> & { relatesToMessageId?: string } = {
        ...header,
      };
      delete rest.relatesToMessageId;
      return Buffer.from(
        buildMessage({
          type: 'Status',
          header: relatesToMessageId === undefined ? rest : { ...rest, relatesToMessageId },
          body: { code: '010' },
        }),
      );
    };
    expect(answerOf(400, error('900'), SENT)).toEqual({
      kind: 'error',
      code: 'script_900',
      permanent: true,
    });
    expect(answerOf(503, error('600'), SENT)).toMatchObject({
      code: 'script_600',
      permanent: false,
    });
    expect(answerOf(502, Buffer.from('<html>bad gateway</html>'), SENT)).toEqual({
      kind: 'error',
      code: 'http_502',
      permanent: false,
    });
    expect(answerOf(200, status(SENT), SENT)).toEqual({ kind: 'status', code: '010' });
    const unrelated = { kind: 'error', code: 'answer_unrelated', permanent: false };
    expect(answerOf(200, status('SOMEONE-ELSE'), SENT)).toEqual(unrelated);
    expect(answerOf(200, status(), SENT)).toEqual(unrelated);
    expect(answerOf(400, error('900', 'SOMEONE-ELSE'), SENT)).toEqual(unrelated);
    const mismatch = { kind: 'error', code: 'answer_http_mismatch', permanent: false };
    expect(answerOf(500, status(SENT), SENT)).toEqual(mismatch);
    expect(answerOf(200, error('900'), SENT)).toEqual(mismatch);
    expect(answerOf(503, error('900'), SENT)).toEqual(mismatch);
    expect(answerOf(200, error('600'), SENT)).toEqual(mismatch);
  });

  it('a rejected message (Error 900) fails at once; Status 010 only transmits', async () => {
    const rejected = await signed();
    const t = new FakeTransport([{ kind: 'error', code: 'script_900', permanent: true }]);
    expect((await worker(t).runOnce()).failed).toBe(1);
    expect(await rowOf(rejected)).toMatchObject({ status: 'failed', last_error: 'script_900' });
    expect((await rxOf(rejected)).status).toBe('error');
    const relayed = await signed();
    expect(
      (await worker(new FakeTransport([{ kind: 'status', code: '010' }])).runOnce()).sent,
    ).toBe(1);
    expect((await rxOf(relayed)).status).toBe('transmitted');
  });

  it('two workers running concurrently deliver each message exactly once', async () => {
    const ids = [await signed(), await signed(), await signed()];
    const t = new FakeTransport([], 20);
    const [a, b] = await Promise.all([worker(t).runOnce(), worker(t).runOnce()]);
    expect(a.claimed + b.claimed).toBe(3);
    expect(a.sent + b.sent).toBe(3);
    const expected = await Promise.all(
      ids.map(async (id) => scriptId((await rowOf(id)).message_id)),
    );
    expect(t.calls.map((x) => x.messageId).sort()).toEqual(expected.sort());
    for (const id of ids) expect((await rxOf(id)).status).toBe('acknowledged');
  });

  it('reclaims a crashed worker’s row once its lease expires, and delivers it once', async () => {
    const id = await signed();
    // Simulated crash: a worker claimed the row and died before recording anything.
    await h.p.db.withTenant(c.tenant, (tx) =>
      tx.query(
        `UPDATE outbox SET status = 'claimed', claimed_by = 'outbox-crashed', claimed_until = $2
          WHERE prescription_id = $1`,
        [id, new Date(h.clock.now().getTime() + OPTIONS.leaseMs)],
      ),
    );
    const t = new FakeTransport();
    const w = worker(t);
    expect((await w.runOnce()).claimed).toBe(0);
    h.clock.advance(OPTIONS.leaseMs + 1);
    expect((await w.runOnce()).sent).toBe(1);
    expect((await w.runOnce()).claimed).toBe(0);
    expect(t.calls).toHaveLength(1);
    expect((await rxOf(id)).status).toBe('acknowledged');
  });

  describe('over a real mTLS server', () => {
    let server: Server;
    let client: IssuedCert;
    let serverCa: IssuedCert;
    const received: { type: string; messageId: string; signed: boolean; jws: string }[] = [];

    beforeAll(async () => {
      serverCa = await createCa('Test switch CA', 2);
      const clientCa = await createCa('Test participants CA', 2);
      const cert = await issueCert(serverCa, {
        commonName: 'localhost',
        dnsNames: ['localhost'],
        usage: 'server',
        days: 1,
      });
      client = await issueCert(clientCa, { commonName: 'clinic-01', usage: 'client', days: 1 });
      server = createMtlsServer({
        key: cert.keyPem,
        cert: cert.certPem,
        clientCa: clientCa.certPem,
        handler: (req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (b: Buffer) => chunks.push(b));
          req.on('end', () => {
            const parsed = parseMessage(Buffer.concat(chunks));
            if (!parsed.ok) throw new Error('pharmacy got an unparseable message');
            const m = parsed.message;
            received.push({
              type: m.type,
              messageId: m.header.messageId,
              signed: m.header.digitalSignature?.indicator === true,
              jws: String(req.headers[JWS_HEADER]),
            });
            res.setHeader('content-type', 'application/xml');
            res.end(
              buildMessage({
                type: 'Status',
                header: {
                  to: m.header.from,
                  from: m.header.to,
                  messageId: 'PHARM-0001',
                  relatesToMessageId: m.header.messageId,
                  sentTime: new Date().toISOString(),
                  senderSoftware: SCRIP_SOFTWARE,
                },
                body: { code: '000' },
              }),
            );
          });
        },
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const dir = new PharmacyDirectoryRepository(h.clock);
      const pin = spkiSha256(new X509Certificate(cert.certPem));
      await h.p.db.withTenant(c.tenant, (tx) =>
        dir.create(
          tx,
          c.tenant,
          assertPharmacy(
            pharmacyRow('7654321', {
              endpointUrl: `https://localhost:${String(port)}/script`,
              pins: { primary: pin },
            }),
          ),
        ),
      );
      // The same server behind pins that are not its key (a substituted certificate).
      await h.p.db.withTenant(c.tenant, (tx) =>
        dir.create(
          tx,
          c.tenant,
          assertPharmacy(
            pharmacyRow('7654322', {
              endpointUrl: `https://localhost:${String(port)}/script`,
              pins: { primary: labelPin('not-the-key'), backup: labelPin('nor-this') },
            }),
          ),
        ),
      );
    });
    afterAll(async () => {
      await new Promise((r) => server.close(r));
    });

    it('delivers the NewRx with its MessageID, DigitalSignature and JWS; the Status acknowledges', async () => {
      const id = await signed({ pharmacyNcpdpId: '7654321' });
      const row = await rowOf(id);
      const transport = mtlsTransport({
        clientKey: client.keyPem,
        clientCert: client.certPem,
        ca: serverCa.certPem,
      });
      expect((await worker(transport).runOnce()).sent).toBe(1);
      const p = await rxOf(id);
      expect(received).toEqual([
        { type: 'NewRx', messageId: scriptId(row.message_id), signed: true, jws: p.jws },
      ]);
      expect(p.status).toBe('acknowledged');
    });

    it('a pin mismatch sends nothing, keeps the message for a retry, and is audited (issue 8 item 4)', async () => {
      const id = await signed({ pharmacyNcpdpId: '7654322' });
      const before = received.length;
      const transport = mtlsTransport({
        clientKey: client.keyPem,
        clientCert: client.certPem,
        ca: serverCa.certPem,
      });
      expect((await worker(transport).runOnce()).retried).toBe(1);
      expect(received).toHaveLength(before);
      expect(await rowOf(id)).toMatchObject({ status: 'pending', last_error: 'pin_mismatch' });
      const refused = (await auditActions(h, c.tenant)).filter(
        (a) => a.action === 'network.peer.pin_mismatch',
      );
      expect(refused).toEqual([
        expect.objectContaining({
          outcome: 'denied',
          details: {
            endpoint: expect.stringMatching(/^https:\/\/localhost:\d+$/) as unknown,
            kind: 'NewRx',
          },
        }),
      ]);
    });
  });
});
