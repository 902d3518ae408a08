/**
 * RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) proof verification, step by step as
 * the RFC writes it, for proofs that arrive from outside (proof bundles, API clients, a replica).
 *
 * Outcome contract, shared by both verifiers:
 * - `true`: the proof verifies.
 * - `false`: the input is well formed but the hashes do not match (tampered leaf, proof or root).
 * - throws `AppError('validation_failed')`: the input cannot be a proof for the stated sizes —
 *   an index or size that is not a safe non-negative integer or is out of range, a leaf hash or
 *   proof element that is not 32 bytes, a proof of the wrong length, a consistency check from
 *   size 0, or a non-empty proof between equal sizes.
 * - throws `TypeError`: programmer misuse (a size that is not a number, a hash that is not bytes).
 *
 * Either failure outcome must be treated as "not proven". Roots are compared as opaque byte
 * strings (as transparency-dev/merkle does); a root of the wrong length simply never matches a
 * computed one, and only equals itself in the size1 == size2 case. Roots normally come from
 * parsed checkpoints, which already enforce 32 bytes.
 */
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../core/index.js';
import {
  HASH_SIZE,
  bitLength,
  isPowerOfTwo,
  isSize,
  lsb,
  nodeHash,
  popCount,
  shiftRight,
  xor,
} from './merkle-hash.js';

function malformed(message: string): AppError {
  return new AppError('validation_failed', message);
}

function checkSize(name: string, n: unknown): number {
  if (typeof n !== 'number') throw new TypeError(`${name} must be a number`);
  if (!isSize(n)) throw malformed(`${name} is not a non-negative safe integer`);
  return n;
}

function checkProof(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw new TypeError('proof must be an array');
  for (const p of proof) {
    if (!(p instanceof Uint8Array)) throw new TypeError('proof elements must be Uint8Arrays');
    if (p.length !== HASH_SIZE) throw malformed(`proof element is not ${HASH_SIZE} bytes`);
  }
}

function checkBytes(name: string, b: unknown): asserts b is Uint8Array {
  if (!(b instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Number of hashes in the inclusion path for `leafIndex` in a tree of `treeSize`
 * (0 ≤ leafIndex < treeSize): the siblings below the point where the leaf's path leaves the
 * right edge, plus one per left subtree above it.
 */
export function inclusionProofLength(leafIndex: number, treeSize: number): number {
  const inner = bitLength(xor(leafIndex, treeSize - 1));
  return inner + popCount(shiftRight(leafIndex, inner));
}

/**
 * Number of hashes in the consistency proof from `size1` to `size2` (0 < size1 < size2): the
 * inclusion path of the largest perfect subtree ending at size1, plus that subtree itself unless
 * size1 is a power of two (then it is the old root, which the verifier already holds).
 */
export function consistencyProofLength(size1: number, size2: number): number {
  let level = 0;
  while (!lsb(shiftRight(size1, level))) level++;
  const index = shiftRight(size1 - 1, level);
  const length = inclusionProofLength(index, shiftRight(size2 - 1, level) + 1);
  return isPowerOfTwo(size1) ? length : length + 1;
}

/**
 * RFC 9162 §2.1.3.2: does `proof` show that `leafHash` (already SHA-256(0x00 ‖ leaf)) is leaf
 * number `leafIndex` (0-based) of the tree of `treeSize` leaves whose root is `root`?
 * See the module comment for the true / false / throw contract.
 */
export function verifyInclusion(
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const index = checkSize('leafIndex', leafIndex);
  const size = checkSize('treeSize', treeSize);
  checkBytes('leafHash', leafHash);
  checkBytes('root', root);
  checkProof(proof);
  // Step 1: leaf_index ≥ tree_size fails (this also rejects every proof against size 0).
  if (index >= size) throw malformed('leafIndex is not below treeSize');
  if (leafHash.length !== HASH_SIZE) throw malformed(`leafHash is not ${HASH_SIZE} bytes`);
  if (proof.length !== inclusionProofLength(index, size)) {
    throw malformed('inclusion proof has the wrong number of hashes for these sizes');
  }
  // Steps 2–3.
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leafHash;
  // Step 4.
  for (const p of proof) {
    if (sn === 0) return false; // 4a
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r); // 4b.i
      if (!lsb(fn)) {
        // 4b.ii: right-shift fn and sn until LSB(fn) is set or fn is 0.
        while (!lsb(fn) && fn !== 0) {
          fn = shiftRight(fn);
          sn = shiftRight(sn);
        }
      }
    } else {
      r = nodeHash(r, p); // 4b otherwise
    }
    fn = shiftRight(fn); // 4c
    sn = shiftRight(sn);
  }
  // Step 5.
  return sn === 0 && bytesEqual(r, root);
}

/**
 * RFC 9162 §2.1.4.2: does `proof` show that the tree of `size2` leaves with root `root2` extends
 * the tree of `size1` leaves with root `root1`? Policy beyond the RFC (transparency-dev/merkle,
 * ../shared/vectors README): size1 == 0 is always malformed (nothing to prove, and the RFC
 * algorithm is undefined there); size1 == size2 requires an empty proof and verifies iff the
 * roots are equal. See the module comment for the true / false / throw contract.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  const first = checkSize('size1', size1);
  const second = checkSize('size2', size2);
  checkBytes('root1', root1);
  checkBytes('root2', root2);
  checkProof(proof);
  if (first > second) throw malformed('size1 exceeds size2');
  if (first === 0) throw malformed('consistency from an empty tree is not checkable');
  if (first === second) {
    if (proof.length !== 0) throw malformed('consistency proof between equal sizes must be empty');
    return bytesEqual(root1, root2);
  }
  if (proof.length !== consistencyProofLength(first, second)) {
    throw malformed('consistency proof has the wrong number of hashes for these sizes');
  }
  // Step 1: an empty consistency_path fails (unreachable after the length check; kept literal).
  if (proof.length === 0) return false;
  // Step 2: if first is an exact power of 2, prepend first_hash to the path.
  const path: readonly Uint8Array[] = isPowerOfTwo(first) ? [root1, ...proof] : proof;
  // Step 3.
  let fn = first - 1;
  let sn = second - 1;
  // Step 4: if LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
  while (lsb(fn)) {
    fn = shiftRight(fn);
    sn = shiftRight(sn);
  }
  // Step 5.
  const seed = path[0] as Uint8Array;
  let fr: Uint8Array = seed;
  let sr: Uint8Array = seed;
  // Step 6: each subsequent value c.
  for (const c of path.slice(1)) {
    if (sn === 0) return false; // 6a
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr); // 6b.i
      sr = nodeHash(c, sr); // 6b.ii
      if (!lsb(fn)) {
        // 6b.iii: right-shift fn and sn until LSB(fn) is set or fn is 0.
        while (!lsb(fn) && fn !== 0) {
          fn = shiftRight(fn);
          sn = shiftRight(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c); // 6b otherwise
    }
    fn = shiftRight(fn); // 6c
    sn = shiftRight(sn);
  }
  // Step 7.
  return bytesEqual(fr, root1) && bytesEqual(sr, root2) && sn === 0;
}
