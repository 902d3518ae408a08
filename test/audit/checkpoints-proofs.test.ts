import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, asTenantId } from '../../src/core/index.js';
import {
  CheckpointScheduler,
  consistencyProofBetween,
  createCheckpoint,
  inclusionProofFor,
  openCheckpoint,
  createNoteVerifier,
  verifyProofBundle,
  type Ticker,
} from '../../src/audit/index.js';
import {
  auditProofCommand,
  auditVerifyProofCommand,
  type CliIo,
} from '../../src/cli/audit.command.js';
import { appendMany, ORIGIN, scratchLog, testSigner, type ScratchLog } from './helpers.js';

const signer = testSigner();

describe('checkpoints and proofs from the database', () => {
  let log: ScratchLog;
  beforeAll(async () => {
    log = await scratchLog();
    await appendMany(log.db, 20);
    await createCheckpoint(log.db, signer, ORIGIN);
    await appendMany(log.db, 17);
    await createCheckpoint(log.db, signer, ORIGIN);
  });
  afterAll(async () => {
    await log.close();
  });

  it('stores signed C2SP checkpoints and one node per perfect subtree', async () => {
    const rows = await log.withOwner(
      async (c) =>
        (
          await c.query<{ tree_size: string; note: string }>(
            'SELECT tree_size, note FROM audit_checkpoints ORDER BY tree_size',
          )
        ).rows,
    );
    expect(rows.map((r) => Number(r.tree_size))).toEqual([20, 37]);
    const opened = openCheckpoint(rows[1]!.note, [createNoteVerifier(ORIGIN, signer.publicKey)]);
    expect(opened.checkpoint).toMatchObject({ origin: ORIGIN, size: 37 });
    const nodes = await log.withOwner(
      async (c) =>
        (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_merkle_nodes')).rows[0]
          ?.n,
    );
    // 37 leaves + the interior nodes of perfect subtrees: 18 + 9 + 4 + 2 + 1.
    expect(nodes).toBe(37 + 18 + 9 + 4 + 2 + 1);
    expect(await createCheckpoint(log.db, signer, ORIGIN)).toBeNull(); // nothing new
  });

  it('the database refuses nodes and checkpoints that do not match the log', async () => {
    await expect(
      log.db.withoutTenant((tx) =>
        tx.query('SELECT audit_nodes_add($1::int[], $2::bigint[], $3::bytea[])', [
          [0],
          [3],
          [Buffer.alloc(32, 1)],
        ]),
      ),
    ).rejects.toThrow(/does not match the log/);
    await expect(
      log.db.withoutTenant((tx) =>
        tx.query('SELECT audit_checkpoint_add(37, $1, $2, $3, $4, now())', [
          Buffer.alloc(32),
          ORIGIN,
          'x',
          'k',
        ]),
      ),
    ).rejects.toThrow(/not past the last checkpoint/);
  });

  it('inclusion proofs for every record verify against their checkpoint, and fail when tampered', async () => {
    for (let seq = 0; seq < 37; seq++) {
      const bundle = await inclusionProofFor(log.db, seq);
      expect(verifyProofBundle(bundle, signer.publicKey)).toMatchObject({
        kind: 'inclusion',
        leafIndex: seq,
        treeSize: 37,
      });
      if (seq < 20) {
        const older = await inclusionProofFor(log.db, seq, 20);
        expect(verifyProofBundle(older, signer.publicKey)).toMatchObject({ treeSize: 20 });
      }
    }
    const bundle = await inclusionProofFor(log.db, 5);
    const flip = (b64: string): string => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64');
    };
    const tampered = [
      { ...bundle, proof: [flip(bundle.proof[0]!), ...bundle.proof.slice(1)] },
      { ...bundle, leafIndex: 6 },
      { ...bundle, leaf: flip(bundle.leaf!), leafHash: undefined },
    ];
    for (const t of tampered) {
      expect(() => verifyProofBundle(JSON.parse(JSON.stringify(t)), signer.publicKey)).toThrow();
    }
    expect(() => verifyProofBundle(bundle, testSigner().publicKey)).toThrow(/trusted key/);
  });

  it('inclusion proof: not_found for records not yet checkpointed, absent, or of another tenant', async () => {
    await expect(inclusionProofFor(log.db, 25, 20)).rejects.toMatchObject({ code: 'not_found' });
    await expect(inclusionProofFor(log.db, 999)).rejects.toMatchObject({ code: 'not_found' });
    const someTenant = asTenantId('00000000-0000-4000-8000-000000000001');
    await expect(inclusionProofFor(log.db, 3, 37, { tenantId: someTenant })).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('consistency proof between two checkpoints verifies, and fails when tampered', async () => {
    const bundle = await consistencyProofBetween(log.db, 20, 37);
    expect(verifyProofBundle(bundle, signer.publicKey)).toMatchObject({ size1: 20, size2: 37 });
    const bad = { ...bundle, proof: bundle.proof.slice(1) };
    expect(() => verifyProofBundle(bad, signer.publicKey)).toThrow();
    const swapped = { ...bundle, checkpoint1: bundle.checkpoint2, checkpoint2: bundle.checkpoint1 };
    expect(() => verifyProofBundle(swapped, signer.publicKey)).toThrow();
    await expect(consistencyProofBetween(log.db, 19, 37)).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('CLI: proof to a file, verify-proof offline (0), tampered file (1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scrip-proof-'));
    try {
      const pem = join(dir, 'log-key.pem');
      writeFileSync(pem, signer.publicKey.export({ type: 'spki', format: 'pem' }));
      const lines: string[] = [];
      const io: CliIo = { stdout: (t) => lines.push(t), stderr: (t) => lines.push(t) };
      const file = join(dir, 'inclusion.json');
      expect(await auditProofCommand(log.db, { seq: 11, out: file }, io)).toBe(0);
      expect(await auditVerifyProofCommand(file, pem, io)).toBe(0);
      expect(lines.join('')).toMatch(/inclusion proof OK: record 11 .* of 37 records/);
      const cfile = join(dir, 'consistency.json');
      expect(await auditProofCommand(log.db, { size1: 20, size2: 37, out: cfile }, io)).toBe(0);
      expect(await auditVerifyProofCommand(cfile, pem, io)).toBe(0);
      const bundle = JSON.parse(readFileSync(file, 'utf8')) as { leafIndex: number };
      writeFileSync(file, JSON.stringify({ ...bundle, leafIndex: 12 }));
      expect(await auditVerifyProofCommand(file, pem, io)).toBe(1);
      expect(lines.join('')).toMatch(/proof does NOT verify/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CheckpointScheduler', () => {
  let log: ScratchLog;
  beforeAll(async () => {
    log = await scratchLog();
  });
  afterAll(async () => {
    await log.close();
  });

  it('checkpoints every N records or T seconds, driven by a manual clock and ticker', async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 1));
    let fire: (() => void) | undefined;
    const ticker: Ticker = {
      every: (_ms, fn) => {
        fire = fn;
        return () => {
          fire = undefined;
        };
      },
    };
    const made: number[] = [];
    const scheduler = new CheckpointScheduler({
      db: log.db,
      signer,
      origin: ORIGIN,
      everyRecords: 10,
      everySeconds: 60,
      clock,
      ticker,
      onCheckpoint: (cp) => made.push(cp.treeSize),
    });
    expect(await scheduler.tick()).toBeNull(); // empty log
    await appendMany(log.db, 9, clock);
    expect(await scheduler.tick()).toBeNull(); // 9 < N, 0 s < T
    await appendMany(log.db, 1, clock);
    expect((await scheduler.tick())?.treeSize).toBe(10); // N reached
    await appendMany(log.db, 3, clock);
    clock.advance(59_000);
    expect(await scheduler.tick()).toBeNull();
    clock.advance(1_000);
    const byTime = await scheduler.tick();
    expect(byTime).toMatchObject({ treeSize: 13, createdAt: clock.now() }); // T reached
    clock.advance(3_600_000);
    expect(await scheduler.tick()).toBeNull(); // T passed but nothing new

    scheduler.start();
    await appendMany(log.db, 10, clock);
    fire?.();
    await scheduler.stop();
    expect(made).toEqual([10, 13, 23]);
    expect(fire).toBeUndefined();
  });

  it('skips the tick while another process holds the checkpoint lock', async () => {
    await appendMany(log.db, 12);
    await log.withOwner(async (c) => {
      await c.query('BEGIN');
      await c.query("SELECT pg_advisory_xact_lock('8314615134238763888')");
      try {
        expect(await createCheckpoint(log.db, signer, ORIGIN, { wait: false })).toBeNull();
      } finally {
        await c.query('ROLLBACK');
      }
    });
    expect((await createCheckpoint(log.db, signer, ORIGIN, { wait: false }))?.treeSize).toBe(35);
  });
});
