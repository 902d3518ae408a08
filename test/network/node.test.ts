import { randomUUID, X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Random, TenantId } from '../../src/core/index.js';
import { openRow } from '../../src/crypto/row-cipher.js';
import { createCa, issueCert, type IssuedCert } from '../../src/crypto/x509.js';
import { PatientAccess } from '../../src/access/patient-access.js';
import { sessionAuthenticator } from '../../src/http/session-auth.js';
import { networkRoutes } from '../../src/http/routes/network.routes.js';
import { createMtlsServer, deliver, DeliveryError, spkiSha256 } from '../../src/network/mtls.js';
import type { MtlsRefusal } from '../../src/network/mtls.js';
import { buildMessage, parseMessage } from '../../src/network/ncpdp-script.codec.js';
import type { Header, ScriptMessage } from '../../src/network/ncpdp-script.types.js';
import { SCRIP_SOFTWARE, scriptId } from '../../src/network/newrx-message.js';
import { composeNetworkNode, type NetworkNode } from '../../src/network/network-node.js';
import { startNetworkListener } from '../../src/network/network-listener.js';
import { NETWORK_OUTBOX } from '../../src/network/network-outbox.table.js';
import { NetworkOutboxWorker } from '../../src/network/network-outbox.worker.js';
import { OutboxWorker, PRINT_REQUIRED } from '../../src/network/outbox-worker.js';
import { PRINT_BANNER } from '../../src/network/print-copy.js';
import { mtlsTransport, type OutboxTransport } from '../../src/network/outbox-transport.js';
import {
  assertPharmacy,
  PharmacyDirectoryRepository,
} from '../../src/network/pharmacy-directory.repository.js';
import {
  allowAllGate,
  baaSendGate,
  GATE_RECHECK_MS,
  type SendGate,
} from '../../src/network/send-gate.js';
import { buildTestApp } from '../app.js';
import { freshTenant } from '../db.js';
import { auditActions, get, post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { pharmacyRow } from './pharmacy-fixtures.js';
import { samples } from './ncpdp-samples.js';
import {
  clinic,
  draftBody,
  DRUGS,
  patientWithTeam,
  plainUser,
  proofedPrescriber,
  rxHarness,
  stepUp,
  type Clinic,
  type Person,
  type RxHarness,
} from '../rx/rx-harness.js';

const DOC = practitioner('Okafor', '123456789', '123456');
const CLINIC_ID = 'SCRIP-CLINIC-01';
/** The pharmacy the clinic prescribes to (its directory entry). */
const PHARMACY = '1234567';
/** A pharmacy tenant of the same installation. */
const PHARMACY_TENANT_ID = '7654321';
const HIGH: Random = { uuid: () => randomUUID(), bytes: (n) => Buffer.alloc(n, 0xff) };
const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));

interface Pki {
  ca: IssuedCert;
  listener: IssuedCert;
  switchClient: IssuedCert;
  clinicClient: IssuedCert;
  pharmacyClient: IssuedCert;
  stranger: IssuedCert;
  otherCaClient: IssuedCert;
}

async function makePki(): Promise<Pki> {
  const ca = await createCa('Test network CA', 2);
  const otherCa = await createCa('Someone else CA', 2);
  const client = (cn: string, from = ca) =>
    issueCert(from, { commonName: cn, usage: 'client', days: 1 });
  return {
    ca,
    listener: await issueCert(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      days: 1,
    }),
    switchClient: await client('switch'),
    clinicClient: await client('clinic-01'),
    pharmacyClient: await client('pharmacy-01'),
    stranger: await client('stranger'),
    otherCaClient: await client('switch', otherCa),
  };
}

/** Always answers the same transport result (the NewRx worker's side of the network). */
const answering = (code: '000' | '010'): OutboxTransport => ({
  deliver: () => Promise.resolve({ kind: 'status', code }),
});

describe('network node: identities, inbound listener, clinic handling, outbox, BAA gate', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  let node: NetworkNode;
  let pki: Pki;
  let listener: Server;
  let listenerUrl: string;
  let app: FastifyInstance;
  let pharmacyTenant: TenantId;
  const refusals: MtlsRefusal[] = [];

  beforeAll(async () => {
    pki = await makePki();
    h = await rxHarness();
    c = await clinic(h, [DOC]);
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    const dir = new PharmacyDirectoryRepository(h.clock);
    await h.p.db.withTenant(c.tenant, (tx) =>
      dir.create(tx, c.tenant, assertPharmacy(pharmacyRow(PHARMACY))),
    );
    node = composeNetworkNode({
      db: h.p.db,
      clock: h.clock,
      keyring: h.p.keyring,
      access: new PatientAccess(h.clock),
      rx: h.rx.service,
    });
    await node.identities.set(
      c.tenant,
      {
        qualifier: 'D',
        address: CLINIC_ID,
        certPem: pki.clinicClient.certPem,
        keyPem: pki.clinicClient.keyPem,
      },
      { kind: 'cli' },
    );
    pharmacyTenant = await freshTenant(h.p.db, 'Corner pharmacy');
    const started = await startNetworkListener(
      {
        key: pki.listener.keyPem,
        cert: pki.listener.certPem,
        clientCa: pki.ca.certPem,
        clientPins: [pinOf(pki.switchClient.certPem)],
        dispatcher: node.dispatcher,
        onRefused: (reason) => refusals.push(reason),
      },
      '127.0.0.1',
      0,
    );
    listener = started.server;
    listenerUrl = `https://127.0.0.1:${String(started.port)}/ncpdp/script`;
    app = (
      await buildTestApp(h.p.db, {
        routes: networkRoutes(node, h.rx, h.p.db),
        authenticator: sessionAuthenticator(h.p.identity.sessions),
      })
    ).app;
  }, 180_000);
  afterAll(async () => {
    await app.close();
    await new Promise<void>((r) => {
      listener.close(() => {
        r();
      });
      listener.closeAllConnections();
    });
    await h.close();
  });

  /** Signs a non-controlled prescription (queued, NewRx in the outbox); returns its id. */
  async function signed(team: readonly string[] = []): Promise<string> {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId, ...team]);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.amoxicillin),
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

  const newRxWorker = (transport: OutboxTransport, gate: SendGate = allowAllGate) =>
    new OutboxWorker(
      {
        db: h.p.db,
        clock: h.clock,
        random: HIGH,
        keyring: h.p.keyring,
        rx: h.rx.service,
        transport,
        gate,
      },
      {
        batch: 10,
        leaseMs: 60_000,
        baseBackoffMs: 10_000,
        maxBackoffMs: 600_000,
        from: { qualifier: 'D', id: 'UNUSED' },
      },
    );

  /** A signed prescription the switch took for forwarding (Status 010): transmitted. */
  async function transmitted(): Promise<{ id: string; messageId: string }> {
    const id = await signed();
    expect((await newRxWorker(answering('010')).runOnce()).sent).toBeGreaterThanOrEqual(1);
    const messageId = await h.p.db.withTenant(c.tenant, async (tx) => {
      const { rows } = await tx.query<{ message_id: string }>(
        `SELECT message_id FROM outbox WHERE prescription_id = $1 AND kind = 'NewRx'`,
        [id],
      );
      return rows[0]!.message_id;
    });
    return { id, messageId: scriptId(messageId) };
  }

  const rxStatus = (id: string) =>
    h.p.db.withTenant(c.tenant, async (tx) => (await h.rx.repo.get(tx, c.tenant, id)).status);
  const timeline = (id: string) =>
    h.p.db.withTenant(c.tenant, async (tx) =>
      (
        await tx.query<{ event: string; code: string | null }>(
          'SELECT event, code FROM delivery_events WHERE prescription_id = $1 ORDER BY seq',
          [id],
        )
      ).rows.map((r) => (r.code === null ? r.event : `${r.event}:${r.code}`)),
    );
  const inboundCount = () =>
    h.p.db.withTenant(c.tenant, async (tx) =>
      Number(
        (await tx.query<{ n: string }>('SELECT count(*) AS n FROM network_inbound')).rows[0]!.n,
      ),
    );

  /** A pharmacy's message To the clinic. */
  const fromPharmacy = (over: Partial<Header>): Header => ({
    to: { qualifier: 'D', id: CLINIC_ID },
    from: { qualifier: 'P', id: PHARMACY },
    messageId: scriptId(randomUUID()),
    sentTime: h.clock.now().toISOString(),
    senderSoftware: { developer: 'Acme Rx', product: 'PharmSys', version: '7.2' },
    ...over,
  });

  /** POSTs over mTLS as the switch (or `as`), like the network would. */
  const send = (body: string | Buffer, as: IssuedCert = pki.switchClient) =>
    deliver(listenerUrl, body, {
      clientKey: as.keyPem,
      clientCert: as.certPem,
      ca: pki.ca.certPem,
      pins: [pinOf(pki.listener.certPem)],
    });

  const answerOf = (body: Buffer): ScriptMessage => {
    const parsed = parseMessage(body);
    if (!parsed.ok) throw new Error(`unparseable answer: ${parsed.error.code}`);
    return parsed.message;
  };

  it('keeps the client key sealed; shows the identity without key material; an address is one tenant’s', async () => {
    const shown = await node.identities.list(c.tenant);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ qualifier: 'D', address: CLINIC_ID });
    expect(shown[0]!.certPin).toBe(pinOf(pki.clinicClient.certPem));
    expect(JSON.stringify(shown)).not.toContain('PRIVATE KEY');
    const raw = await h.p.db.withTenant(
      c.tenant,
      async (tx) =>
        (await tx.query<{ k: Buffer }>('SELECT private_key AS k FROM network_identities')).rows,
    );
    expect(raw[0]!.k.toString('latin1')).not.toContain('PRIVATE KEY');
    await expect(
      node.identities.set(
        pharmacyTenant,
        {
          qualifier: 'D',
          address: CLINIC_ID,
          certPem: pki.pharmacyClient.certPem,
          keyPem: pki.pharmacyClient.keyPem,
        },
        { kind: 'cli' },
      ),
    ).rejects.toMatchObject({ code: 'conflict' });
    await expect(
      node.identities.set(
        pharmacyTenant,
        {
          qualifier: 'P',
          address: PHARMACY_TENANT_ID,
          certPem: pki.pharmacyClient.certPem,
          keyPem: pki.clinicClient.keyPem,
        },
        { kind: 'cli' },
      ),
    ).rejects.toMatchObject({ code: 'validation_failed', detail: 'key' });
  });

  it('Status 000 from the pharmacy acknowledges; a duplicate MessageID gets the same answer and changes nothing', async () => {
    const rx = await transmitted();
    expect(await rxStatus(rx.id)).toBe('transmitted');
    const xml = buildMessage({
      type: 'Status',
      header: fromPharmacy({ relatesToMessageId: rx.messageId }),
      body: { code: '000' },
    });
    const first = await send(xml);
    expect(first.status).toBe(200);
    const answer = answerOf(first.body);
    expect(answer.type).toBe('Status');
    expect(answer.header.to).toEqual({ qualifier: 'P', id: PHARMACY });
    expect(await rxStatus(rx.id)).toBe('acknowledged');
    const events = await timeline(rx.id);
    expect(events).toEqual(['queued', 'sent:010', 'acknowledged:000']);
    // The lifecycle record of the pharmacy's acknowledgement (issue 6 point 1), no PHI in it.
    const acked = (await auditActions(h, c.tenant)).filter(
      (a) => a.action === 'prescription.acknowledged',
    );
    expect(acked).toEqual([
      expect.objectContaining({
        outcome: 'success',
        details: expect.objectContaining({ from: 'transmitted' }) as unknown,
      }),
    ]);
    const audits = (await auditActions(h, c.tenant)).filter(
      (a) => a.action === 'network.inbound.received',
    ).length;
    const inbound = await inboundCount();

    const again = await send(xml);
    expect(again.status).toBe(200);
    expect(again.body.equals(first.body)).toBe(true);
    expect(await timeline(rx.id)).toEqual(events);
    expect(await inboundCount()).toBe(inbound);
    expect(
      (await auditActions(h, c.tenant)).filter((a) => a.action === 'network.inbound.received'),
    ).toHaveLength(audits);
  });

  it('a malformed message gets Error 900, is audited, and changes nothing', async () => {
    const before = await inboundCount();
    const res = await send('<Message><Header><To>oops');
    expect(res.status).toBe(400);
    const answer = answerOf(res.body);
    expect(answer.type).toBe('Error');
    if (answer.type === 'Error') expect(answer.body.code).toBe('900');
    expect(await inboundCount()).toBe(before);
    const refused = (await auditActions(h, null)).filter(
      (a) => a.action === 'network.inbound.refused',
    );
    expect(refused.at(-1)?.details.reason).toBe('malformed');
  });

  it('an unknown recipient gets Error 900', async () => {
    const xml = buildMessage({
      type: 'Status',
      header: fromPharmacy({ to: { qualifier: 'D', id: 'NOBODY-HERE' } }),
      body: { code: '000' },
    });
    const res = await send(xml);
    expect(res.status).toBe(400);
    const answer = answerOf(res.body);
    expect(answer.type).toBe('Error');
    expect(
      (await auditActions(h, null)).filter((a) => a.action === 'network.inbound.refused').at(-1)
        ?.details.reason,
    ).toBe('unknown_recipient');
  });

  it('refuses a client certificate that is not pinned, or from another CA, before any message bytes', async () => {
    const before = await inboundCount();
    const xml = buildMessage({ type: 'Status', header: fromPharmacy({}), body: { code: '000' } });
    await expect(send(xml, pki.stranger)).rejects.toBeInstanceOf(DeliveryError);
    await expect(send(xml, pki.otherCaClient)).rejects.toBeInstanceOf(DeliveryError);
    expect(refusals).toContain('client_pin_mismatch');
    expect(refusals).toContain('handshake_failed');
    expect(await inboundCount()).toBe(before);
  });

  it('RxFill dispenses (a partial fill is recorded); Error puts a transmitted prescription in error', async () => {
    const rx = await transmitted();
    const fill = (kind: 'Dispensed' | 'PartiallyDispensed') =>
      buildMessage({
        type: 'RxFill',
        header: fromPharmacy({ prescriberOrderNumber: scriptId(rx.id) }),
        body: { ...samples.RxFill.body, fillStatus: { kind } },
      });
    expect((await send(fill('PartiallyDispensed'))).status).toBe(200);
    expect(await rxStatus(rx.id)).toBe('dispensed');
    expect((await send(fill('Dispensed'))).status).toBe(200);
    expect(await timeline(rx.id)).toEqual([
      'queued',
      'sent:010',
      'partially_dispensed:PartiallyDispensed',
      'dispensed:Dispensed',
    ]);

    const bad = await transmitted();
    const error = buildMessage({
      type: 'Error',
      header: fromPharmacy({ relatesToMessageId: bad.messageId }),
      body: { code: '900', descriptionCode: '002' },
    });
    expect((await send(error)).status).toBe(200);
    expect(await rxStatus(bad.id)).toBe('error');
    expect((await timeline(bad.id)).at(-1)).toBe('error:script_900.002');
  });

  it('a pharmacy the prescription was not routed to, or a foreign RelatesToMessageID, gets the unknown-prescription Error 900, changes nothing, audited', async () => {
    const rx = await transmitted();
    const other = await transmitted();
    const before = await timeline(rx.id);
    const OTHER_PHARMACY = '7777777';
    const errorOf = async (xml: string) => {
      const res = await send(xml);
      expect(res.status).toBe(400);
      const a = answerOf(res.body);
      if (a.type !== 'Error') throw new Error(`expected Error, got ${a.type}`);
      return { code: a.body.code, dc: a.body.descriptionCode, text: a.body.description };
    };
    const unknown = await errorOf(
      buildMessage({
        type: 'Status',
        header: fromPharmacy({ prescriberOrderNumber: scriptId(randomUUID()) }),
        body: { code: '000' },
      }),
    );
    expect(unknown).toEqual({ code: '900', dc: '002', text: 'unknown prescription' });
    const stranger = (over: Partial<Header>) =>
      fromPharmacy({ from: { qualifier: 'P', id: OTHER_PHARMACY }, ...over });
    const attempts = [
      buildMessage({
        type: 'Status',
        header: stranger({ relatesToMessageId: rx.messageId }),
        body: { code: '000' },
      }),
      buildMessage({
        type: 'RxFill',
        header: stranger({ prescriberOrderNumber: scriptId(rx.id) }),
        body: { ...samples.RxFill.body, fillStatus: { kind: 'Dispensed' } },
      }),
      buildMessage({
        type: 'Error',
        header: stranger({ relatesToMessageId: rx.messageId }),
        body: { code: '900', descriptionCode: '002' },
      }),
      buildMessage({
        ...samples.RxRenewalRequest,
        header: stranger({ prescriberOrderNumber: scriptId(rx.id) }),
      }),
      // A prescriber-system address (qualifier D) with the pharmacy's number is not the pharmacy.
      buildMessage({
        type: 'Status',
        header: fromPharmacy({
          from: { qualifier: 'D', id: PHARMACY },
          relatesToMessageId: rx.messageId,
        }),
        body: { code: '000' },
      }),
    ];
    for (const xml of attempts) expect(await errorOf(xml)).toEqual(unknown);
    // The routed pharmacy, but relating to another prescription's message.
    expect(
      await errorOf(
        buildMessage({
          type: 'RxFill',
          header: fromPharmacy({
            prescriberOrderNumber: scriptId(rx.id),
            relatesToMessageId: other.messageId,
          }),
          body: { ...samples.RxFill.body, fillStatus: { kind: 'Dispensed' } },
        }),
      ),
    ).toEqual(unknown);
    expect(await rxStatus(rx.id)).toBe('transmitted');
    expect(await timeline(rx.id)).toEqual(before);
    const queued = await h.p.db.withTenant(c.tenant, async (tx) =>
      Number(
        (
          await tx.query<{ n: string }>(
            'SELECT count(*) AS n FROM prescriber_requests WHERE prescription_id = $1',
            [rx.id],
          )
        ).rows[0]!.n,
      ),
    );
    expect(queued).toBe(0);
    const reasons = (await auditActions(h, c.tenant))
      .filter((a) => a.action === 'network.inbound.refused')
      .map((a) => a.details.reason);
    expect(reasons.filter((r) => r === 'sender_not_routed')).toHaveLength(5);
    expect(reasons).toContain('foreign_relates_to');
    expect(reasons).toContain('unknown_prescription');
    // The routed pharmacy with its own prescription's message still acknowledges.
    const ok = await send(
      buildMessage({
        type: 'Status',
        header: fromPharmacy({ relatesToMessageId: rx.messageId }),
        body: { code: '000' },
      }),
    );
    expect(ok.status).toBe(200);
    expect(await rxStatus(rx.id)).toBe('acknowledged');
  });

  it('a cancellation shows cancel_requested, then the pharmacy’s CancelRxResponse confirms or denies it', async () => {
    const rx = await transmitted();
    const cancelled = await post(h.app, `/api/v1/prescriptions/${rx.id}/cancel`, doc.browser);
    expect(cancelled.statusCode, cancelled.body).toBe(200);
    const answer = (kind: 'Approved' | 'Denied') =>
      buildMessage({
        type: 'CancelRxResponse',
        header: fromPharmacy({ prescriberOrderNumber: scriptId(rx.id) }),
        body: {
          ...samples.CancelRxResponse.body,
          response: kind === 'Approved' ? { kind } : { kind, reasonCode: 'AP' },
        },
      });
    expect((await send(answer('Denied'))).status).toBe(200);
    expect((await send(answer('Approved'))).status).toBe(200);
    expect(await timeline(rx.id)).toEqual([
      'queued',
      'sent:010',
      'cancel_requested',
      'cancel_denied:AP',
      'cancel_confirmed:Approved',
    ]);
  });

  it('refuses a body over the limit with 413 before parsing it', async () => {
    const before = await inboundCount();
    const res = await send(Buffer.alloc(600 * 1024, 0x20));
    expect(res.status).toBe(413);
    expect(await inboundCount()).toBe(before);
  });

  it('the delivery timeline route answers the prescriber, and 404 to a user without a relationship', async () => {
    const rx = await transmitted();
    const res = await get(app, `/api/v1/prescriptions/${rx.id}/delivery`, doc.browser);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json<{ status: string; events: { event: string; at: string }[] }>();
    expect(body.status).toBe('transmitted');
    expect(body.events.map((e) => e.event)).toEqual(['queued', 'sent']);
    const stranger = await plainUser(h, c, 'coordinator@example.test', ['care_coordinator']);
    const other = await get(app, `/api/v1/prescriptions/${rx.id}/delivery`, stranger.browser);
    expect(other.statusCode).toBe(404);
  });

  it('a failed transmission: the prescriber sees it, prints a marked copy (recorded, audited without PHI), and only they can', async () => {
    const other = await plainUser(h, c, 'print-other@example.test', ['prescriber']);
    const coordinator = await plainUser(h, c, 'print-coord@example.test', ['care_coordinator']);
    const id = await signed([other.userId]);
    const refusing: OutboxTransport = {
      deliver: () => Promise.resolve({ kind: 'error', code: 'script_900', permanent: true }),
    };
    expect((await newRxWorker(refusing).runOnce()).failed).toBeGreaterThanOrEqual(1);
    const rx = await h.p.db.withTenant(c.tenant, (tx) => h.rx.repo.get(tx, c.tenant, id));
    expect(rx).toMatchObject({ status: 'error', errorCode: PRINT_REQUIRED });
    const failures = async (who: Person) => {
      const r = await get(app, '/api/v1/transmission-failures', who.browser);
      expect(r.statusCode, r.body).toBe(200);
      return r.json<{ items: { prescriptionId: string }[] }>().items.map((i) => i.prescriptionId);
    };
    expect(await failures(doc)).toContain(id);
    expect(await failures(other)).not.toContain(id);

    // Not the prescriber who signed it (on the care team, with rx.sign): the same 404 as missing.
    const notTheirs = await get(app, `/api/v1/prescriptions/${id}/print`, other.browser);
    expect(notTheirs.statusCode).toBe(404);
    const missing = await get(app, `/api/v1/prescriptions/${randomUUID()}/print`, doc.browser);
    expect(missing.statusCode).toBe(404);
    expect(notTheirs.json<{ title: string }>().title).toBe(missing.json<{ title: string }>().title);
    expect(
      (await get(app, `/api/v1/prescriptions/${id}/print`, coordinator.browser)).statusCode,
    ).toBe(403);
    // A prescription whose transmission did not fail has no printed copy.
    const ok = await transmitted();
    expect((await get(app, `/api/v1/prescriptions/${ok.id}/print`, doc.browser)).statusCode).toBe(
      409,
    );
    expect(await timeline(id)).not.toContain('printed:copy_1');

    const printed = await get(app, `/api/v1/prescriptions/${id}/print`, doc.browser);
    expect(printed.statusCode, printed.body).toBe(200);
    expect(printed.headers['content-type']).toMatch(/^text\/html/);
    expect(printed.headers['cache-control']).toBe('no-store');
    // The site's policy plus exactly one hashed inline style: no inline script, no other style.
    const csp = String(printed.headers['content-security-policy']);
    expect(csp).toMatch(/style-src 'self' 'sha256-[A-Za-z0-9+/]{43}='(;|$)/);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(printed.body).toContain(PRINT_BANNER);
    expect(printed.body).toContain('manually signed');
    expect(printed.body).toContain('Jordan Rivera');
    expect(printed.body).toContain('1980-04-02');
    expect(printed.body).toContain(id);
    expect(await timeline(id)).toContain('printed:copy_1');
    const audits = (await auditActions(h, c.tenant)).filter(
      (a) => a.action === 'rx.transmit.printed',
    );
    expect(audits).toHaveLength(1);
    expect(audits[0]!.details).toEqual({ copy: 1, reason: PRINT_REQUIRED });
    expect(JSON.stringify(audits[0])).not.toContain('Rivera');
    // Printed: no longer waiting for attention; a second copy is numbered.
    expect(await failures(doc)).not.toContain(id);
    expect((await get(app, `/api/v1/prescriptions/${id}/print`, doc.browser)).body).toContain(
      'Copy 2',
    );
    expect((await timeline(id)).filter((e) => e.startsWith('printed'))).toEqual([
      'printed:copy_1',
      'printed:copy_2',
    ]);
  });

  async function requestFor(
    rxId: string,
    type: 'RxRenewalRequest' | 'RxChangeRequest',
  ): Promise<{ id: string; messageId: string }> {
    const header = fromPharmacy({ prescriberOrderNumber: scriptId(rxId) });
    const xml =
      type === 'RxRenewalRequest'
        ? buildMessage({ ...samples.RxRenewalRequest, header })
        : buildMessage({ ...samples.RxChangeRequest, header });
    expect((await send(xml)).status).toBe(200);
    const list = await get(app, '/api/v1/prescriber-requests', doc.browser);
    expect(list.statusCode, list.body).toBe(200);
    const item = list
      .json<{ items: { id: string; prescriptionId: string; kind: string }[] }>()
      .items.find((i) => i.prescriptionId === rxId);
    expect(item?.kind).toBe(type === 'RxRenewalRequest' ? 'renewal' : 'change');
    return { id: item!.id, messageId: header.messageId };
  }

  async function responseOf(messageIdAnswered: string): Promise<ScriptMessage> {
    return h.p.db.withTenant(c.tenant, async (tx) => {
      const { rows } = await tx.query<{ id: string; payload: Buffer; to_address: string }>(
        'SELECT id, payload, to_address FROM network_outbox WHERE relates_to = $1',
        [messageIdAnswered],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.to_address).toBe(PHARMACY);
      const plain = await openRow(tx, h.p.keyring, c.tenant, NETWORK_OUTBOX, rows[0]!.id, {
        payload: rows[0]!.payload,
      });
      if (typeof plain === 'symbol') throw new Error('shredded');
      return answerOf(Buffer.from((JSON.parse(plain.payload!) as { xml: string }).xml));
    });
  }

  it('a renewal request approved: RxRenewalResponse Approved queued and the linked renewal draft created', async () => {
    const rx = await transmitted();
    const req = await requestFor(rx.id, 'RxRenewalRequest');
    const ok = await post(app, `/api/v1/prescriber-requests/${req.id}/approve`, doc.browser, {});
    expect(ok.statusCode, ok.body).toBe(200);
    const decided = ok.json<{ status: string; resultPrescriptionId: string }>();
    expect(decided.status).toBe('approved');
    const renewal = await h.p.db.withTenant(c.tenant, (tx) =>
      h.rx.repo.get(tx, c.tenant, decided.resultPrescriptionId),
    );
    expect(renewal).toMatchObject({ kind: 'renewal', previousId: rx.id, status: 'draft' });
    const response = await responseOf(req.messageId);
    expect(response.type).toBe('RxRenewalResponse');
    if (response.type === 'RxRenewalResponse') {
      expect(response.body.response.kind).toBe('Approved');
      expect(response.header.to).toEqual({ qualifier: 'P', id: PHARMACY });
      expect(response.header.from).toEqual({ qualifier: 'D', id: CLINIC_ID });
    }
    expect(await timeline(rx.id)).toEqual([
      'queued',
      'sent:010',
      'renewal_requested',
      'renewal_approved',
    ]);
    const twice = await post(app, `/api/v1/prescriber-requests/${req.id}/approve`, doc.browser, {});
    expect(twice.statusCode).toBe(409);
  });

  it('two approvals of one renewal request at once: one wins, one renewal draft, nothing left over', async () => {
    const rx = await transmitted();
    const req = await requestFor(rx.id, 'RxRenewalRequest');
    const answers = await Promise.all(
      [0, 1].map(() => post(app, `/api/v1/prescriber-requests/${req.id}/approve`, doc.browser, {})),
    );
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, 409]);
    const drafts = await h.p.db.withTenant(c.tenant, async (tx) => {
      const { rows } = await tx.query<{ id: string }>(
        'SELECT id FROM prescriptions WHERE previous_id = $1',
        [rx.id],
      );
      return rows.map((r) => r.id);
    });
    const winner = answers.find((a) => a.statusCode === 200)!;
    expect(drafts).toEqual([winner.json<{ resultPrescriptionId: string }>().resultPrescriptionId]);
  });

  it('a change request denied: RxChangeResponse Denied with the reason code', async () => {
    const rx = await transmitted();
    const req = await requestFor(rx.id, 'RxChangeRequest');
    const no = await post(app, `/api/v1/prescriber-requests/${req.id}/deny`, doc.browser, {
      reasonCode: 'AF',
    });
    expect(no.statusCode, no.body).toBe(200);
    const response = await responseOf(req.messageId);
    expect(response.type).toBe('RxChangeResponse');
    if (response.type === 'RxChangeResponse') {
      expect(response.body.response).toMatchObject({ kind: 'Denied', reasonCode: 'AF' });
    }
    const stranger = await plainUser(h, c, 'agent@example.test', ['prescriber_agent']);
    const list = await get(app, '/api/v1/prescriber-requests', stranger.browser);
    expect(list.statusCode).toBe(403);
    // Another prescriber of the clinic: the request is not theirs (same answer as missing).
    const other = await plainUser(h, c, 'other-doc@example.test', ['prescriber']);
    expect(
      (await get(app, '/api/v1/prescriber-requests', other.browser)).json<{ items: unknown[] }>()
        .items,
    ).toEqual([]);
    const pending = await requestFor(rx.id, 'RxRenewalRequest');
    const theirs = await post(
      app,
      `/api/v1/prescriber-requests/${pending.id}/deny`,
      other.browser,
      { reasonCode: 'AF' },
    );
    expect(theirs.statusCode).toBe(404);
    const missing = await post(
      app,
      `/api/v1/prescriber-requests/${randomUUID()}/deny`,
      doc.browser,
      { reasonCode: 'AF' },
    );
    expect(missing.statusCode).toBe(404);
  });

  describe('sending', () => {
    let switchServer: Server;
    let switchUrl: string;
    const seen: { pin: string; from: string; type: string }[] = [];

    beforeAll(async () => {
      switchServer = createMtlsServer({
        key: pki.listener.keyPem,
        cert: pki.listener.certPem,
        clientCa: pki.ca.certPem,
        handler: (req, res, peer) => {
          const chunks: Buffer[] = [];
          req.on('data', (b: Buffer) => chunks.push(b));
          req.on('end', () => {
            const m = answerOf(Buffer.concat(chunks));
            seen.push({
              pin: peer.pin,
              from: `${m.header.from.qualifier}:${m.header.from.id}`,
              type: m.type,
            });
            const xml = buildMessage({
              type: 'Status',
              header: {
                to: m.header.from,
                from: { qualifier: 'M', id: 'SWITCH' },
                messageId: scriptId(randomUUID()),
                relatesToMessageId: m.header.messageId,
                sentTime: new Date().toISOString(),
                senderSoftware: SCRIP_SOFTWARE,
              },
              body: { code: '010' },
            });
            res.writeHead(200, { 'content-type': 'application/xml' });
            res.end(xml);
          });
        },
      });
      await new Promise<void>((r) => switchServer.listen(0, '127.0.0.1', r));
      // The clinic's answers to the pharmacy above have no reachable endpoint here: out of the way.
      await h.p.db.withTenant(c.tenant, (tx) =>
        tx.query(`UPDATE network_outbox SET status = 'failed', last_error = 'test_set_aside'`),
      );
      switchUrl = `https://127.0.0.1:${String((switchServer.address() as AddressInfo).port)}/ncpdp/script`;
      await node.identities.set(
        pharmacyTenant,
        {
          qualifier: 'P',
          address: PHARMACY_TENANT_ID,
          certPem: pki.pharmacyClient.certPem,
          keyPem: pki.pharmacyClient.keyPem,
          switchUrl,
          switchPins: [pinOf(pki.listener.certPem)],
        },
        { kind: 'cli' },
      );
    });
    afterAll(async () => {
      await new Promise<void>((r) => {
        switchServer.close(() => {
          r();
        });
        switchServer.closeAllConnections();
      });
    });

    const networkWorker = (gate: SendGate = allowAllGate) =>
      new NetworkOutboxWorker({
        db: h.p.db,
        clock: h.clock,
        random: HIGH,
        keyring: h.p.keyring,
        transport: mtlsTransport({ ca: pki.ca.certPem }),
        gate,
      });

    async function enqueueFill(messageId: string): Promise<void> {
      const xml = buildMessage({
        type: 'RxFill',
        header: {
          to: { qualifier: 'D', id: CLINIC_ID },
          from: { qualifier: 'P', id: PHARMACY_TENANT_ID },
          messageId,
          sentTime: h.clock.now().toISOString(),
          senderSoftware: SCRIP_SOFTWARE,
        },
        body: samples.RxFill.body,
      });
      await h.p.db.withTenant(pharmacyTenant, (tx) =>
        node.outbox.enqueue(tx, pharmacyTenant, {
          type: 'RxFill',
          to: { qualifier: 'D', value: CLINIC_ID },
          from: { qualifier: 'P', value: PHARMACY_TENANT_ID },
          messageId,
          xml,
        }),
      );
    }

    const rowOf = (messageId: string) =>
      h.p.db.withTenant(pharmacyTenant, async (tx) => {
        const { rows } = await tx.query<{
          status: string;
          gate_refused: boolean;
          last_error: string | null;
        }>('SELECT status, gate_refused, last_error FROM network_outbox WHERE message_id = $1', [
          messageId,
        ]);
        return rows[0]!;
      });

    it('sends a pharmacy-originated message through the switch with the pharmacy tenant’s own client certificate', async () => {
      const messageId = scriptId(randomUUID());
      await enqueueFill(messageId);
      const report = await networkWorker().runOnce();
      expect(report).toMatchObject({ claimed: 1, sent: 1 });
      expect(seen.at(-1)).toEqual({
        pin: pinOf(pki.pharmacyClient.certPem),
        from: `P:${PHARMACY_TENANT_ID}`,
        type: 'RxFill',
      });
      expect((await rowOf(messageId)).status).toBe('sent');
      expect((await networkWorker().runOnce()).claimed).toBe(0);
    });

    it('a refused BAA gate keeps the message queued, audited once, held on the timeline', async () => {
      const gate = baaSendGate(h.p.compliance.gate);
      // Signed first: the prescriber's session would expire while the clock moves on below.
      const id = await signed();
      const messageId = scriptId(randomUUID());
      await enqueueFill(messageId);
      const before = seen.length;
      expect((await networkWorker(gate).runOnce()).retried).toBe(1);
      expect(await rowOf(messageId)).toMatchObject({
        status: 'pending',
        gate_refused: true,
        last_error: 'gate_refused',
      });
      h.clock.advance(3_600_000);
      expect((await networkWorker(gate).runOnce()).retried).toBe(1);
      expect((await rowOf(messageId)).status).toBe('pending');
      expect(seen.length).toBe(before);
      // However long it has been held, it is checked again within a minute (the back-off with
      // this maximal jitter would be 15 minutes by now): a fixed BAA lets it go at once.
      for (let i = 0; i < 8; i += 1) {
        h.clock.advance(3_600_000);
        expect((await networkWorker(gate).runOnce()).retried).toBe(1);
      }
      const recheckIn = await h.p.db.withTenant(pharmacyTenant, async (tx) => {
        const { rows } = await tx.query<{ next: Date; attempts: number }>(
          'SELECT next_attempt_at AS next, attempts FROM network_outbox WHERE message_id = $1',
          [messageId],
        );
        return {
          ms: rows[0]!.next.getTime() - h.clock.now().getTime(),
          attempts: rows[0]!.attempts,
        };
      });
      expect(recheckIn.attempts).toBe(10);
      expect(recheckIn.ms).toBeGreaterThan(0);
      expect(recheckIn.ms).toBeLessThanOrEqual(GATE_RECHECK_MS);
      const held = (await auditActions(h, pharmacyTenant)).filter(
        (a) => a.action === 'network.send.held',
      );
      expect(held).toHaveLength(1);
      expect(held[0]!.details.refusal).toBe('integration_not_registered');

      // The NewRx path: the prescription stays queued, its timeline shows why.
      const w = newRxWorker(answering('000'), gate);
      expect((await w.runOnce()).sent).toBe(0);
      h.clock.advance(3_600_000);
      await w.runOnce();
      expect(await rxStatus(id)).toBe('queued');
      expect(await timeline(id)).toEqual(['queued', `held:integration_not_registered`]);
      // Past the message's deadline it is still held, not failed (nothing is lost).
      h.clock.advance(48 * 3_600_000);
      await w.runOnce();
      expect(await rxStatus(id)).toBe('queued');
    });

    it('two workers at once deliver a message once; a rejection (Error 900) fails it, audited, one alert', async () => {
      const messageId = scriptId(randomUUID());
      await enqueueFill(messageId);
      const before = seen.length;
      const reports = await Promise.all([networkWorker().runOnce(), networkWorker().runOnce()]);
      expect(reports.reduce((n, r) => n + r.sent, 0)).toBe(1);
      expect(seen.length - before).toBe(1);
      expect((await rowOf(messageId)).status).toBe('sent');

      const rejected = scriptId(randomUUID());
      await enqueueFill(rejected);
      const refusing = new NetworkOutboxWorker({
        db: h.p.db,
        clock: h.clock,
        random: HIGH,
        keyring: h.p.keyring,
        gate: allowAllGate,
        transport: {
          deliver: () => Promise.resolve({ kind: 'error', code: 'script_900', permanent: true }),
        },
      });
      expect(await refusing.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(await rowOf(rejected)).toMatchObject({ status: 'failed', last_error: 'script_900' });
      const failed = (await auditActions(h, pharmacyTenant)).filter(
        (a) => a.action === 'network.delivery.failed',
      );
      expect(failed.at(-1)?.details).toMatchObject({ type: 'RxFill', reason: 'script_900' });
      const alerts = await h.p.db.withTenant(
        pharmacyTenant,
        async (tx) =>
          (
            await tx.query<{ n: string }>(
              `SELECT count(*) AS n FROM alerts WHERE rule = 'transmission_failure' AND subject = $1`,
              [rejected],
            )
          ).rows[0]!.n,
      );
      expect(Number(alerts)).toBe(1);
    });

    it('retries with back-off, then fails past the deadline', async () => {
      const messageId = scriptId(randomUUID());
      await enqueueFill(messageId);
      const flaky = new NetworkOutboxWorker({
        db: h.p.db,
        clock: h.clock,
        random: HIGH,
        keyring: h.p.keyring,
        gate: allowAllGate,
        transport: {
          deliver: () => Promise.resolve({ kind: 'error', code: 'network', permanent: false }),
        },
      });
      expect(await flaky.runOnce()).toMatchObject({ claimed: 1, retried: 1 });
      expect(await rowOf(messageId)).toMatchObject({ status: 'pending', last_error: 'network' });
      expect((await flaky.runOnce()).claimed).toBe(0);
      h.clock.advance(25 * 3_600_000);
      expect(await flaky.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      expect(await rowOf(messageId)).toMatchObject({
        status: 'failed',
        last_error: 'deadline_passed',
      });
    });
  });
});
