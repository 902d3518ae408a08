/**
 * Records of the verifications the controls rely on: every run of the audit-log verifier
 * (45 CFR 164.312(b), (c)(1); 21 CFR 1311.120(b)(26)) and every restore or restore drill of a
 * backup (164.308(a)(7)(ii)(A), (D)). Platform rows, append-only; the control checks read them.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import type { Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { verifyAuditLog, type AuditVerifyOptions, type AuditVerifyReport } from '../audit/index.js';

/** Who ran a verification: `cli`, `job` (serve's daily run), `evidence` (an export). */
export type VerificationSource = 'cli' | 'job' | 'evidence' | 'test';

/** Stores one audit-log verification result (outside any tenant: the log spans all of them). */
export async function recordAuditVerification(
  tx: Tx,
  clock: Clock,
  report: AuditVerifyReport,
  source: VerificationSource,
): Promise<void> {
  await tx.query(
    `INSERT INTO compliance_audit_verifications (id, verified_at, ok, records, checkpoints, root_hash,
                                                 problem_kind, problem_seq, source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      randomUUID(),
      clock.now(),
      report.ok,
      report.records,
      report.checkpoints,
      report.rootHash,
      report.problem?.kind ?? null,
      report.problem?.seq ?? null,
      source,
    ],
  );
}

/** Runs the verifier over the whole log and records its result. */
export async function verifyAndRecordAuditLog(
  db: Database,
  publicKeys: readonly KeyObject[],
  clock: Clock,
  source: VerificationSource,
  options: AuditVerifyOptions = {},
): Promise<AuditVerifyReport> {
  const report = await verifyAuditLog(db, publicKeys, options);
  await db.withoutTenant((tx) => recordAuditVerification(tx, clock, report, source));
  return report;
}

/** The latest recorded audit verification within `withinMs`, if any. */
export async function recentAuditVerification(
  db: Database,
  clock: Clock,
  withinMs: number,
): Promise<{ verifiedAt: Date; ok: boolean } | undefined> {
  const since = new Date(clock.now().getTime() - withinMs);
  return db.withoutTenant(async (tx) => {
    const { rows } = await tx.query<{ verified_at: Date; ok: boolean }>(
      `SELECT verified_at, ok FROM compliance_audit_verifications
        WHERE verified_at >= $1 ORDER BY verified_at DESC, db_time DESC LIMIT 1`,
      [since],
    );
    const r = rows[0];
    return r === undefined ? undefined : { verifiedAt: r.verified_at, ok: r.ok };
  });
}

export interface BackupVerification {
  readonly kind: 'restore' | 'restore_drill';
  readonly ok: boolean;
  readonly fileSha256?: string | undefined;
  readonly tables?: number;
  readonly rows?: number;
  /** A short, non-secret note (e.g. the failure's code). */
  readonly detail?: string | undefined;
}

/** Stores one restore or restore drill. */
export async function recordBackupVerification(
  tx: Tx,
  clock: Clock,
  v: BackupVerification,
): Promise<void> {
  await tx.query(
    `INSERT INTO compliance_backup_verifications (id, verified_at, kind, ok, file_sha256, tables, rows, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      randomUUID(),
      clock.now(),
      v.kind,
      v.ok,
      v.fileSha256 ?? null,
      v.tables ?? 0,
      v.rows ?? 0,
      v.detail?.slice(0, 500) ?? null,
    ],
  );
}
