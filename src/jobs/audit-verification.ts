import type { KeyObject } from 'node:crypto';
import {
  appendAudit,
  checkWitness,
  DirectoryExportTarget,
  verifyAuditLog,
  type AuditDetailValue,
  type AuditVerifyReport,
} from '../audit/index.js';
import { isAppError } from '../core/index.js';
import { recordAuditVerification } from '../compliance/index.js';
import { AUDIT_VERIFY_FAILED, AUDIT_WITNESS_FAILED } from '../monitoring/index.js';
import type { Platform } from '../platform.js';

/**
 * A scheduled run within this long of the last scheduled run (by any process on the database) is
 * skipped: several `scrip serve` processes share one daily verification instead of each
 * re-reading the whole log.
 */
export const SCHEDULED_VERIFY_MIN_GAP_MS = 20 * 3_600_000;

type JobPlatform = Pick<Platform, 'db' | 'provider' | 'config' | 'clock'>;

/**
 * The scheduled audit verification (45 CFR 164.312(b), (c)(1); 21 CFR 1311.150(a)(5)): recomputes
 * chain and tree and checks every checkpoint against the platform's published signing keys, as
 * `scrip audit verify` does, without waiting for an operator. The run is kept as evidence for the
 * audit-verified control, and its result is an audit record: `audit.verify.failed` raises the
 * critical `audit_verification_failure` alert and lands in every tenant's daily EPCS review.
 * With `SCRIP_AUDIT_WITNESS_DIR` set, the witness check runs too (database and, with
 * `SCRIP_AUDIT_EXPORT_DIR`, the export against the witnessed checkpoints): deleting or rewinding
 * the database and the export together is caught without an operator, as `audit.witness.failed`
 * (same critical alert), or `audit.witness.passed`.
 * Undefined when another process ran it less than {@link SCHEDULED_VERIFY_MIN_GAP_MS} ago.
 */
export async function runScheduledAuditVerification(
  p: JobPlatform,
): Promise<AuditVerifyReport | undefined> {
  const last = await p.db.withoutTenant(async (tx) => {
    const { rows } = await tx.query<{ at: Date | null }>(
      "SELECT max(verified_at) AS at FROM compliance_audit_verifications WHERE source = 'job'",
    );
    return rows[0]?.at ?? null;
  });
  if (last !== null && p.clock.now().getTime() - last.getTime() < SCHEDULED_VERIFY_MIN_GAP_MS) {
    return undefined;
  }
  const keys = (await p.provider.listSigningKeys()).map((k) => k.publicKey);
  const report = await verifyAuditLog(p.db, keys, { origin: p.config.SCRIP_AUDIT_ORIGIN });
  const witness = await witnessOutcome(p, keys);
  const problem = report.problem;
  await p.db.withoutTenant(async (tx) => {
    await recordAuditVerification(tx, p.clock, report, 'job');
    await appendAudit(
      tx,
      {
        tenantId: null,
        actor: { kind: 'system' },
        action: report.ok ? 'audit.verify.passed' : AUDIT_VERIFY_FAILED,
        outcome: report.ok ? 'success' : 'failure',
        details: {
          records: report.records,
          checkpoints: report.checkpoints,
          ...(problem === undefined ? {} : { problem: problem.kind, firstBadSeq: problem.seq }),
        },
      },
      p.clock,
    );
    if (witness !== undefined) {
      await appendAudit(
        tx,
        {
          tenantId: null,
          actor: { kind: 'system' },
          action: witness.ok ? 'audit.witness.passed' : AUDIT_WITNESS_FAILED,
          outcome: witness.ok ? 'success' : 'failure',
          details: witness.details,
        },
        p.clock,
      );
    }
  });
  return report;
}

/**
 * The witness check's result as audit details (sizes and problem kinds, no messages), or
 * undefined without a witness. Fails closed: a witness that cannot be read, or that holds less
 * than the database recorded writing to it (witness deleted), is a failure.
 */
async function witnessOutcome(
  p: JobPlatform,
  keys: readonly KeyObject[],
): Promise<{ ok: boolean; details: Record<string, AuditDetailValue> } | undefined> {
  const dir = p.config.SCRIP_AUDIT_WITNESS_DIR;
  if (dir === undefined) return undefined;
  const witness = new DirectoryExportTarget(dir);
  const exportDir = p.config.SCRIP_AUDIT_EXPORT_DIR;
  try {
    const r = await checkWitness(p.db, witness, keys, {
      origin: p.config.SCRIP_AUDIT_ORIGIN,
      ...(exportDir === undefined ? {} : { exportTarget: new DirectoryExportTarget(exportDir) }),
    });
    const written = await p.db.withoutTenant(async (tx) => {
      const { rows } = await tx.query<{ n: string }>(
        "SELECT coalesce(max(tree_size), 0) AS n FROM audit_exports WHERE target = $1 AND kind = 'witness'",
        [witness.describe().key],
      );
      return Number(rows[0]?.n ?? 0);
    });
    const kinds = [...new Set(r.problems.map((x) => x.kind as string))];
    if (written > r.witnessSize) kinds.push('witness_behind');
    return {
      ok: kinds.length === 0,
      details: {
        witnessSize: r.witnessSize,
        databaseSize: r.databaseSize,
        ...(r.exportSize === undefined ? {} : { exportSize: r.exportSize }),
        witnessed: written,
        ...(kinds.length === 0 ? {} : { problems: kinds.sort().join(',') }),
      },
    };
  } catch (err) {
    return { ok: false, details: { problems: isAppError(err) ? err.code : 'witness_unreadable' } };
  }
}
