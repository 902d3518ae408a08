import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  auditRecordBytes,
  buildAuditRecord,
  chainHash,
  GENESIS_HASH,
  type StoredAuditRow,
} from './audit-record.js';
import type { AuditLogReader } from './audit-store.js';
import { verifyAuditLog } from './audit-verify.js';
import { leafHash } from './merkle.js';

/** In-memory rows, built the way audit_append builds them. */
function memoryLog(n: number): StoredAuditRow[] {
  const rows: StoredAuditRow[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 0; seq < n; seq++) {
    const time = new Date(Date.UTC(2026, 0, 1, 0, 0, seq));
    const record = buildAuditRecord(
      {
        tenantId: null,
        actor: { kind: 'cli' },
        action: 'test.unit.event',
        outcome: 'success',
        details: { seq },
      },
      seq,
      time,
      prev,
    );
    const bytes = auditRecordBytes(record);
    const leaf = leafHash(bytes);
    const chain = chainHash(prev, leaf);
    rows.push({
      seq,
      time,
      dbTime: time,
      tenantId: null,
      actorKind: 'cli',
      actorUserId: null,
      actorRole: null,
      actorSessionId: null,
      action: record.action,
      outcome: record.outcome,
      subjects: [],
      sourceIp: null,
      userAgent: null,
      requestId: null,
      reason: null,
      details: { seq },
      prevHash: prev,
      record: bytes.toString('utf8'),
      leafHash: leaf,
      chainHash: chain,
    });
    prev = chain;
  }
  return rows;
}

function reader(rows: StoredAuditRow[]): AuditLogReader {
  return {
    head: async () => Math.max(-1, ...rows.map((r) => r.seq)) + 1,
    records: async (from, to) => rows.filter((r) => r.seq >= from && r.seq < to),
    checkpoints: async () => [],
    maxCheckpointSize: async () => 0,
  };
}

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('verifyAuditLog (in memory)', () => {
  it('an empty log and a clean log verify', async () => {
    expect(await verifyAuditLog(reader([]), publicKey)).toMatchObject({ ok: true, records: 0 });
    const progress: number[] = [];
    const report = await verifyAuditLog(reader(memoryLog(25)), publicKey, {
      batchSize: 10,
      onProgress: (p) => progress.push(p.verified),
    });
    expect(report).toMatchObject({ ok: true, records: 25, checkpoints: 0 });
    expect(progress).toEqual([10, 20, 25]);
  });

  it('a duplicated seq (possible once the primary key is dropped) is inserted', async () => {
    const rows = memoryLog(10);
    rows.splice(5, 0, rows[4]!);
    const report = await verifyAuditLog(reader(rows), publicKey);
    expect(report.problem).toMatchObject({ kind: 'inserted', seq: 4 });
  });

  it('a modified chain hash column is modified', async () => {
    const rows = memoryLog(10);
    rows[6] = { ...rows[6]!, chainHash: Buffer.alloc(32, 9) };
    const report = await verifyAuditLog(reader(rows), publicKey);
    expect(report.problem).toMatchObject({ kind: 'modified', seq: 6 });
  });
});
