import { appendAudit, verifyAuditLog, type AuditVerifyReport } from '../audit/index.js';
import { recordAuditVerification } from '../compliance/index.js';
import { AUDIT_VERIFY_FAILED } from '../monitoring/index.js';
import type { Platform } from '../platform.js';

/**
 * The scheduled audit verification (45 CFR 164.312(b), (c)(1); 21 CFR 1311.150(a)(5)): recomputes
 * chain and tree and checks every checkpoint against the platform's published signing keys, as
 * `scrip audit verify` does, without waiting for an operator. The run is kept as evidence for the
 * audit-verified control, and its result is an audit record: `audit.verify.failed` raises the
 * critical `audit_verification_failure` alert and lands in every tenant's daily EPCS review.
 */
export async function runScheduledAuditVerification(
  p: Pick<Platform, 'db' | 'provider' | 'config' | 'clock'>,
): Promise<AuditVerifyReport> {
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
