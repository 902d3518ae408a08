import { randomUUID, X509Certificate } from 'node:crypto';
import { asTenantId, cryptoRandom, systemClock, type TenantId } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { Keyring } from '../src/crypto/keyring.js';
import type { KeyProvider } from '../src/crypto/key-provider.js';
import { SigningKeyService } from '../src/crypto/signing-keys.js';
import { createCa, issueCert } from '../src/crypto/x509.js';
import { PatientAccess } from '../src/access/patient-access.js';
import { PatientRepository } from '../src/prescribing/patient.repository.js';
import { composePrescriptions } from '../src/prescribing/prescription.module.js';
import {
  noSafetyChecks,
  type Actor,
  type DrugSnapshot,
} from '../src/prescribing/prescription.types.js';
import { spkiSha256 } from '../src/network/mtls.js';
import { composeNetworkNode } from '../src/network/network-node.js';
import { startNetworkListener } from '../src/network/network-listener.js';
import { mtlsTransport } from '../src/network/outbox-transport.js';
import { OutboxWorker } from '../src/network/outbox-worker.js';
import { allowAllGate } from '../src/network/send-gate.js';
import {
  assertPharmacy,
  PharmacyDirectoryRepository,
} from '../src/network/pharmacy-directory.repository.js';
import { composePharmacy, registerPharmacyHandlers } from '../src/pharmacy/index.js';
import { saveParticipants, startSwitch } from '../src/switch/index.js';

/**
 * rx_delivered_per_s: signed prescriptions carried end to end — outbox row written by signing,
 * the OutboxWorker over the mTLS transport, the switch (Status 010, stored, forwarded over mTLS
 * with pinning), the real pharmacy side (a pharmacy tenant's receiver behind the network node's
 * listener: signature verified against the clinic's JWKS, content compared, archived sealed, in
 * the inbox, answered Status 000), and the switch relaying that Status 000 back through the same
 * listener to the clinic tenant (the prescription becomes `acknowledged`) — per second, with
 * p50/p99 from the end of signing to the clinic's `acknowledged` delivery event.
 */
const DRUG: DrugSnapshot = {
  rxcui: '308191',
  name: 'amoxicillin 500 MG Oral Capsule',
  strength: '500 mg',
  doseForm: 'Oral Capsule',
  route: 'oral',
  ingredients: [{ rxcui: '723', name: 'amoxicillin' }],
  deaSchedule: null,
};
const PHARMACY = '7654321';
const CLINIC = 'BENCH-CLINIC';
const N = 200;
const CLIENTS = 8;
const WORKERS = 4;

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, i)] ?? 0) * 10) / 10;
}

async function clinicTenant(
  db: Database,
  keyring: Keyring,
): Promise<{ tenant: TenantId; actor: Actor; patients: string[] }> {
  const tenant = asTenantId(randomUUID());
  const userId = randomUUID();
  const prooferId = randomUUID();
  const repo = new PatientRepository(keyring, systemClock);
  const patients: string[] = [];
  await db.withTenant(tenant, async (tx) => {
    await tx.query(`INSERT INTO tenants (id, name) VALUES ($1, 'Bench clinic')`, [tenant]);
    for (const [id, name] of [
      [userId, 'Dr Bench'],
      [prooferId, 'Proofer'],
    ] as const) {
      await tx.query(
        `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
         VALUES ($1, $2, $3, $4, '$argon2id$bench', now())`,
        [id, tenant, `bench-${id}@example.test`, name],
      );
      await tx.query(
        `INSERT INTO memberships (tenant_id, user_id, roles, created_at) VALUES ($1, $2, '{prescriber}', now())`,
        [tenant, id],
      );
    }
    // The NewRx needs the prescriber's NPI, which comes from an active identity proofing.
    await tx.query(
      `INSERT INTO identity_proofings (id, tenant_id, user_id, npi, ial, evidence, proofed_by, proofed_at, status)
       VALUES ($1, $2, $3, '1245319599', 'IAL2', '[{"type":"drivers_licence","reference":"bench"}]', $4, now(), 'active')`,
      [randomUUID(), tenant, userId, prooferId],
    );
    for (let i = 0; i < 16; i++) {
      const id = await repo.create(tx, tenant, {
        givenName: 'Bench',
        familyName: `Patient${String(i)}`,
        birthDate: '1970-01-01',
        address: '1 Example Street, Springfield, CA 90001',
      });
      await tx.query(
        `INSERT INTO care_team (tenant_id, patient_id, user_id, relation, added_at) VALUES ($1, $2, $3, 'treating', now())`,
        [tenant, id, userId],
      );
      patients.push(id);
    }
  });
  return {
    tenant,
    actor: {
      tenantId: tenant,
      userId,
      sessionId: randomUUID(),
      permissions: new Set(['rx.draft', 'rx.sign', 'rx.read']),
      roles: ['prescriber'],
    },
    patients,
  };
}

export async function rxDeliveredBench(
  db: Database,
  provider: KeyProvider,
): Promise<Record<string, unknown>> {
  const keyring = new Keyring(provider, systemClock, { cacheTtlMs: 60_000 });
  const signingKeys = new SigningKeyService(db, provider, systemClock);
  const rx = composePrescriptions({
    db,
    clock: systemClock,
    keyring,
    signingKeys,
    patients: new PatientRepository(keyring, systemClock),
    access: new PatientAccess(systemClock),
    drugs: { get: () => Promise.resolve(DRUG) },
    safety: noSafetyChecks,
  });
  const { tenant, actor, patients } = await clinicTenant(db, keyring);

  // One network CA; the switch (server + client), the clinic's client key, the pharmacy's server.
  const ca = await createCa('Bench network CA', 1);
  const local = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 };
  const switchCert = await issueCert(ca, { commonName: 'localhost', usage: 'both', ...local });
  const pharmacyCert = await issueCert(ca, { commonName: 'localhost', usage: 'server', ...local });
  const clinicCert = await issueCert(ca, { commonName: CLINIC, usage: 'client', days: 1 });
  const pin = (pem: string): string => spkiSha256(new X509Certificate(pem));

  // The real pharmacy side, as `openPlatform` composes it: the network node with the pharmacy
  // receiver registered, a pharmacy tenant with its location and the clinic trusted (JWKS).
  const network = composeNetworkNode({
    db,
    clock: systemClock,
    keyring,
    access: new PatientAccess(systemClock),
    rx: rx.service,
  });
  const pharmacySide = composePharmacy({
    db,
    keyring,
    clock: systemClock,
    outbox: network.outbox,
  });
  registerPharmacyHandlers(network, pharmacySide.receiver);
  const pharmacyTenant = asTenantId(randomUUID());
  await db.withTenant(pharmacyTenant, (tx) =>
    tx.query(`INSERT INTO tenants (id, name) VALUES ($1, 'Bench pharmacy')`, [pharmacyTenant]),
  );
  const cli = { kind: 'cli' as const };
  await pharmacySide.setup.createLocation(
    pharmacyTenant,
    { ncpdpId: PHARMACY, name: 'Bench Pharmacy' },
    cli,
  );
  await signingKeys.active(); // the first signing key, as the first signature would make it
  const jwks = await signingKeys.jwks();
  await pharmacySide.setup.trustSender(pharmacyTenant, CLINIC, jwks, cli);
  // The pharmacy tenant owns P:<NCPDP ID> on this node (inbound To P is dispatched by it).
  const pharmacyClient = await issueCert(ca, { commonName: 'pharmacy', usage: 'client', days: 1 });
  await network.identities.set(
    pharmacyTenant,
    {
      qualifier: 'P',
      address: PHARMACY,
      certPem: pharmacyClient.certPem,
      keyPem: pharmacyClient.keyPem,
    },
    cli,
  );
  // One installation hosting both tenants: its node listener receives To P (the pharmacy) and
  // To D (the clinic: the switch's relays); only the switch may connect.
  const listener = await startNetworkListener(
    {
      key: pharmacyCert.keyPem,
      cert: pharmacyCert.certPem,
      clientCa: ca.certPem,
      clientPins: [pin(switchCert.certPem)],
      dispatcher: network.dispatcher,
    },
    '127.0.0.1',
    0,
  );
  const pharmacy = listener.server;
  const pharmacyUrl = `https://localhost:${String(listener.port)}/ncpdp/script`;

  // The clinic's endpoint (for the relays) is the same node listener.
  await saveParticipants(
    db,
    systemClock,
    [
      {
        id: 'bench-clinic',
        kind: 'prescriber_system',
        addresses: [{ qualifier: 'D', value: CLINIC }],
        endpointUrl: pharmacyUrl,
        serverPins: { primary: pin(pharmacyCert.certPem) },
        clientPins: { primary: pin(clinicCert.certPem) },
        serviceLevels: ['new', 'cancel'],
        jwks,
      },
      {
        id: 'bench-pharmacy',
        kind: 'pharmacy',
        addresses: [{ qualifier: 'P', value: PHARMACY }],
        endpointUrl: pharmacyUrl,
        serverPins: { primary: pin(pharmacyCert.certPem) },
        clientPins: { primary: pin(switchCert.certPem) },
        serviceLevels: ['new', 'cancel'],
      },
    ],
    { kind: 'cli' },
  );
  const sw = await startSwitch(
    { db, keyring, clock: systemClock },
    {
      tls: {
        key: switchCert.keyPem,
        cert: switchCert.certPem,
        clientCa: ca.certPem,
        peerCa: ca.certPem,
        clientKey: switchCert.keyPem,
        clientCert: switchCert.certPem,
      },
      policy: { deadlineMs: 3_600_000, baseBackoffMs: 50, maxBackoffMs: 500 },
      host: '127.0.0.1',
      port: 0,
      switchId: 'BENCH-SWITCH',
      intervalMs: 20,
    },
  );
  await db.withTenant(tenant, (tx) =>
    new PharmacyDirectoryRepository(systemClock).create(
      tx,
      tenant,
      assertPharmacy({
        ncpdpId: PHARMACY,
        npi: '1234567893',
        name: 'Bench Pharmacy',
        address: { line: '1 Main St', city: 'Springfield', state: 'IL', zip: '62704' },
        phone: '2175550100',
        serviceLevels: ['new', 'cancel'],
        // The clinic sends to the switch; the switch routes by Header To.
        endpointUrl: `https://localhost:${String(sw.port)}/ncpdp/script`,
        pins: { primary: pin(switchCert.certPem) },
      }),
    ),
  );
  // The clinic's network identity: its From and client key, and the owner of D:<CLINIC> for the
  // relayed answers (no switch URL: it sends to the directory endpoint, which is the switch).
  await network.identities.set(
    tenant,
    { qualifier: 'D', address: CLINIC, certPem: clinicCert.certPem, keyPem: clinicCert.keyPem },
    cli,
  );
  // Several workers, as several `scrip serve` processes would run (claims are SKIP LOCKED).
  const workers = Array.from(
    { length: WORKERS },
    () =>
      new OutboxWorker(
        {
          db,
          clock: systemClock,
          random: cryptoRandom,
          keyring,
          rx: rx.service,
          // The benchmark measures delivery; the BAA gate is tested in test/network.
          gate: allowAllGate,
          transport: mtlsTransport({
            clientKey: clinicCert.keyPem,
            clientCert: clinicCert.certPem,
            ca: ca.certPem,
          }),
        },
        {
          batch: 5,
          leaseMs: 60_000,
          baseBackoffMs: 100,
          maxBackoffMs: 1_000,
          from: { qualifier: 'D', id: CLINIC },
        },
      ),
  );
  for (const w of workers) w.start(10);

  const signedAt = new Map<string, number>();
  let inbox = 0;
  const signOne = async (patientId: string): Promise<void> => {
    const p = await rx.service.draft(
      actor,
      {
        patientId,
        rxcui: DRUG.rxcui,
        quantity: { value: 21, unit: 'capsule' },
        daysSupply: 7,
        sig: 'Take 1 capsule by mouth three times daily',
        refills: 0,
        substitutionAllowed: true,
        pharmacyNcpdpId: PHARMACY,
        practice: {
          line: '400 Main Street',
          city: 'Springfield',
          state: 'CA',
          postalCode: '90001',
        },
      },
      {},
    );
    await rx.service.markReady(actor, p.id, {}, {});
    await rx.signing.signNonControlled(actor, p.id, {});
    signedAt.set(p.id, Date.now());
  };
  // The clinic's `acknowledged` events (written when the relayed Status 000 arrives), by time.
  const ackedAt = new Map<string, number>();
  const readAcks = async (): Promise<void> => {
    const { rows } = await db.withTenant(tenant, (tx) =>
      tx.query<{ prescription_id: string; at: Date }>(
        `SELECT prescription_id, at FROM delivery_events WHERE event = 'acknowledged'`,
      ),
    );
    for (const r of rows) ackedAt.set(r.prescription_id, r.at.getTime());
  };
  const started = Date.now();
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = c; i < N; i += CLIENTS) await signOne(patients[i % patients.length] ?? '');
      }),
    );
    const deadline = Date.now() + 90_000;
    for (;;) {
      await readAcks();
      if (ackedAt.size >= N) break;
      if (Date.now() > deadline) {
        const seen = await db.withTenant(tenant, (tx) =>
          tx.query<{ event: string; code: string | null; n: string }>(
            `SELECT event, code, count(*) AS n FROM delivery_events GROUP BY event, code`,
          ),
        );
        const refused = await db.withTenant(pharmacyTenant, (tx) =>
          tx.query<{ reason: string; n: string }>(
            `SELECT details->>'reason' AS reason, count(*) AS n FROM audit_log
              WHERE action = 'pharmacy.rx.rejected' GROUP BY 1`,
          ),
        );
        throw new Error(
          `rx_delivered: only ${String(ackedAt.size)} of ${String(N)} acknowledged; events: ${JSON.stringify(seen.rows)}; pharmacy refusals: ${JSON.stringify(refused.rows)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const received = await db.withTenant(pharmacyTenant, (tx) =>
      tx.query<{ n: string }>(`SELECT count(*) AS n FROM pharmacy_inbox`),
    );
    inbox = Number(received.rows[0]?.n ?? 0);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await sw.close();
    await new Promise<void>((r) => {
      pharmacy.close(() => {
        r();
      });
      pharmacy.closeAllConnections();
    });
  }
  const last = Math.max(...ackedAt.values());
  const latencies = [...signedAt].map(([id, t]) => (ackedAt.get(id) ?? Number.NaN) - t);
  latencies.sort((a, b) => a - b);
  return {
    rx_delivered_per_s: {
      per_s: Math.round((N / ((last - started) / 1000)) * 10) / 10,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      n: N,
      signing_clients: CLIENTS,
      outbox_workers: WORKERS,
      pharmacy_inbox: inbox,
      notes:
        "outbox (4 OutboxWorkers, mtlsTransport, the clinic tenant's network identity) -> mTLS -> scrip switch (store, Status 010, forward over mTLS with pinning) -> the network node listener -> the pharmacy tenant's receiver (JWS verified against the clinic's JWKS, content compared, archived sealed, inbox, Status 000) -> the switch relays the Status 000 -> the same listener -> the clinic tenant (prescription acknowledged). One process and one database for the clinic, the switch and the pharmacy (a single installation); latency from the end of signing to the clinic's acknowledged delivery event.",
    },
  };
}
