import { randomUUID, X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Random, TenantId } from '../../src/core/index.js';
import { createCa, issueCert, type IssuedCert } from '../../src/crypto/x509.js';
import { PatientAccess } from '../../src/access/patient-access.js';
import { spkiSha256 } from '../../src/network/mtls.js';
import { buildMessage } from '../../src/network/ncpdp-script.codec.js';
import { SCRIP_SOFTWARE, scriptId } from '../../src/network/newrx-message.js';
import { composeNetworkNode, type NetworkNode } from '../../src/network/network-node.js';
import { startNetworkListener } from '../../src/network/network-listener.js';
import { NetworkOutboxWorker } from '../../src/network/network-outbox.worker.js';
import { OutboxWorker } from '../../src/network/outbox-worker.js';
import { mtlsTransport } from '../../src/network/outbox-transport.js';
import {
  assertPharmacy,
  PharmacyDirectoryRepository,
} from '../../src/network/pharmacy-directory.repository.js';
import {
  allowAllGate,
  baaSendGate,
  endpointRef,
  networkPharmacyEndpoints,
} from '../../src/network/send-gate.js';
import { freshTenant } from '../db.js';
import { post } from '../identity/harness.js';
import { practitioner } from '../identity/registry-fixture.js';
import { vendorWithIntegration } from '../compliance-evidence/helpers.js';
import { pharmacyRow } from './pharmacy-fixtures.js';
import { samples } from './ncpdp-samples.js';
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
const CLINIC_ID = 'SCRIP-CLINIC-01';
const PHARMACY = '1234567';
const RANDOM: Random = { uuid: () => randomUUID(), bytes: (n) => Buffer.alloc(n, 0x40) };
const pinOf = (pem: string): string => spkiSha256(new X509Certificate(pem));

/**
 * Two tenants of one installation, a clinic and a pharmacy, over the real mutual-TLS path with no
 * switch: the clinic's NewRx worker delivers to the listener, which dispatches To P:<NCPDP ID> to
 * the pharmacy tenant (a stand-in handler until src/pharmacy is merged); the pharmacy's RxFill
 * goes back through the generic outbox and the same listener To D:<clinic id>. The clinic's BAA
 * gate is a real one: the pharmacy endpoint is registered, enabled, and covered by a BAA.
 */
describe('node to node: clinic and pharmacy tenants over the listener', () => {
  let h: RxHarness;
  let c: Clinic;
  let doc: Person;
  let node: NetworkNode;
  let pharmacyTenant: TenantId;
  let listener: Server;
  let ca: IssuedCert;
  const received: { tenantId: string; type: string; jws: string | undefined }[] = [];

  beforeAll(async () => {
    ca = await createCa('Test network CA', 2);
    const server = await issueCert(ca, {
      commonName: 'localhost',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      days: 1,
    });
    const clinicCert = await issueCert(ca, { commonName: 'clinic', usage: 'client', days: 1 });
    const pharmacyCert = await issueCert(ca, { commonName: 'pharmacy', usage: 'client', days: 1 });
    h = await rxHarness();
    c = await clinic(h, [DOC]);
    doc = await proofedPrescriber(h, c, DOC, 'okafor@example.test');
    pharmacyTenant = await freshTenant(h.p.db, 'Main Street Pharmacy');
    node = composeNetworkNode({
      db: h.p.db,
      clock: h.clock,
      keyring: h.p.keyring,
      access: new PatientAccess(h.clock),
      rx: h.rx.service,
    });
    // The stand-in pharmacy side: record the NewRx, accept it, and dispense (RxFill via the port).
    node.register('P', 'NewRx', async (tx, tenantId, m, jws) => {
      received.push({ tenantId, type: m.type, jws });
      // One MessageID in the XML and on the outbox row: the answer must relate to it.
      const fillId = scriptId(randomUUID());
      const fill = buildMessage({
        type: 'RxFill',
        header: {
          to: m.header.from,
          from: m.header.to,
          messageId: fillId,
          relatesToMessageId: m.header.messageId,
          sentTime: h.clock.now().toISOString(),
          senderSoftware: SCRIP_SOFTWARE,
          ...(m.header.prescriberOrderNumber === undefined
            ? {}
            : { prescriberOrderNumber: m.header.prescriberOrderNumber }),
        },
        body: { ...samples.RxFill.body, fillStatus: { kind: 'Dispensed' } },
      });
      await node.outbox.enqueue(tx, tenantId, {
        type: 'RxFill',
        to: { qualifier: 'D', value: m.header.from.id },
        from: { qualifier: 'P', value: m.header.to.id },
        messageId: fillId,
        xml: fill,
      });
      return { kind: 'status' };
    });
    const started = await startNetworkListener(
      {
        key: server.keyPem,
        cert: server.certPem,
        clientCa: ca.certPem,
        clientPins: [pinOf(clinicCert.certPem), pinOf(pharmacyCert.certPem)],
        dispatcher: node.dispatcher,
      },
      '127.0.0.1',
      0,
    );
    listener = started.server;
    const url = `https://127.0.0.1:${String(started.port)}/ncpdp/script`;
    await node.identities.set(
      c.tenant,
      {
        qualifier: 'D',
        address: CLINIC_ID,
        certPem: clinicCert.certPem,
        keyPem: clinicCert.keyPem,
      },
      { kind: 'cli' },
    );
    // The pharmacy reaches prescriber systems through "its switch": here, the same listener.
    await node.identities.set(
      pharmacyTenant,
      {
        qualifier: 'P',
        address: PHARMACY,
        certPem: pharmacyCert.certPem,
        keyPem: pharmacyCert.keyPem,
        switchUrl: url,
        switchPins: [pinOf(server.certPem)],
      },
      { kind: 'cli' },
    );
    const dir = new PharmacyDirectoryRepository(h.clock);
    await h.p.db.withTenant(c.tenant, (tx) =>
      dir.create(
        tx,
        c.tenant,
        assertPharmacy(
          pharmacyRow(PHARMACY, { endpointUrl: url, pins: { primary: pinOf(server.certPem) } }),
        ),
      ),
    );
    // The inventory lists the endpoint host under the ref the gate asks for.
    const listed = await h.p.db.withTenant(c.tenant, (tx) =>
      networkPharmacyEndpoints.list(tx, c.tenant),
    );
    expect(listed.map((e) => e.ref)).toEqual([endpointRef(url)]);
    // The BAA gate on the clinic's side: endpoint registered, BAA signed, integration enabled.
    const vendor = await vendorWithIntegration(h.p.compliance, c.tenant, {
      effective: '2026-01-01',
      expiry: null,
    });
    const actor = { kind: 'cli' as const };
    const integration = await h.p.compliance.integrations.create(
      c.tenant,
      {
        kind: 'pharmacy_network',
        name: 'Main Street Pharmacy',
        ref: endpointRef(url),
        vendorId: vendor.vendorId,
        sendsPhi: true,
      },
      actor,
    );
    await h.p.compliance.integrations.enable(c.tenant, integration.id, actor);
  }, 180_000);
  afterAll(async () => {
    await new Promise<void>((r) => {
      listener.close(() => {
        r();
      });
      listener.closeAllConnections();
    });
    await h.close();
  });

  it('a signed NewRx reaches the pharmacy tenant, is acknowledged, and its RxFill comes back as dispensed', async () => {
    const patientId = await patientWithTeam(h, c.tenant, [doc.userId]);
    const d = await post(
      h.app,
      '/api/v1/prescriptions',
      doc.browser,
      draftBody(patientId, DRUGS.amoxicillin),
    );
    expect(d.statusCode, d.body).toBe(201);
    const id = d.json<{ id: string }>().id;
    expect(
      (await post(h.app, `/api/v1/prescriptions/${id}/ready`, doc.browser, {})).statusCode,
    ).toBe(200);
    expect(await stepUp(h, doc, 'rx.sign')).toBe(200);
    const s = await post(h.app, `/api/v1/prescriptions/${id}/sign`, doc.browser);
    expect(s.statusCode, s.body).toBe(200);
    const jws = s.json<{ jws: string }>().jws;

    const transport = mtlsTransport({ ca: ca.certPem });
    const gate = baaSendGate(h.p.compliance.gate);
    const clinicWorker = new OutboxWorker(
      {
        db: h.p.db,
        clock: h.clock,
        random: RANDOM,
        keyring: h.p.keyring,
        rx: h.rx.service,
        transport,
        gate,
      },
      {
        batch: 10,
        leaseMs: 60_000,
        baseBackoffMs: 1_000,
        maxBackoffMs: 10_000,
        from: { qualifier: 'D', id: 'UNUSED' },
      },
    );
    expect(await clinicWorker.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(received).toEqual([{ tenantId: pharmacyTenant, type: 'NewRx', jws }]);
    const status = () =>
      h.p.db.withTenant(c.tenant, async (tx) => (await h.rx.repo.get(tx, c.tenant, id)).status);
    expect(await status()).toBe('acknowledged');

    const pharmacyWorker = new NetworkOutboxWorker({
      db: h.p.db,
      clock: h.clock,
      random: RANDOM,
      keyring: h.p.keyring,
      transport,
      // The pharmacy tenant has no BAA set up here; the gate is exercised by the clinic worker.
      gate: allowAllGate,
    });
    expect(await pharmacyWorker.runOnce()).toMatchObject({ claimed: 1, sent: 1 });
    expect(await status()).toBe('dispensed');
    const events = await h.p.db.withTenant(c.tenant, async (tx) =>
      (
        await tx.query<{ event: string }>(
          'SELECT event FROM delivery_events WHERE prescription_id = $1 ORDER BY seq',
          [id],
        )
      ).rows.map((r) => r.event),
    );
    expect(events).toEqual(['queued', 'sent', 'acknowledged', 'dispensed']);
    // Nothing left to send on either side; the NewRx was processed once.
    expect((await clinicWorker.runOnce()).claimed).toBe(0);
    expect((await pharmacyWorker.runOnce()).claimed).toBe(0);
    expect(received).toHaveLength(1);
  });
});
