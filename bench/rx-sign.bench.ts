import { randomUUID } from 'node:crypto';
import { asTenantId, systemClock, type TenantId } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { Keyring } from '../src/crypto/keyring.js';
import type { KeyProvider } from '../src/crypto/key-provider.js';
import { SigningKeyService } from '../src/crypto/signing-keys.js';
import { PatientAccess } from '../src/access/patient-access.js';
import { PatientRepository } from '../src/prescribing/patient.repository.js';
import { composePrescriptions } from '../src/prescribing/prescription.module.js';
import {
  noSafetyChecks,
  type Actor,
  type DrugSnapshot,
} from '../src/prescribing/prescription.types.js';

/**
 * rx_sign_per_s: prescriptions drafted, marked ready and signed per second, at the service level
 * (no HTTP): each signing is one transaction holding the sealed row update, the ES256 JWS over
 * the canonical document, the NewRx outbox row and the audit records. Measured at 1, 8 and 32
 * concurrent clients with p50/p99 latency of the whole draft → ready → sign sequence.
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

const PER_CLIENT = 25;

function percentile(sorted: readonly number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round((sorted[Math.max(0, i)] ?? 0) * 10) / 10;
}

async function setup(
  db: Database,
  provider: KeyProvider,
): Promise<{ tenant: TenantId; actor: Actor; patients: string[] }> {
  const tenant = asTenantId(randomUUID());
  const userId = randomUUID();
  const keyring = new Keyring(provider, systemClock, { cacheTtlMs: 60_000 });
  const repo = new PatientRepository(keyring, systemClock);
  const patients: string[] = [];
  await db.withTenant(tenant, async (tx) => {
    await tx.query(`INSERT INTO tenants (id, name) VALUES ($1, 'Bench clinic')`, [tenant]);
    await tx.query(
      `INSERT INTO users (id, tenant_id, email, display_name, password_hash, created_at)
       VALUES ($1, $2, $3, 'Dr Bench', '$argon2id$bench', now())`,
      [userId, tenant, `bench-${userId}@example.test`],
    );
    await tx.query(
      `INSERT INTO memberships (tenant_id, user_id, roles, created_at) VALUES ($1, $2, '{prescriber}', now())`,
      [tenant, userId],
    );
    for (let i = 0; i < 32; i++) {
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
  const actor: Actor = {
    tenantId: tenant,
    userId,
    sessionId: randomUUID(),
    permissions: new Set(['rx.draft', 'rx.sign', 'rx.read']),
    roles: ['prescriber'],
  };
  return { tenant, actor, patients };
}

export async function rxSignBench(
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
  const { actor, patients } = await setup(db, provider);
  const one = async (patientId: string): Promise<number> => {
    const start = performance.now();
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
        pharmacyNcpdpId: '1234567',
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
    return performance.now() - start;
  };
  await one(patients[0] ?? ''); // warm-up: first signing key, data key
  const out: Record<string, unknown> = {};
  for (const clients of [1, 8, 32]) {
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; i < PER_CLIENT; i++)
          latencies.push(await one(patients[c % patients.length] ?? ''));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    out[`c${String(clients)}`] = {
      per_s: Math.round((latencies.length / seconds) * 10) / 10,
      p50_ms: percentile(latencies, 50),
      p99_ms: percentile(latencies, 99),
      n: latencies.length,
    };
  }
  return { rx_sign_per_s: out };
}
