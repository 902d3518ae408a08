import { appendAudit, verifyAuditLog, type AuditVerifyReport } from '../audit/index.js';
import { recordAuditVerification } from '../compliance/index.js';
import { AUDIT_VERIFY_FAILED } from '../monitoring/index.js';
import type { Platform } from '../platform.js';

/**
 * A scheduled run within this long of the last scheduled run (by any process on the database) is
 * skipped: several `scrip serve` processes share one daily verification instead of each
 * re-reading the whole log.
 */
export const SCHEDULED_VERIFY_MIN_GAP_MS = 20 * 3_600_000;

/**
 * The scheduled audit verification (45 CFR 164.312(b), (c)(1); 21 CFR 1311.150(a)(5)): recomputes
 * chain and tree and checks every checkpoint against the platform's published signing keys, as
 * `scrip audit verify` does, without waiting for an operator. The run is kept as evidence for the
 * audit-verified control, and its result is an audit record: `audit.verify.failed` raises the
 * critical `audit_verification_failure` alert and lands in every tenant's daily EPCS review.
 * Undefined when another process ran it less than {@link SCHEDULED_VERIFY_MIN_GAP_MS} ago.
 */
export async function runScheduledAuditVerification(
  p: Pick<Platform, 'db' | 'provider' | 'config' | 'clock'>,
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
  });
  return report;
}
