/**
 * Issue 6 audit follow-up: deleting the database and the export together is caught by the daily
 * job (witness check, SCRIP_AUDIT_WITNESS_DIR), and a failed or conflicting segment export is an
 * audit record and a critical alert. Each rule must fire, and must stay silent when all is well.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import {
  createCheckpoint,
  DirectoryExportTarget,
  exportPendingSegments,
  manifestObjectName,
} from '../../src/audit/index.js';
import { checkpointSigner } from '../../src/platform.js';
import { listAlerts, runDetector, setRuleConfig, type RuleId } from '../../src/monitoring/index.js';
import {
  runScheduledAuditVerification,
  SCHEDULED_VERIFY_MIN_GAP_MS,
} from '../../src/jobs/audit-verification.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { appendMany } from './helpers.js';

describe('witness check in the daily job, and loud export failures', () => {
  const clock = new ManualClock(new Date('2026-05-04T10:00:00Z'));
  const root = mkdtempSync(join(tmpdir(), 'scrip-loud-'));
  const exportDir = join(root, 'export');
  const witnessDir = join(root, 'witness');
  let p: TestPlatform;

  type Row = { action: string; outcome: string; details: Record<string, unknown> };
  const lastRecord = async (): Promise<Row | undefined> =>
    p.db.withoutTenant(
      async (tx) =>
        (
          await tx.query<Row>(
            'SELECT action, outcome, details FROM audit_log WHERE tenant_id IS NULL ORDER BY seq DESC LIMIT 1',
          )
        ).rows[0],
    );
  const alerts = async (rule: RuleId): Promise<[string, string, number][]> =>
    (await listAlerts(p.db, null, { rule })).map((a) => [a.severity, a.status, a.count]);
  const checkpoint = async (): Promise<void> => {
    await createCheckpoint(
      p.db,
      await checkpointSigner(p.signingKeys, p.config.SCRIP_AUDIT_ORIGIN),
      p.config.SCRIP_AUDIT_ORIGIN,
      { clock },
    );
  };

  beforeAll(async () => {
    p = await testPlatform(clock, {
      isolated: true,
      config: { SCRIP_AUDIT_EXPORT_DIR: exportDir, SCRIP_AUDIT_WITNESS_DIR: witnessDir },
    });
    await appendMany(p.db, 10, clock);
    await checkpoint();
  }, 120_000);
  afterAll(async () => {
    await p.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the daily job checks the witness: silent while all agree, a critical alert once the export is deleted', async () => {
    const report = await exportPendingSegments(p.db, new DirectoryExportTarget(exportDir), {
      witness: new DirectoryExportTarget(witnessDir),
      clock,
    });
    expect(report.segments).toHaveLength(1);
    await runScheduledAuditVerification(p);
    expect(await lastRecord()).toMatchObject({
      action: 'audit.witness.passed',
      outcome: 'success',
      details: { witnessSize: 10, databaseSize: 10, exportSize: 10, witnessed: 10 },
    });
    await runDetector(p.db, clock);
    expect(await alerts('audit_verification_failure')).toEqual([]);
    expect(await alerts('audit_export_failure')).toEqual([]);

    // Someone deletes the export (and could rewrite the database): the witness still remembers.
    for (const entry of readdirSync(exportDir)) rmSync(join(exportDir, entry), { recursive: true });
    clock.advance(SCHEDULED_VERIFY_MIN_GAP_MS);
    await runScheduledAuditVerification(p);
    expect(await lastRecord()).toMatchObject({
      action: 'audit.witness.failed',
      outcome: 'failure',
      details: { witnessSize: 10, exportSize: 0, problems: 'export_behind' },
    });
    await runDetector(p.db, clock);
    expect(await alerts('audit_verification_failure')).toEqual([['critical', 'open', 1]]);

    // The witness itself deleted: it now holds less than the database recorded writing to it.
    rmSync(witnessDir, { recursive: true });
    clock.advance(SCHEDULED_VERIFY_MIN_GAP_MS);
    await runScheduledAuditVerification(p);
    expect(await lastRecord()).toMatchObject({
      action: 'audit.witness.failed',
      details: {
        witnessSize: 0,
        witnessed: 10,
        problems: expect.stringContaining('witness_behind') as unknown,
      },
    });
  });

  it('a write-once conflict is an audit record and a critical alert; a disabled rule stays silent', async () => {
    const other = join(root, 'conflict');
    await appendMany(p.db, 5, clock);
    await checkpoint();
    // A different object already sits where the first segment's manifest goes.
    const taken = join(other, ...manifestObjectName(10).split('/'));
    mkdirSync(dirname(taken), { recursive: true });
    writeFileSync(taken, 'not the manifest');
    const target = new DirectoryExportTarget(other);
    await expect(exportPendingSegments(p.db, target, { clock })).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(await lastRecord()).toEqual({
      action: 'audit.export.failed',
      outcome: 'failure',
      details: { target: target.describe().key, code: 'conflict', conflict: true },
    });
    await runDetector(p.db, clock);
    expect(await alerts('audit_export_failure')).toEqual([['critical', 'open', 1]]);

    await setRuleConfig(
      p.db,
      null,
      'audit_export_failure',
      { enabled: false },
      { userId: 'ops' },
      clock,
    );
    clock.advance(2 * 3_600_000);
    await expect(exportPendingSegments(p.db, target, { clock })).rejects.toMatchObject({
      code: 'conflict',
    });
    expect((await lastRecord())?.action).toBe('audit.export.failed');
    await runDetector(p.db, clock);
    expect(await alerts('audit_export_failure')).toEqual([['critical', 'open', 1]]);
  });
});
