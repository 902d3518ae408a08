import { createHash, generateKeyPairSync, sign as ecSign, randomUUID } from 'node:crypto';
import { asTenantId, systemClock } from '../src/core/index.js';
import type { Database } from '../src/db/index.js';
import {
  appendAudit,
  createCheckpoint,
  verifyAuditLog,
  type CheckpointSigner,
} from '../src/audit/index.js';

/**
 * audit_append_per_s: records appended (each in its own transaction, as a request would) with
 * checkpoints signed every 1000 records; audit_verify_mb_per_s: `verifyAuditLog` over the result,
 * beside sha256_mb_per_s (node:crypto over the same number of bytes) measured in the same run.
 */
function localSigner(origin: string): CheckpointSigner {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    name: origin,
    publicKey,
    sign: async (m) => ecSign('sha256', m, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

export async function auditBench(
  db: Database,
  records = 3000,
  concurrency = 4,
): Promise<Record<string, number>> {
  const tenant = asTenantId(randomUUID());
  await db.withTenant(tenant, (tx) =>
    tx.query('INSERT INTO tenants (id, name) VALUES ($1, $2)', [tenant, 'bench']),
  );
  const origin = 'bench.local/scrip/audit';
  const signer = localSigner(origin);
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next;
        next += 1;
        if (i >= records) return;
        await db.withTenant(tenant, (tx) =>
          appendAudit(
            tx,
            {
              tenantId: tenant,
              actor: {
                kind: 'user',
                userId: `u${String(i % 7)}`,
                role: 'prescriber',
                sessionId: 's',
              },
              action: 'patient.read',
              outcome: 'success',
              subjects: [{ type: 'patient', id: randomUUID() }],
              requestId: randomUUID(),
            },
            systemClock,
          ),
        );
        if ((i + 1) % 1000 === 0) await createCheckpoint(db, signer, origin, { wait: false });
      }
    }),
  );
  await createCheckpoint(db, signer, origin);
  const appendSeconds = Number(process.hrtime.bigint() - start) / 1e9;

  let bytes = 0;
  for (let from = 0; ; from += 10_000) {
    const { rows } = await db.withoutTenant((tx) =>
      tx.query<{ n: string | null; c: string }>(
        'SELECT sum(octet_length(record))::bigint AS n, count(*) AS c FROM audit_records_range($1, $2)',
        [from, from + 10_000],
      ),
    );
    if (Number(rows[0]?.c ?? 0) === 0) break;
    bytes += Number(rows[0]?.n ?? 0);
  }
  const vStart = process.hrtime.bigint();
  const report = await verifyAuditLog(db, signer.publicKey, { origin });
  const verifySeconds = Number(process.hrtime.bigint() - vStart) / 1e9;
  if (!report.ok) throw new Error(`bench log did not verify: ${report.problem?.kind ?? '?'}`);

  const buf = Buffer.alloc(Math.max(bytes, 1 << 20), 7);
  const hStart = process.hrtime.bigint();
  for (let i = 0; i < 20; i += 1) createHash('sha256').update(buf).digest();
  const shaSeconds = Number(process.hrtime.bigint() - hStart) / 1e9;
  const mb = bytes / 1e6;
  return {
    audit_append_per_s: Math.round(records / appendSeconds),
    audit_records_verified: report.records,
    audit_verify_mb_per_s: Number((mb / verifySeconds).toFixed(2)),
    audit_verify_records_per_s: Math.round(report.records / verifySeconds),
    sha256_mb_per_s: Number(((buf.length * 20) / 1e6 / shaSeconds).toFixed(1)),
  };
}
