import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ManualClock, systemClock, type TenantId } from '../../src/core/index.js';
import type { Database } from '../../src/db/index.js';
import {
  appendAudit,
  auditRecordBytes,
  buildAuditRecord,
  GENESIS_HASH,
  measureClockSkew,
} from '../../src/audit/index.js';
import { freshTenant, openTestDatabase, ownerClient, testTarget } from '../db.js';
import { platformEvent, scratchLog, type ScratchLog } from './helpers.js';

/** Append in the caller's transaction; the append function is the only way to write. */
describe('audit append (shared database)', () => {
  let db: Database;
  let a: TenantId;
  let b: TenantId;
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 12, 0, 0, 123));

  beforeAll(async () => {
    db = await openTestDatabase();
    a = await freshTenant(db, 'Audit clinic A');
    b = await freshTenant(db, 'Audit clinic B');
  });
  afterAll(async () => {
    await db.close();
  });

  it('stores the canonical record with leaf = SHA-256(0x00 ‖ record), readable by its tenant', async () => {
    const { seq, leafHash } = await db.withTenant(a, (tx) =>
      appendAudit(
        tx,
        {
          tenantId: a,
          actor: { kind: 'user', userId: 'u-1', role: 'prescriber', sessionId: 's-1' },
          action: 'patient.read',
          outcome: 'success',
          subjects: [{ type: 'patient', id: 'p-1' }],
          source: { ip: '203.0.113.7', userAgent: 'test-agent/1' },
          requestId: 'req-1',
          details: { fields: 3, masked: true },
        },
        clock,
      ),
    );
    const rows = await db.withTenant(
      a,
      async (tx) =>
        (
          await tx.query<{ record: string; time: Date; action: string }>(
            'SELECT record, time, action FROM audit_log WHERE seq = $1',
            [seq],
          )
        ).rows,
    );
    const row = rows[0]!;
    const expected = createHash('sha256')
      .update(Buffer.from([0]))
      .update(row.record, 'utf8')
      .digest('hex');
    expect(leafHash).toBe(expected);
    expect(row.time.toISOString()).toBe('2026-03-01T12:00:00.123Z');
    expect(row.record).toContain('"action":"patient.read"');
    expect(row.record.startsWith('{"action"')).toBe(true); // RFC 8785 key order
  });

  it("RLS: tenant A's transaction cannot read tenant B's rows or platform rows", async () => {
    const { seq: seqB } = await db.withTenant(b, (tx) =>
      appendAudit(tx, { ...platformEvent(1), tenantId: b }, clock),
    );
    const { seq: seqP } = await db.withoutTenant((tx) => appendAudit(tx, platformEvent(2), clock));
    const seen = await db.withTenant(
      a,
      async (tx) =>
        (
          await tx.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM audit_log WHERE seq = ANY($1::bigint[]) OR tenant_id = $2',
            [[seqB, seqP], b],
          )
        ).rows[0]?.n,
    );
    expect(seen).toBe(0);
    const own = await db.withTenant(
      b,
      async (tx) =>
        (await tx.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM audit_log')).rows,
    );
    expect(own).toEqual([{ tenant_id: b }]);
  });

  it("a tenant's transaction cannot append a record for another tenant", async () => {
    await expect(
      db.withTenant(a, (tx) => appendAudit(tx, { ...platformEvent(3), tenantId: b }, clock)),
    ).rejects.toThrow(/another tenant/);
  });

  it('the application role cannot INSERT, UPDATE, DELETE or TRUNCATE any audit table', async () => {
    const app = new pg.Client({ connectionString: testTarget().appUrl });
    await app.connect();
    try {
      for (const sql of [
        `INSERT INTO audit_log (seq, time, actor_kind, action, outcome, subjects, details, prev_hash, record, leaf_hash, chain_hash)
           VALUES (999999, now(), 'system', 'x.y', 'success', '[]', '{}', '\\x00', '{}', '\\x00', '\\x00')`,
        "UPDATE audit_log SET reason = 'x'",
        'DELETE FROM audit_log',
        'TRUNCATE audit_log',
        "INSERT INTO audit_merkle_nodes (level, idx, hash) VALUES (0, 999999, sha256(''))",
        'DELETE FROM audit_checkpoints',
      ]) {
        await expect(app.query(sql), sql).rejects.toMatchObject({ code: '42501' });
      }
    } finally {
      await app.end();
    }
  });

  it('the database, not the application, decides seq and prevHash', async () => {
    const claim = (seq: number, prev: Buffer): string =>
      auditRecordBytes(buildAuditRecord(platformEvent(4), seq, new Date(), prev)).toString('utf8');
    for (const [seq, prev] of [
      [0, GENESIS_HASH],
      [Number.MAX_SAFE_INTEGER, Buffer.alloc(32, 1)],
    ] as const) {
      await expect(
        db.withoutTenant((tx) => tx.query('SELECT * FROM audit_append($1)', [claim(seq, prev)])),
      ).rejects.toThrow(/seq\/prevHash do not match/);
    }
    await expect(
      db.withoutTenant((tx) => tx.query('SELECT * FROM audit_append($1)', ['{"v":1}'])),
    ).rejects.toThrow(/expected shape/);
  });

  it('refuses to append outside READ COMMITTED', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await expect(appendAudit(client, platformEvent(5), clock)).rejects.toThrow(/READ COMMITTED/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('measures the skew between the server clock and the database clock', async () => {
    const real = await measureClockSkew(db, systemClock);
    expect(Math.abs(real.skewMs)).toBeLessThan(5_000);
    const behind = await measureClockSkew(db, new ManualClock(Date.now() - 3_600_000));
    expect(behind.skewMs).toBeGreaterThan(3_500_000);
  });
});

describe('audit append (own database)', () => {
  let log: ScratchLog;
  beforeAll(async () => {
    log = await scratchLog();
  });
  afterAll(async () => {
    await log.close();
  });

  it('a rolled-back append leaves no record and no gap', async () => {
    const first = await log.db.withoutTenant((tx) =>
      appendAudit(tx, platformEvent(1), systemClock),
    );
    await expect(
      log.db.withoutTenant(async (tx) => {
        await appendAudit(tx, platformEvent(2, { reason: 'rolled back' }), systemClock);
        throw new Error('business step failed');
      }),
    ).rejects.toThrow('business step failed');
    const next = await log.db.withoutTenant((tx) => appendAudit(tx, platformEvent(3), systemClock));
    expect(next.seq).toBe(first.seq + 1);
    const reasons = await log.withOwner(
      async (c) =>
        (await c.query<{ reason: string }>('SELECT reason FROM audit_log WHERE reason IS NOT NULL'))
          .rows,
    );
    expect(reasons).toEqual([]);
  });

  it('triggers reject UPDATE, DELETE and TRUNCATE even for the owner', async () => {
    await log.withOwner(async (c) => {
      await expect(c.query("UPDATE audit_log SET reason = 'x'")).rejects.toThrow(/append-only/);
      await expect(c.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE audit_checkpoints')).rejects.toThrow(/append-only/);
      await expect(c.query('TRUNCATE audit_merkle_nodes')).rejects.toThrow(/append-only/);
      const n = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_log');
      expect(n.rows[0]?.n).toBe(2);
    });
  });

  it('keeps the owner out of the shared log too (sanity: owner client works)', async () => {
    const c = await ownerClient();
    try {
      await expect(c.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    } finally {
      await c.end();
    }
  });
});
