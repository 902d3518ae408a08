/**
 * Issue 6 points 5 and 9: `scrip audit verify` on a tampered log exits non-zero, records
 * `audit.verify.failed` in the log itself, and that record raises the critical
 * `audit_verification_failure` alert; a clean run records `audit.verify.passed` and alerts nothing.
 * `scrip serve` runs the same verification as a daily job.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/index.js';
import { auditCommand } from '../../src/cli/audit-dispatch.command.js';
import type { Platform } from '../../src/platform.js';
import { listAlerts, runDetector } from '../../src/monitoring/index.js';
import { ownerUrlOf } from '../identity/harness.js';
import { testPlatform, type TestPlatform } from '../platform.js';
import { appendMany } from './helpers.js';
import { periodicJobs } from '../../src/jobs/periodic-jobs.js';
import {
  runScheduledAuditVerification,
  SCHEDULED_VERIFY_MIN_GAP_MS,
} from '../../src/jobs/audit-verification.js';

describe('scrip audit verify feeds the audit verification alert', () => {
  let p: TestPlatform;
  const clock = new ManualClock(new Date('2026-03-04T10:00:00Z'));

  const verify = async (): Promise<number> => {
    const write = process.stdout.write.bind(process.stdout);
    const writeErr = process.stderr.write.bind(process.stderr);
    process.stdout.write = () => true;
    process.stderr.write = () => true;
    try {
      return await auditCommand(p as unknown as Platform, 'verify', [], {});
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
  };
  type Row = { action: string; outcome: string; details: Record<string, unknown> };
  const lastActions = async (n: number): Promise<Row[]> =>
    p.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<Row>(
        'SELECT action, outcome, details FROM audit_log WHERE tenant_id IS NULL ORDER BY seq DESC LIMIT $1',
        [n],
      );
      return rows.reverse();
    });
  const verificationAlerts = async (): Promise<number> =>
    (await listAlerts(p.db, null, { rule: 'audit_verification_failure' })).length;

  beforeAll(async () => {
    p = await testPlatform(clock, { isolated: true });
    await appendMany(p.db, 12, clock);
  }, 120_000);
  afterAll(async () => {
    await p.close();
  });

  it('a clean log: exit 0, audit.verify.passed, no alert', async () => {
    expect(await verify()).toBe(0);
    expect(await lastActions(1)).toEqual([
      {
        action: 'audit.verify.passed',
        outcome: 'success',
        details: { records: 12, checkpoints: 0 },
      },
    ]);
    await runDetector(p.db, clock);
    expect(await verificationAlerts()).toBe(0);
  });

  it('a record changed behind the log: exit 1, audit.verify.failed, a critical alert', async () => {
    const owner = new pg.Client({
      connectionString: ownerUrlOf({ p } as Parameters<typeof ownerUrlOf>[0]),
    });
    await owner.connect();
    try {
      await owner.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
      await owner.query("UPDATE audit_log SET reason = 'edited' WHERE seq = 5");
      await owner.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
    } finally {
      await owner.end();
    }
    clock.advance(60_000);
    expect(await verify()).toBe(1);
    expect(await lastActions(1)).toEqual([
      {
        action: 'audit.verify.failed',
        outcome: 'failure',
        details: { records: 5, checkpoints: 0, problem: 'modified', firstBadSeq: 5 },
      },
    ]);
    await runDetector(p.db, clock);
    const alerts = await listAlerts(p.db, null, { rule: 'audit_verification_failure' });
    expect(alerts.map((a) => [a.severity, a.status])).toEqual([['critical', 'open']]);
  });

  it('scrip serve runs the same verification daily without an operator, recorded as the system', async () => {
    expect(periodicJobs(p as unknown as Platform, 90).map((j) => j.name)).toContain(
      'audit verification',
    );
    clock.advance(60_000);
    const report = await runScheduledAuditVerification(p);
    expect(report).toMatchObject({ ok: false, problem: { kind: 'modified', seq: 5 } });
    const [last] = await p.db.withoutTenant(
      async (tx) =>
        (
          await tx.query<{ action: string; actor_kind: string; details: Record<string, unknown> }>(
            'SELECT action, actor_kind, details FROM audit_log ORDER BY seq DESC LIMIT 1',
          )
        ).rows,
    );
    expect(last).toEqual({
      action: 'audit.verify.failed',
      actor_kind: 'system',
      details: { records: 5, checkpoints: 0, problem: 'modified', firstBadSeq: 5 },
    });
    // Another serve process on the same database, due an hour later: it skips (one daily run,
    // not one per process); a day later it runs again.
    clock.advance(3_600_000);
    expect(await runScheduledAuditVerification(p)).toBeUndefined();
    clock.advance(SCHEDULED_VERIFY_MIN_GAP_MS);
    expect(await runScheduledAuditVerification(p)).toMatchObject({ ok: false });
  });
});
