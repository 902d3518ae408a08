/**
 * Witness check: compare the log in the database (and optionally the export) with the checkpoint
 * notes a second, independent location received (C2SP tlog-checkpoint notes; RFC 9162 §8.1.2
 * gossip/witnessing is the model). Whoever can rewrite the database and the export together
 * still cannot recall what the witness holds, so this detects:
 * - `database_missing` / `database_behind`: the witness saw a checkpoint larger than anything
 *   in the database (log deleted, truncated, or restored from an old backup);
 * - `checkpoint_missing`: a checkpoint the witness saw is no longer in the database;
 * - `fork`: the database disagrees with a witnessed checkpoint (a different root at that size,
 *   or no RFC 9162 §2.1.4 consistency proof from it to the database's latest checkpoint);
 * - `export_invalid` / `export_behind` / `fork` on the export, when an export target is given;
 * - `witness_invalid`: a witness note that does not verify under the log's keys.
 */
import type { KeyObject } from 'node:crypto';
import { AppError, isAppError } from '../core/index.js';
import type { Database } from '../db/index.js';
import { auditQueries, nodeReader } from './audit-store.js';
import { openCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.js';
import type { ExportTarget } from './export-target.js';
import { verifiersFor, verifyExport } from './export-verify.js';
import { consistencyProofFromReader, verifyConsistency } from './merkle.js';
import { isWitnessName, WITNESS_PREFIX } from './segment-format.js';
import { parseNote } from './signed-note.js';

export type WitnessProblemKind =
  | 'witness_invalid'
  | 'database_missing'
  | 'database_behind'
  | 'database_signature'
  | 'checkpoint_missing'
  | 'fork'
  | 'export_invalid'
  | 'export_behind';

export interface WitnessProblem {
  readonly kind: WitnessProblemKind;
  readonly treeSize?: number;
  readonly message: string;
}

export interface WitnessReport {
  readonly ok: boolean;
  readonly witnessCheckpoints: number;
  /** Largest verified tree size the witness holds (0 when none). */
  readonly witnessSize: number;
  readonly databaseSize: number;
  /** Largest exported tree size (only when an export target was checked). */
  readonly exportSize?: number;
  readonly problems: readonly WitnessProblem[];
}

export interface WitnessCheckOptions {
  /** Also check this export target against the witness. */
  readonly exportTarget?: ExportTarget;
  /** Required log origin (default: taken from the notes). */
  readonly origin?: string;
}

/** Reads and verifies every witnessed checkpoint, by tree size. */
async function readWitness(
  witness: ExportTarget,
  keys: readonly KeyObject[],
  origin: string | undefined,
  problems: WitnessProblem[],
): Promise<Checkpoint[]> {
  const out: Checkpoint[] = [];
  for (const name of (await witness.list(WITNESS_PREFIX)).filter(isWitnessName)) {
    try {
      const note = (await witness.get(name)).toString('utf8');
      const claimed = parseCheckpoint(parseNote(note).text).origin;
      if (origin !== undefined && claimed !== origin)
        throw new AppError('integrity_error', 'other origin');
      const cp = openCheckpoint(note, verifiersFor(claimed, keys), { origin: claimed }).checkpoint;
      if (name !== `${WITNESS_PREFIX}${String(cp.size).padStart(20, '0')}.note`) {
        throw new AppError('integrity_error', 'note is stored under another tree size');
      }
      out.push(cp);
    } catch (err) {
      if (!isAppError(err)) throw err;
      problems.push({ kind: 'witness_invalid', message: `${name}: ${err.message}` });
    }
  }
  return out.sort((a, b) => a.size - b.size);
}

/** Compares the database (and optionally an export) with the witness; see the module comment. */
export async function checkWitness(
  db: Database,
  witness: ExportTarget,
  publicKeys: KeyObject | readonly KeyObject[],
  options: WitnessCheckOptions = {},
): Promise<WitnessReport> {
  const keys: readonly KeyObject[] = Array.isArray(publicKeys)
    ? (publicKeys as readonly KeyObject[])
    : [publicKeys as KeyObject];
  const problems: WitnessProblem[] = [];
  const seen = await readWitness(witness, keys, options.origin, problems);
  const latest = seen.at(-1);
  const witnessSize = latest?.size ?? 0;
  const databaseSize = await db.withoutTenant(async (tx) => {
    const head = await auditQueries.latestCheckpoint(tx);
    const dbSize = head?.treeSize ?? 0;
    if (latest !== undefined && head === undefined) {
      problems.push({
        kind: 'database_missing',
        treeSize: witnessSize,
        message: `the witness holds a checkpoint of ${witnessSize} records; the database has no checkpoint`,
      });
      return 0;
    }
    if (head === undefined) return 0;
    try {
      openCheckpoint(head.note, verifiersFor(head.origin, keys), { origin: head.origin });
    } catch (err) {
      if (!isAppError(err)) throw err;
      problems.push({ kind: 'database_signature', treeSize: dbSize, message: err.message });
    }
    if (witnessSize > dbSize) {
      problems.push({
        kind: 'database_behind',
        treeSize: witnessSize,
        message: `the witness holds a checkpoint of ${witnessSize} records; the database's latest is ${dbSize} (truncated or restored from an older backup)`,
      });
    }
    const stored = await tx.query<{ tree_size: string; root_hash: Buffer }>(
      'SELECT tree_size, root_hash FROM audit_checkpoints WHERE tree_size = ANY($1::bigint[])',
      [seen.map((c) => c.size)],
    );
    const roots = new Map(stored.rows.map((r) => [Number(r.tree_size), r.root_hash]));
    for (const cp of seen.filter((c) => c.size <= dbSize)) {
      const root = roots.get(cp.size);
      if (root === undefined) {
        problems.push({
          kind: 'checkpoint_missing',
          treeSize: cp.size,
          message: `witnessed checkpoint ${cp.size} is missing from the database`,
        });
      } else if (!root.equals(cp.rootHash)) {
        problems.push({
          kind: 'fork',
          treeSize: cp.size,
          message: `the database's checkpoint ${cp.size} has a different root than the witnessed one`,
        });
      }
    }
    const below = seen.filter((c) => c.size <= dbSize).at(-1);
    if (below !== undefined && !problems.some((p) => p.kind === 'fork')) {
      let consistent = false;
      try {
        const proof = await consistencyProofFromReader(nodeReader(tx), below.size, dbSize);
        consistent = verifyConsistency(below.size, dbSize, below.rootHash, head.rootHash, proof);
      } catch (err) {
        if (!isAppError(err)) throw err;
      }
      if (!consistent) {
        problems.push({
          kind: 'fork',
          treeSize: below.size,
          message: `the database's tree of ${dbSize} records does not extend witnessed checkpoint ${below.size}`,
        });
      }
    }
    return dbSize;
  });
  let exportSize: number | undefined;
  if (options.exportTarget !== undefined) {
    const exportRoots = new Map<number, Buffer>();
    const report = await verifyExport(options.exportTarget, keys, {
      ...(options.origin === undefined ? {} : { origin: options.origin }),
      onSegment: (_m, state) => exportRoots.set(state.size, state.checkpoint.rootHash),
    });
    exportSize = report.treeSize;
    if (!report.ok) {
      problems.push({ kind: 'export_invalid', message: report.problem?.message ?? 'invalid' });
    }
    if (witnessSize > exportSize) {
      problems.push({
        kind: 'export_behind',
        treeSize: witnessSize,
        message: `the witness holds a checkpoint of ${witnessSize} records; the export reaches ${exportSize}`,
      });
    }
    for (const cp of seen) {
      const root = exportRoots.get(cp.size);
      if (root !== undefined && !root.equals(cp.rootHash)) {
        problems.push({
          kind: 'fork',
          treeSize: cp.size,
          message: `the export's checkpoint ${cp.size} differs from the witnessed one`,
        });
      }
    }
  }
  return {
    ok: problems.length === 0,
    witnessCheckpoints: seen.length,
    witnessSize,
    databaseSize,
    ...(exportSize === undefined ? {} : { exportSize }),
    problems,
  };
}
