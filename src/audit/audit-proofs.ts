/**
 * Proofs from the database, as offline-checkable bundles (proof-bundle.ts) that
 * `scrip audit verify-proof` checks with nothing but the log's public key:
 * - inclusion (RFC 9162 §2.1.3): record `seq` is leaf `seq` of a signed checkpoint's tree;
 * - consistency (RFC 9162 §2.1.4): a later signed checkpoint extends an earlier one.
 * Both read O(log n) stored Merkle nodes (see audit-checkpoints.ts); nothing is recomputed.
 */
import { AppError, type TenantId } from '../core/index.js';
import type { Database } from '../db/index.js';
import { auditQueries, nodeReader, type StoredCheckpoint } from './audit-store.js';
import { consistencyProofFromReader, inclusionProofFromReader, leafHash } from './merkle.js';
import {
  createConsistencyBundle,
  createInclusionBundle,
  type ConsistencyProofBundle,
  type InclusionProofBundle,
} from './proof-bundle.js';

export interface InclusionProofOptions {
  /** Only prove records of this tenant; any other seq is "not found" (no existence oracle). */
  readonly tenantId?: TenantId;
  /** Put the record's canonical bytes in the bundle (default true), not only its leaf hash. */
  readonly includeRecord?: boolean;
}

function assertSeq(name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new TypeError(`${name} must be a non-negative integer`);
}

/**
 * Inclusion proof for record `seq` against `checkpoint` (a tree size or a stored checkpoint),
 * by default the latest checkpoint. `not_found` when the record does not exist, is not the
 * tenant's, or is not yet covered by a checkpoint of that size.
 */
export async function inclusionProofFor(
  db: Database,
  seq: number,
  checkpoint?: number | Pick<StoredCheckpoint, 'treeSize'>,
  options: InclusionProofOptions = {},
): Promise<InclusionProofBundle> {
  assertSeq('seq', seq);
  const size = typeof checkpoint === 'number' ? checkpoint : checkpoint?.treeSize;
  return db.withoutTenant(async (tx) => {
    const cp =
      size === undefined
        ? await auditQueries.latestCheckpoint(tx)
        : await auditQueries.checkpointAt(tx, size);
    const row = (await auditQueries.records(tx, seq, seq + 1))[0];
    if (
      row === undefined ||
      (options.tenantId !== undefined && row.tenantId !== options.tenantId)
    ) {
      throw new AppError('not_found', 'no such audit record');
    }
    if (cp === undefined || cp.treeSize <= seq) {
      throw new AppError('not_found', 'the audit record is not covered by that checkpoint yet');
    }
    const bytes = Buffer.from(row.record, 'utf8');
    if (!leafHash(bytes).equals(row.leafHash)) {
      throw new AppError('integrity_error', `audit record ${seq} does not match its leaf hash`);
    }
    const proof = await inclusionProofFromReader(nodeReader(tx), seq, cp.treeSize);
    return createInclusionBundle({
      checkpoint: cp.note,
      leafIndex: seq,
      proof,
      leafHash: row.leafHash,
      ...(options.includeRecord === false ? {} : { leaf: bytes }),
    });
  });
}

/**
 * Consistency proof between the stored checkpoints of tree sizes `size1` ≤ `size2`.
 * `not_found` unless both are checkpoints; `bad_request` when size1 > size2.
 */
export async function consistencyProofBetween(
  db: Database,
  size1: number,
  size2: number,
): Promise<ConsistencyProofBundle> {
  assertSeq('size1', size1);
  assertSeq('size2', size2);
  if (size1 > size2) throw new AppError('bad_request', 'size1 must not exceed size2');
  return db.withoutTenant(async (tx) => {
    const first = await auditQueries.checkpointAt(tx, size1);
    const second = await auditQueries.checkpointAt(tx, size2);
    if (first === undefined || second === undefined) {
      throw new AppError('not_found', 'both tree sizes must be signed checkpoints');
    }
    const proof = await consistencyProofFromReader(nodeReader(tx), size1, size2);
    return createConsistencyBundle({
      checkpoint1: first.note,
      checkpoint2: second.note,
      proof,
    });
  });
}
