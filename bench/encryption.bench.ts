import { randomUUID } from 'node:crypto';
import { asTenantId, systemClock, type TenantId } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import { Keyring } from '../src/crypto/keyring.js';
import type { KeyProvider } from '../src/crypto/key-provider.js';
import { PatientRepository } from '../src/prescribing/patient.repository.js';

/**
 * encryption_overhead: patient write+read throughput with field encryption (AES-256-GCM per
 * column, blind indexes, keyring) divided by the same work on a plaintext twin table, same run,
 * same database, same transaction shape. 1.0 means free; the aim is at least 0.9.
 */
export const PLAIN_TABLE_SQL = `
CREATE TABLE IF NOT EXISTS bench_plain_patients (
  id uuid PRIMARY KEY, tenant_id uuid NOT NULL REFERENCES tenants (id), dek_version integer NOT NULL,
  given_name text NOT NULL, family_name text NOT NULL, birth_date text NOT NULL, mrn text, phone text,
  address text, identifiers text, bi_name_dob text NOT NULL, bi_mrn text, bi_phone text,
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE INDEX IF NOT EXISTS bench_plain_name ON bench_plain_patients (tenant_id, bi_name_dob);
CREATE INDEX IF NOT EXISTS bench_plain_mrn ON bench_plain_patients (tenant_id, bi_mrn) WHERE bi_mrn IS NOT NULL;
CREATE INDEX IF NOT EXISTS bench_plain_phone ON bench_plain_patients (tenant_id, bi_phone) WHERE bi_phone IS NOT NULL;
CREATE INDEX IF NOT EXISTS bench_plain_version ON bench_plain_patients (tenant_id, dek_version, id);
ALTER TABLE bench_plain_patients ENABLE ROW LEVEL SECURITY;
ALTER TABLE bench_plain_patients FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS t ON bench_plain_patients;
CREATE POLICY t ON bench_plain_patients USING (tenant_id = scrip_current_tenant()) WITH CHECK (tenant_id = scrip_current_tenant());
GRANT SELECT, INSERT ON bench_plain_patients TO scrip_app;`;

const SAMPLE = {
  givenName: 'Benchmark',
  familyName: 'Patient-Example',
  birthDate: '1975-05-05',
  mrn: 'MRN-0000001',
  phone: '(555) 010-0000',
  address: '1 Example Street, Springfield, ZZ 00000',
  identifiers: [{ system: 'urn:example', value: 'X-1' }],
};

async function encrypted(db: Database, repo: PatientRepository, tenant: TenantId): Promise<void> {
  const id = await db.withTenant(tenant, (tx) => repo.create(tx, tenant, SAMPLE));
  await db.withTenant(tenant, (tx) => repo.get(tx, tenant, id));
}

async function plain(db: Database, tenant: TenantId): Promise<void> {
  const id = randomUUID();
  await db.withTenant(tenant, async (tx) => {
    const now = new Date();
    await tx.query(
      `INSERT INTO bench_plain_patients (id, tenant_id, dek_version, given_name, family_name, birth_date, mrn, phone, address, identifiers, bi_name_dob, bi_mrn, bi_phone, created_at, updated_at)
       VALUES ($1,$2,1,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$13)`,
      [
        id,
        tenant,
        SAMPLE.givenName,
        SAMPLE.familyName,
        SAMPLE.birthDate,
        SAMPLE.mrn,
        SAMPLE.phone,
        SAMPLE.address,
        JSON.stringify(SAMPLE.identifiers),
        `${SAMPLE.familyName.toLowerCase()}|${SAMPLE.birthDate}`,
        SAMPLE.mrn,
        '5550100000',
        now,
      ],
    );
  });
  await db.withTenant(tenant, (tx) =>
    tx.query(
      'SELECT id, given_name, family_name, birth_date, mrn, phone, address, identifiers FROM bench_plain_patients WHERE id = $1',
      [id],
    ),
  );
}

async function throughput(
  ops: number,
  concurrency: number,
  op: () => Promise<void>,
): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops) {
        next += 1;
        await op();
      }
    }),
  );
  return ops / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function ratioAt(
  db: Database,
  repo: PatientRepository,
  tenant: TenantId,
  ops: number,
  concurrency: number,
): Promise<{ enc: number; plain: number }> {
  const enc: number[] = [];
  const pln: number[] = [];
  for (let round = 0; round < 3; round += 1) {
    pln.push(await throughput(ops / 3, concurrency, () => plain(db, tenant)));
    enc.push(await throughput(ops / 3, concurrency, () => encrypted(db, repo, tenant)));
  }
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return { enc: median(enc), plain: median(pln) };
}

/**
 * Measured at one client (each request pays its own round trips: the latency a prescriber sees)
 * and at four concurrent clients (this 2-core machine saturated: CPU cost of the cryptography).
 */
export async function encryptionBench(
  db: Database,
  provider: KeyProvider,
  ops = 1500,
): Promise<Record<string, number>> {
  const tenant = asTenantId(randomUUID());
  await db.withTenant(tenant, (tx) =>
    tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'bench']),
  );
  const repo = new PatientRepository(new Keyring(provider, systemClock), systemClock);
  // Warm up both paths (key creation, unwrap cache, plan caches).
  await throughput(100, 4, () => encrypted(db, repo, tenant));
  await throughput(100, 4, () => plain(db, tenant));
  const one = await ratioAt(db, repo, tenant, ops, 1);
  const four = await ratioAt(db, repo, tenant, ops, 4);
  return {
    patient_write_read_per_s_encrypted: Math.round(one.enc),
    patient_write_read_per_s_plain: Math.round(one.plain),
    encryption_overhead: Number((one.enc / one.plain).toFixed(3)),
    encryption_overhead_pct: Number(((1 - one.enc / one.plain) * 100).toFixed(1)),
    patient_write_read_per_s_encrypted_c4: Math.round(four.enc),
    patient_write_read_per_s_plain_c4: Math.round(four.plain),
    encryption_overhead_c4: Number((four.enc / four.plain).toFixed(3)),
  };
}
