import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  chmodSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCheckpoint,
  DirectoryExportTarget,
  exportPendingSegments,
  manifestObjectName,
  recordsObjectName,
  retentionPolicy,
  S3ExportTarget,
  sha256Hex,
  verifyExport,
  witnessObjectName,
} from '../../src/audit/index.js';
import { FakeObjectLockBucket } from './fake-s3.js';
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
  const d = mkdtempSync(join(tmpdir(), 'scrip-export-'));
  dirs.push(d);
  return d;
}

/** 40 records, checkpoints at 16 and 32. */
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

describe('audit segment export (directory target)', () => {
  it('exports checkpoint ranges as read-only files that verify offline; re-runs are no-ops', async () => {
    const log = await seeded();
    const root = tempDir();
    const target = new DirectoryExportTarget(root);
    const witness = new DirectoryExportTarget(tempDir());
    const first = await exportPendingSegments(log.db, target, { witness });
    expect(first.segments.map((s) => [s.from, s.to])).toEqual([
      [0, 16],
      [16, 32],
    ]);
    expect(first).toMatchObject({ records: 32, witnessed: 2, exportedSize: 32 });
    for (const name of [recordsObjectName(16), manifestObjectName(32)]) {
      expect(statSync(join(root, ...name.split('/'))).mode & 0o777).toBe(0o444);
    }
    expect(await witness.list('')).toEqual([witnessObjectName(16), witnessObjectName(32)]);
    expect(await verifyExport(target, signer.publicKey)).toMatchObject({
      ok: true,
      segments: 2,
      records: 32,
      treeSize: 32,
    });

    const again = await exportPendingSegments(log.db, target, { witness });
    expect(again).toMatchObject({ segments: [], records: 0, witnessed: 0, exportedSize: 32 });

    // Bookkeeping: one row per segment and witness copy, append-only even for the owner.
    await log.withOwner(async (c) => {
      const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM audit_exports');
      expect(Number(rows[0]!.n)).toBe(4);
      await expect(c.query('DELETE FROM audit_exports')).rejects.toThrow(/append-only/);
    });
    // The export itself is audited; the next checkpoint covers those records too.
    await createCheckpoint(log.db, signer, ORIGIN);
    const third = await exportPendingSegments(log.db, target, { witness });
    expect(third.segments.map((s) => [s.from, s.to])).toEqual([[32, 42]]);
    const last = (await target.get(recordsObjectName(42))).toString().trim().split('\n').at(-1)!;
    expect(JSON.parse(last)).toMatchObject({
      action: 'audit.export.segment',
      details: { from: 16, to: 32 },
    });
    expect(await verifyExport(target, signer.publicKey)).toMatchObject({
      ok: true,
      segments: 3,
      treeSize: 42,
    });
  });

  it('is idempotent after a crash between writing objects and recording them, and safe concurrently', async () => {
    const log = await seeded();
    const first = tempDir();
    await exportPendingSegments(log.db, new DirectoryExportTarget(first));
    // A second target whose objects were written but never recorded (the crash window).
    const second = tempDir();
    cpSync(first, second, { recursive: true });
    const rerun = await exportPendingSegments(log.db, new DirectoryExportTarget(second), {
      maxRecords: 1,
    });
    expect(rerun.segments.map((s) => s.to)).toEqual([16]); // the budget stops after one segment
    const rest = await exportPendingSegments(log.db, new DirectoryExportTarget(second));
    expect(rest.segments.map((s) => s.to)).toEqual([32]);
    expect(
      readFileSync(join(second, 'segments', `${'32'.padStart(20, '0')}.segment.json`)),
    ).toEqual(readFileSync(join(first, 'segments', `${'32'.padStart(20, '0')}.segment.json`)));
    const third = new DirectoryExportTarget(tempDir());
    const runs = await Promise.all([
      exportPendingSegments(log.db, third),
      exportPendingSegments(log.db, third),
      exportPendingSegments(log.db, third),
    ]);
    expect(runs.flatMap((r) => r.segments.map((s) => s.to)).sort()).toEqual([16, 32]);
    expect(await verifyExport(third, signer.publicKey)).toMatchObject({ ok: true, segments: 2 });
  });

  it('refuses to overwrite: a different object already at a segment name stops the export', async () => {
    const log = await seeded();
    const target = new DirectoryExportTarget(tempDir());
    const squatter = Buffer.from('not the segment\n');
    await target.putOnce(recordsObjectName(16), squatter, { sha256: sha256Hex(squatter) });
    await expect(exportPendingSegments(log.db, target)).rejects.toMatchObject({ code: 'conflict' });
    await log.withOwner(async (c) => {
      const { rows } = await c.query('SELECT 1 FROM audit_exports');
      expect(rows).toHaveLength(0);
    });
    const ok = new DirectoryExportTarget(tempDir());
    await exportPendingSegments(log.db, ok);
    const name = manifestObjectName(16);
    const bytes = Buffer.from('{}');
    await expect(ok.putOnce(name, bytes, { sha256: sha256Hex(bytes) })).rejects.toMatchObject({
      code: 'conflict',
    });
  });

  it('verifyExport finds a changed record, a changed manifest and a missing segment', async () => {
    const log = await seeded();
    const root = tempDir();
    const target = new DirectoryExportTarget(root);
    await exportPendingSegments(log.db, target);
    const records = join(root, 'segments', `${'16'.padStart(20, '0')}.records.jsonl`);
    const original = readFileSync(records);
    chmodSync(records, 0o644);
    writeFileSync(records, original.toString().replace('"i":3', '"i":4'));
    expect(await verifyExport(target, signer.publicKey)).toMatchObject({
      ok: false,
      segments: 0,
      problem: { kind: 'records' },
    });
    writeFileSync(records, original);

    const manifest = join(root, 'segments', `${'32'.padStart(20, '0')}.segment.json`);
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { leafHashes: string[] };
    m.leafHashes.reverse();
    chmodSync(manifest, 0o644);
    writeFileSync(manifest, `${JSON.stringify(m)}\n`);
    expect(await verifyExport(target, signer.publicKey)).toMatchObject({
      ok: false,
      segments: 1,
      problem: { kind: 'segment' },
    });

    rmSync(join(root, 'segments', `${'16'.padStart(20, '0')}.segment.json`), { force: true });
    rmSync(records, { force: true });
    rmSync(manifest, { force: true });
    await exportPendingSegments(log.db, new DirectoryExportTarget(join(root, 'other')));
    expect(await verifyExport(target, testSigner().publicKey)).toMatchObject({
      ok: true,
      segments: 0,
    });
    const wrongKey = await verifyExport(
      new DirectoryExportTarget(join(root, 'other')),
      testSigner().publicKey,
    );
    expect(wrongKey).toMatchObject({ ok: false, problem: { kind: 'segment' } });
  });

  it('a gap between segments is reported', async () => {
    const log = await seeded();
    await createCheckpoint(log.db, signer, ORIGIN);
    const root = tempDir();
    const target = new DirectoryExportTarget(root);
    await exportPendingSegments(log.db, target);
    rmSync(join(root, 'segments', `${'32'.padStart(20, '0')}.segment.json`), { force: true });
    const report = await verifyExport(target, signer.publicKey);
    expect(report).toMatchObject({ ok: false, segments: 1, problem: { kind: 'segment' } });
    expect(report.problem?.message).toMatch(/missing segment/);
  });

  it('refuses to seal a log that was tampered with before export', async () => {
    const log = await seeded();
    await asTamperer(log, async (c) => {
      await c.query(
        `UPDATE audit_log SET record = replace(record, '"i":5', '"i":6') WHERE seq = 5`,
      );
    });
    await expect(
      exportPendingSegments(log.db, new DirectoryExportTarget(tempDir())),
    ).rejects.toMatchObject({ code: 'integrity_error' });
  });

  it('exports to the S3 Object Lock target (in-memory fake port) and verifies from it', async () => {
    const log = await seeded();
    const bucket = new FakeObjectLockBucket('audit');
    const target = new S3ExportTarget({
      client: bucket,
      bucket: 'audit',
      keyPrefix: 'scrip/',
      retention: retentionPolicy(),
    });
    const report = await exportPendingSegments(log.db, target);
    expect(report.segments).toHaveLength(2);
    expect(bucket.puts).toHaveLength(4);
    for (const p of bucket.puts) {
      expect(p).toMatchObject({ ObjectLockMode: 'COMPLIANCE', IfNoneMatch: '*' });
      expect(p.ObjectLockRetainUntilDate.getTime()).toBeGreaterThan(
        Date.now() + 5.9 * 365 * 86_400_000,
      );
    }
    expect(await verifyExport(target, signer.publicKey)).toMatchObject({
      ok: true,
      segments: 2,
      records: 32,
    });
    bucket.corrupt(`scrip/${recordsObjectName(32)}`, Buffer.from('x\n'));
    expect(await verifyExport(target, signer.publicKey)).toMatchObject({
      ok: false,
      problem: { kind: 'records' },
    });
  });
});
