import { generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { asTenantId, cryptoRandom, systemClock, type TenantId } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { Keyring } from '../src/crypto/keyring.js';
import type { KeyProvider } from '../src/crypto/key-provider.js';
import { buildJwks } from '../src/crypto/jws.js';
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
import { createMtlsServer, spkiSha256 } from '../src/network/mtls.js';
import { buildMessage, parseMessage } from '../src/network/ncpdp-script.codec.js';
import { scriptId } from '../src/network/newrx-message.js';
import { mtlsTransport } from '../src/network/outbox-transport.js';
import { OutboxWorker } from '../src/network/outbox-worker.js';
import {
  assertPharmacy,
  PharmacyDirectoryRepository,
} from '../src/network/pharmacy-directory.repository.js';
import { saveParticipants, startSwitch } from '../src/switch/index.js';

/**
 * rx_delivered_per_s: signed prescriptions carried end to end — outbox row written by signing,
 * the OutboxWorker over the mTLS transport, the switch (Status 010, stored, forwarded over mTLS
 * with pinning), and a pharmacy endpoint answering Status 000 — per second, with p50/p99 from the
 * end of signing to the pharmacy's acknowledgement. Until the pharmacy side (issue 8 item 6)
 * lands, the pharmacy is a stand-in mTLS server answering 000 (see `notes` in the output).
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
  const rx = composePrescriptions({
    db,
    clock: systemClock,
    keyring,
    signingKeys: new SigningKeyService(db, provider, systemClock),
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

  // Stand-in pharmacy: records when each prescription arrives and answers Status 000.
  const ackedAt = new Map<string, number>();
  let allAcked: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    allAcked = resolve;
  });
  const pharmacy = createMtlsServer({
    key: pharmacyCert.keyPem,
    cert: pharmacyCert.certPem,
    clientCa: ca.certPem,
    handler: (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const parsed = parseMessage(Buffer.concat(chunks));
        if (!parsed.ok) {
          res.writeHead(400).end();
          return;
        }
        const h = parsed.message.header;
        if (h.prescriberOrderNumber !== undefined && !ackedAt.has(h.prescriberOrderNumber)) {
          ackedAt.set(h.prescriberOrderNumber, performance.now());
          if (ackedAt.size === N) allAcked();
        }
        const xml = buildMessage({
          type: 'Status',
          header: {
            to: h.from,
            from: { qualifier: 'P', id: PHARMACY },
            messageId: scriptId(randomUUID()),
            relatesToMessageId: h.messageId,
            sentTime: new Date().toISOString(),
            senderSoftware: { developer: 'Bench', product: 'Stand-in pharmacy', version: '1' },
          },
          body: { code: '000' },
        });
        res.writeHead(200, { 'content-type': 'application/xml' }).end(xml);
      });
    },
  });
  await new Promise<void>((r) => pharmacy.listen(0, '127.0.0.1', r));
  const pharmacyUrl = `https://localhost:${String((pharmacy.address() as AddressInfo).port)}/ncpdp/script`;

  // The clinic's relay endpoint is the stand-in too (it answers Status 000 to the relays).
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
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
        jwks: buildJwks([{ publicKey, kid: 'bench' }]),
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
    signedAt.set(scriptId(p.id), performance.now());
  };
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = c; i < N; i += CLIENTS) await signOne(patients[i % patients.length] ?? '');
      }),
    );
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => {
        reject(
          new Error(`rx_delivered: only ${String(ackedAt.size)} of ${String(N)} acknowledged`),
        );
      }, 120_000).unref(),
    );
    await Promise.race([done, timeout]);
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
      notes:
        'outbox (4 OutboxWorkers + mtlsTransport) -> mTLS -> scrip switch (store, Status 010, forward over mTLS) -> stand-in pharmacy answering Status 000; latency from the end of signing to the pharmacy receiving the NewRx. The stand-in is to be replaced by the real pharmacy inbox once it is merged.',
    },
  };
}
