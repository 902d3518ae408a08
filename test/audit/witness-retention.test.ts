import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/index.js';
import {
  checkWitness,
  createCheckpoint,
  DirectoryExportTarget,
  exportPendingSegments,
  parseRetentionYears,
  planAuditPrune,
  retentionPolicy,
  type WitnessProblemKind,
} from '../../src/audit/index.js';
import { auditWitnessCheckCommand } from '../../src/cli/audit-export.command.js';
import {
  appendMany,
  asTamperer,
  ORIGIN,
  platformEvent,
  scratchLog,
  testSigner,
  type ScratchLog,
} from './helpers.js';

const signer = testSigner();
const logs: ScratchLog[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const log of logs.splice(0)) await log.close();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'scrip-witness-'));
  dirs.push(d);
  return d;
}

/** Checkpoints after each batch; `tag` makes the records differ between logs. */
async function logWith(
  batches: readonly number[],
  tag = 'a',
  clock?: ManualClock,
  stepMs = 0,
): Promise<ScratchLog> {
  const log = await scratchLog();
  logs.push(log);
  let n = 0;
  for (const size of batches) {
    await appendMany(log.db, size, clock, (i) =>
      platformEvent(n + i, { details: { i: n + i, tag } }),
    );
    n += size;
    await createCheckpoint(log.db, signer, ORIGIN, clock === undefined ? {} : { clock });
    clock?.advance(stepMs);
  }
  return log;
}

const kinds = (problems: readonly { kind: WitnessProblemKind }[]): WitnessProblemKind[] =>
  [...new Set(problems.map((p) => p.kind))].sort();

describe('witness', () => {
  it('deleting the audit rows and the export together is detected from the witness', async () => {
    const log = await logWith([16, 16]);
    const exportDir = tempDir();
    const target = new DirectoryExportTarget(exportDir);
    const witness = new DirectoryExportTarget(tempDir());
    await exportPendingSegments(log.db, target, { witness });
    expect(
      await checkWitness(log.db, witness, signer.publicKey, { exportTarget: target }),
    ).toMatchObject({
      ok: true,
      witnessSize: 32,
      databaseSize: 32,
      exportSize: 32,
      problems: [],
    });

    await asTamperer(log, async (c) => {
      for (const t of ['audit_merkle_nodes', 'audit_exports'])
        await c.query(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
      await c.query('DELETE FROM audit_log');
      await c.query('DELETE FROM audit_checkpoints');
      await c.query('DELETE FROM audit_merkle_nodes');
      await c.query('DELETE FROM audit_exports');
      for (const t of ['audit_merkle_nodes', 'audit_exports'])
        await c.query(`ALTER TABLE ${t} ENABLE TRIGGER USER`);
    });
    rmSync(exportDir, { recursive: true, force: true });

    const report = await checkWitness(log.db, witness, signer.publicKey, {
      exportTarget: new DirectoryExportTarget(exportDir),
    });
    expect(report).toMatchObject({ ok: false, witnessSize: 32, databaseSize: 0, exportSize: 0 });
    expect(kinds(report.problems)).toEqual(['database_missing', 'export_behind']);
    const out: string[] = [];
    const code = await auditWitnessCheckCommand(
      log.db,
      witness,
      [signer.publicKey],
      {},
      { stdout: (t) => out.push(t), stderr: () => undefined },
    );
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/database_missing/);
  });

  it('a database restored from an older backup (truncated log) is detected', async () => {
    const log = await logWith([16, 16]);
    const witness = new DirectoryExportTarget(tempDir());
    await exportPendingSegments(log.db, new DirectoryExportTarget(tempDir()), { witness });
    await asTamperer(log, async (c) => {
      await c.query('DELETE FROM audit_log WHERE seq >= 16');
      await c.query('DELETE FROM audit_checkpoints WHERE tree_size > 16');
    });
    const report = await checkWitness(log.db, witness, signer.publicKey);
    expect(report).toMatchObject({ ok: false, witnessSize: 32, databaseSize: 16 });
    expect(kinds(report.problems)).toEqual(['database_behind']);
  });

  it('a forked history (same key, different records) is detected', async () => {
    const original = await logWith([16, 16], 'original');
    const witness = new DirectoryExportTarget(tempDir());
    await exportPendingSegments(original.db, new DirectoryExportTarget(tempDir()), { witness });
    const fork = await logWith([16, 24], 'forged');
    const report = await checkWitness(fork.db, witness, signer.publicKey);
    expect(report).toMatchObject({ ok: false, witnessSize: 32, databaseSize: 40 });
    expect(kinds(report.problems)).toEqual(['checkpoint_missing', 'fork']);
    // ... and a fork that never reuses a checkpoint size is still caught by consistency.
    const quiet = await logWith([40], 'forged');
    expect(kinds((await checkWitness(quiet.db, witness, signer.publicKey)).problems)).toEqual([
      'checkpoint_missing',
      'fork',
    ]);
  });

  it('a witness note that does not verify is reported', async () => {
    const log = await logWith([8]);
    const dir = tempDir();
    const witness = new DirectoryExportTarget(dir);
    await exportPendingSegments(log.db, new DirectoryExportTarget(tempDir()), { witness });
    const path = join(dir, 'checkpoints', `${'8'.padStart(20, '0')}.note`);
    chmodSync(path, 0o644);
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^(.*\n)8\n/, '$19\n'));
    expect(kinds((await checkWitness(log.db, witness, signer.publicKey)).problems)).toEqual([
      'witness_invalid',
    ]);
  });
});

describe('retention', () => {
  it('refuses less than six years and parses the setting', () => {
    for (const years of [0, 5, 5.9, -6, Number.NaN]) {
      expect(() => retentionPolicy(years)).toThrow(
        expect.objectContaining({ code: 'config_invalid' }) as Error,
      );
    }
    expect(() => parseRetentionYears('5')).toThrow(/SCRIP_AUDIT_RETENTION_YEARS/);
    expect(() => parseRetentionYears('six')).toThrow(
      expect.objectContaining({ code: 'config_invalid' }) as Error,
    );
    expect(parseRetentionYears(undefined)).toEqual({ years: 6 });
    expect(parseRetentionYears('10')).toEqual({ years: 10 });
  });

  it('prune planning lists only exported, verified segments older than the retention, and is audited', async () => {
    const clock = new ManualClock(Date.UTC(2019, 0, 1));
    const year = 365 * 24 * 3600 * 1000;
    const log = await logWith([10, 10, 10], 'r', clock, year); // checkpoints in 2019, 2020, 2021
    const dir = tempDir();
    const target = new DirectoryExportTarget(dir);
    await exportPendingSegments(log.db, target, { clock, maxRecords: 20 }); // [0,10), [10,20) only
    clock.set(new Date(Date.UTC(2025, 6, 1))); // cutoff 2019-07-01
    const plan = await planAuditPrune(log.db, target, retentionPolicy(6), signer.publicKey, clock);
    expect(plan.segments.map((s) => [s.from, s.to])).toEqual([[0, 10]]);
    expect(plan).toMatchObject({ throughSize: 10, retentionYears: 6 });
    expect(plan.stoppedBecause).toMatch(/within the 6-year retention/);

    clock.set(new Date(Date.UTC(2040, 0, 1)));
    const later = await planAuditPrune(log.db, target, retentionPolicy(6), signer.publicKey, clock);
    expect(later.segments.map((s) => s.to)).toEqual([10, 20]); // [20,30) is not exported
    expect(
      (await planAuditPrune(log.db, target, retentionPolicy(30), signer.publicKey, clock)).segments,
    ).toEqual([]);

    const records = join(dir, 'segments', `${'10'.padStart(20, '0')}.records.jsonl`);
    chmodSync(records, 0o644);
    writeFileSync(records, readFileSync(records, 'utf8').replace('"tag":"r"', '"tag":"x"'));
    const damaged = await planAuditPrune(
      log.db,
      target,
      retentionPolicy(6),
      signer.publicKey,
      clock,
    );
    expect(damaged).toMatchObject({ segments: [], throughSize: 0 });
    expect(damaged.stoppedBecause).toMatch(/does not verify/);

    const planned = await log.withOwner(async (c) => {
      const { rows } = await c.query<{ record: string }>(
        "SELECT record FROM audit_log WHERE action = 'audit.prune.planned' ORDER BY seq",
      );
      return rows.map((r) => JSON.parse(r.record) as { details: Record<string, unknown> });
    });
    expect(planned.map((r) => r.details.throughSize)).toEqual([10, 20, 0, 0]);
    expect(planned[0]!.details).toMatchObject({ retentionYears: 6, executed: false, segments: 1 });
    // Nothing was deleted: pruning is a plan, never an action.
    const count = await log.withOwner(
      async (c) => (await c.query('SELECT seq FROM audit_log')).rowCount,
    );
    expect(count).toBeGreaterThanOrEqual(30);
  });
});
