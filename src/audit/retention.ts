/**
 * Retention of the audit log: records are kept at least six years (45 CFR 164.316(b)(2)(i); see
 * retention-policy.ts), and pruning, if it is ever done, removes only whole segments that are
 * exported to write-once storage and verify from there.
 *
 * Scrip deliberately does NOT delete audit rows. The tables refuse DELETE by trigger for every
 * role (migration 0003), and giving the application a way around that would turn a tamper-evident
 * log into one that can be thinned. {@link planAuditPrune} is a dry-run planner: it lists the
 * oldest contiguous run of segments that (1) are recorded in `audit_exports` for the target,
 * (2) re-verify from the target right now (records, leaves, signed checkpoints, chain), (3) match
 * the digests recorded at export, and (4) whose newest record and checkpoint are older than the
 * retention period; and it appends an `audit.prune.planned` audit record stating the plan.
 *
 * Acting on a plan is an owner-level, out-of-band procedure for the database owner (documented
 * here so it is reviewed like code): take a verified backup; re-run the planner and keep its
 * output; in one owner transaction disable the audit tables' user triggers, delete audit_log rows
 * with seq < throughSize and audit_merkle_nodes fully below it (keep every checkpoint row and the
 * perfect-subtree nodes of throughSize, so proofs and `verifyExport` of later segments still
 * resume from the signed prefix), re-enable the triggers, then append an `audit.prune.executed`
 * record. `scrip audit verify` will then report the pruned prefix as deleted; verification of the
 * pruned range moves to the export (verifyExport), which is why only verified exports qualify.
 */
import type { KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../core/index.js';
import type { Database } from '../db/index.js';
import { appendAudit } from './audit-log.js';
import { sha256Hex, type ExportTarget } from './export-target.js';
import { verifyExport } from './export-verify.js';
import { retentionCutoff, type RetentionPolicy } from './retention-policy.js';
import { manifestBytes } from './segment-format.js';

export interface PrunableSegment {
  readonly from: number;
  readonly to: number;
  /** Newest of the segment's last record time and its checkpoint's creation time. */
  readonly newestAt: Date;
}

export interface PrunePlan {
  readonly target: string;
  readonly retentionYears: number;
  /** Records created before this instant are past retention. */
  readonly cutoff: Date;
  readonly segments: readonly PrunableSegment[];
  /** Records with seq < throughSize could be pruned (0: nothing). */
  readonly throughSize: number;
  /** Why the plan stops where it does (the first segment that does not qualify). */
  readonly stoppedBecause: string;
}

interface ExportRow {
  tree_size: string;
  from_size: string;
  sha256: Buffer;
  records_sha256: Buffer;
  created_at: Date | null;
}

interface VerifiedSegment {
  readonly manifestSha256: string;
  readonly recordsSha256: string;
  readonly lastRecordTime: string;
}

/**
 * Plans (never performs) pruning for `target` under `policy` at `clock.now()`, verifying the
 * export with `publicKeys`, and records the plan in the audit log as `audit.prune.planned`.
 */
export async function planAuditPrune(
  db: Database,
  target: ExportTarget,
  policy: RetentionPolicy,
  publicKeys: KeyObject | readonly KeyObject[],
  clock: Clock = systemClock,
): Promise<PrunePlan> {
  const key = target.describe().key;
  const now = clock.now();
  const cutoff = retentionCutoff(policy, now);
  const rows = await db.withoutTenant(async (tx) => {
    const { rows: r } = await tx.query<ExportRow>(
      `SELECT e.tree_size, e.from_size, e.sha256, e.records_sha256, c.created_at
         FROM audit_exports e LEFT JOIN audit_checkpoints c ON c.tree_size = e.tree_size
        WHERE e.target = $1 AND e.kind = 'segment' ORDER BY e.tree_size`,
      [key],
    );
    return r;
  });
  const verified = new Map<number, VerifiedSegment>();
  const report = await verifyExport(target, publicKeys, {
    onSegment: (m, state) =>
      verified.set(m.to, {
        manifestSha256: sha256Hex(manifestBytes(m)),
        recordsSha256: m.records.sha256,
        lastRecordTime: state.lastRecordTime,
      }),
  });
  const segments: PrunableSegment[] = [];
  let stoppedBecause = rows.length === 0 ? 'nothing is exported to this target' : '';
  let expectedFrom = 0;
  for (const row of rows) {
    const from = Number(row.from_size);
    const to = Number(row.tree_size);
    const v = verified.get(to);
    const recordTime = Date.parse(v?.lastRecordTime ?? '');
    const newest = Math.max(recordTime, row.created_at?.getTime() ?? Number.NaN);
    const why =
      from !== expectedFrom
        ? `segment [${from}, ${to}) does not continue at ${expectedFrom}`
        : v === undefined
          ? `segment [${from}, ${to}) does not verify from the target: ${report.problem?.message ?? 'not found'}`
          : v.manifestSha256 !== row.sha256.toString('hex') ||
              v.recordsSha256 !== row.records_sha256.toString('hex')
            ? `segment [${from}, ${to}) differs from what was recorded at export`
            : !Number.isFinite(newest)
              ? `segment [${from}, ${to}) has no usable timestamps`
              : newest >= cutoff.getTime()
                ? `segment [${from}, ${to}) is within the ${policy.years}-year retention`
                : undefined;
    if (why !== undefined) {
      stoppedBecause = why;
      break;
    }
    segments.push({ from, to, newestAt: new Date(newest) });
    expectedFrom = to;
  }
  if (stoppedBecause === '') stoppedBecause = 'every exported segment qualifies';
  const throughSize = segments.at(-1)?.to ?? 0;
  await db.withoutTenant((tx) =>
    appendAudit(
      tx,
      {
        tenantId: null,
        actor: { kind: 'system' },
        action: 'audit.prune.planned',
        outcome: 'success',
        details: {
          target: key.slice(0, 1000),
          retentionYears: policy.years,
          cutoff: cutoff.toISOString(),
          segments: segments.length,
          throughSize,
          executed: false,
        },
      },
      clock,
    ),
  );
  return {
    target: key,
    retentionYears: policy.years,
    cutoff,
    segments,
    throughSize,
    stoppedBecause,
  };
}
