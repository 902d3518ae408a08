import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalize } from '../../src/crypto/jcs.js';
import {
  createCheckpoint,
  leafHash,
  signCheckpoint,
  createNoteSigner,
  verifyAuditLog,
  type AuditProblemKind,
} from '../../src/audit/index.js';
import { chainHash } from '../../src/audit/audit-record.js';
import { auditVerifyCommand, type CliIo } from '../../src/cli/audit.command.js';
import {
  appendMany,
  asTamperer,
  chainAt,
  ORIGIN,
  platformEvent,
  scratchLog,
  shiftSeqs,
  testSigner,
  writeForged,
  type ScratchLog,
} from './helpers.js';

/**
 * What a superuser (or the owner with triggers disabled) could do to the table, and where the
 * verifier says it happened. Each case gets its own database: tampering cannot be undone.
 * The log: 40 records, checkpoints at 16 and 32.
 */
describe('audit verify catches tampering', () => {
  const signer = testSigner();
  const logs: ScratchLog[] = [];
  afterEach(async () => {
    for (const log of logs.splice(0)) await log.close();
  });

  async function seeded(): Promise<ScratchLog> {
    const log = await scratchLog();
    logs.push(log);
    await appendMany(log.db, 16);
    await createCheckpoint(log.db, signer, ORIGIN);
    await appendMany(log.db, 16, undefined, (i) => platformEvent(16 + i));
    await createCheckpoint(log.db, signer, ORIGIN);
    await appendMany(log.db, 8, undefined, (i) => platformEvent(32 + i));
    return log;
  }

  async function expectProblem(
    log: ScratchLog,
    kind: AuditProblemKind,
    seq: number,
    batchSize = 1000,
  ): Promise<void> {
    const report = await verifyAuditLog(log.db, signer.publicKey, { batchSize });
    expect(report.ok, JSON.stringify(report)).toBe(false);
    expect(report.problem, report.problem?.message).toMatchObject({ kind, seq });
  }

  it('an untouched log verifies clean, and the CLI exits 0', async () => {
    const log = await seeded();
    const report = await verifyAuditLog(log.db, signer.publicKey, { batchSize: 7 });
    expect(report).toMatchObject({ ok: true, records: 40, checkpoints: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'scrip-audit-'));
    try {
      const pem = join(dir, 'key.pem');
      writeFileSync(pem, signer.publicKey.export({ type: 'spki', format: 'pem' }));
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIo = { stdout: (t) => out.push(t), stderr: (t) => err.push(t) };
      const code = await auditVerifyCommand(
        log.db,
        { publicKeyPemFile: pem, batchSize: 10, progressAbove: 0 },
        io,
      );
      expect(code).toBe(0);
      expect(out.join('')).toMatch(/audit log OK: 40 records, 2 checkpoints/);
      expect(err.join('')).toMatch(/audit verify: 10\/40 records \(25%\)/);
      await asTamperer(log, async (c) => {
        await c.query("UPDATE audit_log SET reason = 'edited' WHERE seq = 3");
      });
      const failed: string[] = [];
      const code2 = await auditVerifyCommand(
        log.db,
        { publicKeyPemFile: pem },
        { stdout: () => undefined, stderr: (t) => failed.push(t) },
      );
      expect(code2).toBe(1);
      expect(failed.join('')).toMatch(/FAILED at record 3: modified/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('modified: a structured column changed', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query("UPDATE audit_log SET action = 'patient.delete' WHERE seq = 7");
    });
    await expectProblem(log, 'modified', 7);
  });

  it('modified: the record bytes changed without their hash', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query(
        `UPDATE audit_log SET record = replace(record, '"i":7', '"i":8') WHERE seq = 7`,
      );
    });
    await expectProblem(log, 'modified', 7);
  });

  it('modified: one record replaced and re-hashed (its successor no longer follows it)', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await writeForged(c, 7, await chainAt(c, 6), platformEvent(7, { reason: 'forged' }), true);
    });
    const report = await verifyAuditLog(log.db, signer.publicKey);
    expect(report.problem).toMatchObject({ kind: 'modified', seq: 7 });
    expect(report.problem?.message).toMatch(/replaced and re-hashed/);
  });

  it('deleted: a record removed (gap)', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query('DELETE FROM audit_log WHERE seq = 7');
    });
    await expectProblem(log, 'deleted', 7);
  });

  it('deleted: a record removed and the later ones renumbered', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query('DELETE FROM audit_log WHERE seq = 7');
      await shiftSeqs(c, 8, -1);
    });
    await expectProblem(log, 'deleted', 7);
  });

  it('deleted: the tail below a checkpoint removed', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query('DELETE FROM audit_log WHERE seq >= 28');
    });
    await expectProblem(log, 'deleted', 28);
  });

  it('inserted: a well-formed record slipped in, later records renumbered', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      const prev = await chainAt(c, 6);
      await shiftSeqs(c, 7, 1);
      await writeForged(c, 7, prev, platformEvent(99, { reason: 'inserted' }));
    });
    await expectProblem(log, 'inserted', 7);
  });

  it('inserted: a record appended with a broken chain', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await writeForged(c, 40, Buffer.alloc(32, 7), platformEvent(40));
    });
    await expectProblem(log, 'inserted', 40);
  });

  it('reordered: two records swapped', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query('UPDATE audit_log SET seq = 1000007 WHERE seq = 7');
      await c.query('UPDATE audit_log SET seq = 7 WHERE seq = 8');
      await c.query('UPDATE audit_log SET seq = 8 WHERE seq = 1000007');
    });
    await expectProblem(log, 'reordered', 7, 8); // the swap straddles a batch boundary
  });

  it('checkpoint mismatch: history rewritten consistently from record 20 on', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      let prev = await chainAt(c, 19);
      const { rows } = await c.query<{ seq: string; record: string }>(
        'SELECT seq, record FROM audit_log WHERE seq >= 20 ORDER BY seq',
      );
      for (const row of rows) {
        const record = JSON.parse(row.record) as Record<string, unknown>;
        record.prevHash = prev.toString('hex');
        if (row.seq === '20') record.reason = 'rewritten';
        const bytes = Buffer.from(canonicalize(record), 'utf8');
        const leaf = leafHash(bytes);
        const chain = chainHash(prev, leaf);
        await c.query(
          `UPDATE audit_log SET record = $2, reason = $3::jsonb->>'reason', prev_hash = $4,
             leaf_hash = $5, chain_hash = $6 WHERE seq = $1`,
          [row.seq, bytes.toString('utf8'), bytes.toString('utf8'), prev, leaf, chain],
        );
        prev = chain;
      }
    });
    const report = await verifyAuditLog(log.db, signer.publicKey);
    expect(report.problem).toMatchObject({
      kind: 'checkpoint_mismatch',
      seq: 16,
      checkpointSize: 32,
    });
  });

  it('checkpoint signature: a note re-signed with another key, or a wrong public key', async () => {
    const log = await seeded();
    const wrong = await verifyAuditLog(log.db, testSigner().publicKey);
    expect(wrong.problem).toMatchObject({
      kind: 'checkpoint_signature',
      seq: 0,
      checkpointSize: 16,
    });
    const other = testSigner();
    await asTamperer(log, async (c) => {
      const { rows } = await c.query<{ root_hash: Buffer }>(
        'SELECT root_hash FROM audit_checkpoints WHERE tree_size = 32',
      );
      const note = await signCheckpoint(
        { origin: ORIGIN, size: 32, rootHash: rows[0]!.root_hash },
        createNoteSigner(ORIGIN, other.publicKey, (m) => other.sign(m)),
      );
      await c.query('UPDATE audit_checkpoints SET note = $1 WHERE tree_size = 32', [note]);
    });
    await expectProblem(log, 'checkpoint_signature', 16);
  });
});
