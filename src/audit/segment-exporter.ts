/**
 * Exports sealed audit segments (records between two consecutive signed checkpoints, with the
 * material to verify them offline; see segment-format.ts) to a write-once {@link ExportTarget},
 * and the checkpoint notes to a witness target.
 *
 * One segment per transaction, under the `scripexp` advisory lock, so several processes can run
 * the exporter at once (the others wait, then find the segment recorded and move on). Objects are
 * written before the bookkeeping row (migration 0006 `audit_export_add`) commits; a crash in
 * between leaves objects whose re-export is byte-identical, which `putOnce` accepts. Before
 * sealing, the stored records are re-hashed and the segment's leaves must rebuild the stored,
 * signed root: a log already tampered with is refused (`integrity_error`), not exported.
 * Each export appends an `audit.export.segment` record in the same transaction. A run that fails
 * (a write-once conflict, an unreachable target, a log refused as tampered) appends
 * {@link AUDIT_EXPORT_FAILED} in a transaction of its own, which raises the critical
 * `audit_export_failure` alert (45 CFR 164.312(b), 164.316(b)(2)(i)), and then rethrows.
 */
import { AppError, isAppError, systemClock, type Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { appendAudit } from './audit-log.js';
import { auditQueries, nodeReader, perfectSubtrees, type StoredCheckpoint } from './audit-store.js';
import { encodeBase64 } from './base64.js';
import { sha256Hex, type ExportTarget } from './export-target.js';
import { CompactRange, consistencyProofFromReader, leafHash } from './merkle.js';
import {
  manifestBytes,
  manifestObjectName,
  recordsFileBytes,
  recordsObjectName,
  SEGMENT_TYPE,
  witnessObjectName,
  type SegmentManifest,
} from './segment-format.js';

/** The audit action of a failed export run; details carry the target, a code and `conflict`. */
export const AUDIT_EXPORT_FAILED = 'audit.export.failed';

export const EXPORT_LOCK = '8314615134238898288'; // 'scripexp', as in 0006_audit_export.sql
const BATCH = 10_000;

export interface ExportOptions {
  /** Stop starting new segments once this many records were exported in this run (default 100 000). */
  readonly maxRecords?: number;
  /** Also write each exported checkpoint note to this target. */
  readonly witness?: ExportTarget;
  readonly clock?: Clock;
}

export interface ExportedSegment {
  readonly from: number;
  readonly to: number;
  readonly manifest: string;
  readonly sha256: string;
}

export interface ExportReport {
  readonly target: string;
  readonly segments: readonly ExportedSegment[];
  readonly records: number;
  readonly witnessed: number;
  /** Tree size this target's exports now reach. */
  readonly exportedSize: number;
}

async function exportedSize(tx: Tx, target: string, kind: 'segment' | 'witness'): Promise<number> {
  const { rows } = await tx.query<{ n: string }>(
    'SELECT coalesce(max(tree_size), 0) AS n FROM audit_exports WHERE target = $1 AND kind = $2',
    [target, kind],
  );
  return Number(rows[0]?.n ?? 0);
}

async function recordExport(
  tx: Tx,
  row: {
    target: string;
    kind: 'segment' | 'witness';
    from: number;
    cp: StoredCheckpoint;
    object: string;
    sha256: string;
    recordsSha256: string | null;
    at: Date;
  },
): Promise<void> {
  await tx.query('SELECT audit_export_add($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
    row.target,
    row.kind,
    row.from,
    row.cp.treeSize,
    row.object,
    Buffer.from(row.sha256, 'hex'),
    row.recordsSha256 === null ? null : Buffer.from(row.recordsSha256, 'hex'),
    row.cp.rootHash,
    row.at,
  ]);
}

/** Builds the segment [from, cp.treeSize) from the database, checking it against the log. */
async function buildSegment(
  tx: Tx,
  from: number,
  cp: StoredCheckpoint,
): Promise<{ manifest: SegmentManifest; records: Buffer }> {
  const to = cp.treeSize;
  const previous = from === 0 ? undefined : await auditQueries.checkpointAt(tx, from);
  if (from > 0 && previous === undefined) {
    throw new AppError('integrity_error', `no stored checkpoint at exported size ${from}`);
  }
  const prefix = from === 0 ? [] : await nodeReader(tx).readNodes(perfectSubtrees(from));
  const range = CompactRange.fromState({ size: from, hashes: prefix.map((h) => Buffer.from(h)) });
  if (previous !== undefined && !range.root().equals(previous.rootHash)) {
    throw new AppError('integrity_error', `stored nodes do not give checkpoint ${from}'s root`);
  }
  const lines: string[] = [];
  const leaves: string[] = [];
  for (let start = from; start < to; start += BATCH) {
    const rows = await auditQueries.records(tx, start, Math.min(to, start + BATCH));
    rows.forEach((row, i) => {
      const leaf = leafHash(Buffer.from(row.record, 'utf8'));
      if (row.seq !== start + i || !leaf.equals(row.leafHash)) {
        throw new AppError('integrity_error', `audit record ${start + i} is missing or altered`);
      }
      range.append(leaf);
      lines.push(row.record);
      leaves.push(encodeBase64(leaf));
    });
    if (rows.length !== Math.min(to, start + BATCH) - start) {
      throw new AppError('integrity_error', `audit records below ${to} are missing`);
    }
  }
  if (!range.root().equals(cp.rootHash)) {
    throw new AppError('integrity_error', `audit records do not give checkpoint ${to}'s root`);
  }
  const proof = from === 0 ? [] : await consistencyProofFromReader(nodeReader(tx), from, to);
  const records = recordsFileBytes(lines);
  const manifest: SegmentManifest = {
    type: SEGMENT_TYPE,
    version: 1,
    origin: cp.origin,
    from,
    to,
    records: { object: recordsObjectName(to), sha256: sha256Hex(records), count: to - from },
    leafHashes: leaves,
    prefix: prefix.map(encodeBase64),
    previousCheckpoint: previous?.note ?? null,
    consistencyProof: proof.map(encodeBase64),
    checkpoint: cp.note,
  };
  return { manifest, records };
}

/** Writes the witness copy of every exported checkpoint the witness does not have yet. */
async function witnessUpTo(tx: Tx, witness: ExportTarget, upTo: number, at: Date): Promise<number> {
  const key = witness.describe().key;
  let after = await exportedSize(tx, key, 'witness');
  let count = 0;
  for (;;) {
    const page = (await auditQueries.checkpoints(tx, after, 100)).filter((c) => c.treeSize <= upTo);
    if (page.length === 0) return count;
    for (const cp of page) {
      const bytes = Buffer.from(cp.note, 'utf8');
      const name = witnessObjectName(cp.treeSize);
      const sha256 = sha256Hex(bytes);
      await witness.putOnce(name, bytes, { sha256 });
      const row = { target: key, kind: 'witness' as const, from: cp.treeSize, cp, object: name };
      await recordExport(tx, { ...row, sha256, recordsSha256: null, at });
      after = cp.treeSize;
      count++;
    }
  }
}

/**
 * Exports every checkpoint range not yet exported to `target` (oldest first), then witnesses the
 * exported checkpoints. Safe to run concurrently and to re-run after a crash.
 */
export async function exportPendingSegments(
  db: Database,
  target: ExportTarget,
  options: ExportOptions = {},
): Promise<ExportReport> {
  const clock = options.clock ?? systemClock;
  const budget = options.maxRecords ?? 100_000;
  if (!Number.isSafeInteger(budget) || budget < 1) throw new TypeError('maxRecords must be ≥ 1');
  try {
    return await exportRun(db, target, options, clock);
  } catch (err) {
    // Only a code leaves the export in the record: messages can carry paths or vendor text.
    const code = isAppError(err) ? err.code : 'io_error';
    await db
      .withoutTenant((tx) =>
        appendAudit(
          tx,
          {
            tenantId: null,
            actor: { kind: 'system' },
            action: AUDIT_EXPORT_FAILED,
            outcome: 'failure',
            details: {
              target: target.describe().key.slice(0, 1000),
              code,
              conflict: code === 'conflict',
            },
          },
          clock,
        ),
      )
      .catch(() => undefined); // the caller still gets the export's own error
    throw err;
  }
}

async function exportRun(
  db: Database,
  target: ExportTarget,
  options: ExportOptions,
  clock: Clock,
): Promise<ExportReport> {
  const budget = options.maxRecords ?? 100_000;
  const key = target.describe().key;
  const segments: ExportedSegment[] = [];
  let records = 0;
  let witnessed = 0;
  let size = 0;
  for (;;) {
    const step = await db.withoutTenant(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [EXPORT_LOCK]);
      const from = await exportedSize(tx, key, 'segment');
      const next = (await auditQueries.checkpoints(tx, from, 1))[0];
      if (next === undefined || (records > 0 && records + next.treeSize - from > budget)) {
        const w =
          options.witness === undefined
            ? 0
            : await witnessUpTo(tx, options.witness, from, clock.now());
        return { done: true as const, size: from, witnessed: w };
      }
      const { manifest, records: recordBytes } = await buildSegment(tx, from, next);
      const body = manifestBytes(manifest);
      const sha256 = sha256Hex(body);
      await target.putOnce(manifest.records.object, recordBytes, {
        sha256: manifest.records.sha256,
      });
      const name = manifestObjectName(next.treeSize);
      await target.putOnce(name, body, { sha256 });
      const at = clock.now();
      const row = { target: key, kind: 'segment' as const, from, cp: next, object: name, sha256 };
      await recordExport(tx, { ...row, recordsSha256: manifest.records.sha256, at });
      await appendAudit(
        tx,
        {
          tenantId: null,
          actor: { kind: 'system' },
          action: 'audit.export.segment',
          outcome: 'success',
          details: { target: key.slice(0, 1000), from, to: next.treeSize, sha256 },
        },
        clock,
      );
      return { done: false as const, segment: { from, to: next.treeSize, manifest: name, sha256 } };
    });
    if (step.done) {
      size = step.size;
      witnessed = step.witnessed;
      break;
    }
    segments.push(step.segment);
    records += step.segment.to - step.segment.from;
  }
  return { target: key, segments, records, witnessed, exportedSize: size };
}
