/**
 * RFC 9162 (RFC 6962) Merkle tree for the tamper-evident audit log: hashing, in-memory proof
 * generation, proof verification, the streaming builder, and proof generation from a node store.
 * This file is the public face of the Merkle code; the pieces live in:
 * - merkle-hash.ts   §2.1.1 hashing (leaf 0x00, node 0x01, empty SHA-256("")) and bit helpers,
 * - compact-range.ts streaming O(log n)-memory builder (root at any size, resumable state),
 * - merkle-nodes.ts  §2.1.3.1 / §2.1.4.1 proofs planned as node ids, served by a NodeHashReader,
 * - merkle-verify.ts §2.1.3.2 / §2.1.4.2 verification.
 *
 * The array functions below hold every leaf hash in memory; they are for tests, small trees and
 * offline tools. Servers generate proofs with {@link inclusionProofFromReader} and
 * {@link consistencyProofFromReader}.
 */
import { CompactRange } from './compact-range.js';
import { assertHash, type NodeId } from './merkle-hash.js';
import { consistencyPlan, inclusionPlan, resolvePlan, type ElementPlan } from './merkle-nodes.js';

export { HASH_SIZE, emptyRoot, leafHash, nodeHash, type NodeId } from './merkle-hash.js';
export { CompactRange, type CompactRangeOptions, type CompactRangeState } from './compact-range.js';
export {
  consistencyPlan,
  consistencyProofFromReader,
  inclusionPlan,
  inclusionProofFromReader,
  leafRangeReader,
  resolvePlan,
  type ElementPlan,
  type LeafHashesFetcher,
  type NodeHashReader,
} from './merkle-nodes.js';
export {
  consistencyProofLength,
  inclusionProofLength,
  verifyConsistency,
  verifyInclusion,
} from './merkle-verify.js';

/**
 * RFC 9162 §2.1.1 MTH(D[n]) of the given leaf hashes (each already SHA-256(0x00 ‖ leaf)).
 * O(n) time, O(log n) extra memory.
 */
export function rootFromLeafHashes(leafHashes: readonly Uint8Array[]): Buffer {
  const range = new CompactRange();
  for (const h of leafHashes) range.append(h);
  return range.root();
}

function proofFromLeaves(
  plan: readonly ElementPlan[],
  leafHashes: readonly Uint8Array[],
): Buffer[] {
  leafHashes.forEach((h, i) => {
    assertHash(`leafHashes[${i}]`, h);
  });
  return resolvePlan(plan, (id: NodeId) => {
    const width = 2 ** id.level;
    return rootFromLeafHashes(leafHashes.slice(id.index * width, (id.index + 1) * width));
  });
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]): the inclusion proof for leaf `leafIndex` (0-based) in the tree
 * of all `leafHashes`, ordered from the leaf's sibling up to the root's child. Throws
 * `AppError('bad_request')` unless 0 ≤ leafIndex < leafHashes.length.
 */
export function inclusionProof(leafIndex: number, leafHashes: readonly Uint8Array[]): Buffer[] {
  return proofFromLeaves(inclusionPlan(leafIndex, leafHashes.length), leafHashes);
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]): the consistency proof from the first `size1` leaves to the
 * first `size2` leaves of `leafHashes`. Empty when size1 == size2; throws `AppError('bad_request')`
 * unless 0 < size1 ≤ size2 ≤ leafHashes.length.
 */
export function consistencyProof(
  size1: number,
  size2: number,
  leafHashes: readonly Uint8Array[],
): Buffer[] {
  const plan = consistencyPlan(size1, size2);
  if (size2 > leafHashes.length) {
    throw new TypeError('consistencyProof: size2 exceeds the number of leaf hashes supplied');
  }
  return proofFromLeaves(plan, leafHashes.slice(0, size2));
}
