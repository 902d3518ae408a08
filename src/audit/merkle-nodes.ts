/**
 * Proof generation from stored node hashes, so a proof for a large tree never needs all leaves
 * in memory.
 *
 * Every element of an RFC 9162 inclusion path (§2.1.3.1) or consistency proof (§2.1.4.1) is
 * MTH(D[a:b]) of a leaf range whose start is aligned to the largest power of two not above its
 * length; such a range is covered left to right by perfect subtrees of strictly decreasing size,
 * and its MTH is their right fold. A proof is therefore planned as lists of {@link NodeId}s
 * (O(log n) of them) that any {@link NodeHashReader} can fetch in one batch.
 *
 * Readers, fastest first:
 * - stored nodes: persist every (level, index) → hash that {@link CompactRange} reports through
 *   `onNode` (2n−1 rows, or only every 8th level as "tiles" and rehash below). A proof is then
 *   one indexed lookup of O(log n) rows. This is the intended production reader.
 * - {@link leafRangeReader}: recomputes each node from leaf hashes fetched on demand with
 *   `getLeafHashes(from, to)`. O(n) hashing and fetching per proof, O(batch + log n) memory.
 *   Acceptable until the node table exists; documented as the simple version.
 */
import { AppError } from '../core/index.js';
import { CompactRange } from './compact-range.js';
import {
  HASH_SIZE,
  assertSize,
  bitLength,
  nodeHash,
  splitPoint,
  type NodeId,
} from './merkle-hash.js';

/** One proof element: the perfect subtrees (left to right) whose right fold is the element. */
export type ElementPlan = readonly NodeId[];

/** Source of perfect-subtree hashes. Every requested node lies entirely inside the tree. */
export interface NodeHashReader {
  /** Returns one 32-byte hash per id, in the same order. */
  readNodes(ids: readonly NodeId[]): Promise<readonly Uint8Array[]>;
}

/** Reads leaf hashes [from, to) (`to` exclusive) from the log, in order. */
export type LeafHashesFetcher = (from: number, to: number) => Promise<readonly Uint8Array[]>;

/** The perfect subtrees covering [begin, end), where begin is aligned as described above. */
function rangePlan(begin: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let at = begin;
  while (at < end) {
    const level = bitLength(end - at) - 1;
    const width = 2 ** level;
    if (at % width !== 0) throw new Error('merkle: unaligned proof range (bug)');
    out.push({ level, index: at / width });
    at += width;
  }
  return out;
}

function outOfRange(message: string): AppError {
  return new AppError('bad_request', message);
}

/**
 * RFC 9162 §2.1.3.1 PATH(m, D[n]) as a plan, leaf to root. Throws `bad_request` unless
 * 0 ≤ leafIndex < treeSize.
 */
export function inclusionPlan(leafIndex: number, treeSize: number): ElementPlan[] {
  assertSize('leafIndex', leafIndex);
  assertSize('treeSize', treeSize);
  if (leafIndex >= treeSize) throw outOfRange('inclusion proof: leaf index is not below tree size');
  const rootToLeaf: ElementPlan[] = [];
  let lo = 0;
  let hi = treeSize;
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (leafIndex < lo + k) {
      rootToLeaf.push(rangePlan(lo + k, hi)); // PATH(m, D[0:k]) : MTH(D[k:n])
      hi = lo + k;
    } else {
      rootToLeaf.push(rangePlan(lo, lo + k)); // PATH(m - k, D[k:n]) : MTH(D[0:k])
      lo += k;
    }
  }
  return rootToLeaf.reverse();
}

/**
 * RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as a plan. `size1 === size2` gives
 * the empty proof (the policy the verifier enforces); `bad_request` unless 0 < size1 ≤ size2.
 */
export function consistencyPlan(size1: number, size2: number): ElementPlan[] {
  assertSize('size1', size1);
  assertSize('size2', size2);
  if (size1 === 0) throw outOfRange('consistency proof: size1 must be at least 1');
  if (size1 > size2) throw outOfRange('consistency proof: size1 exceeds size2');
  if (size1 === size2) return [];
  const rootDown: ElementPlan[] = [];
  let lo = 0;
  let hi = size2;
  let complete = true; // SUBPROOF's b: still on the path of the whole old tree
  for (;;) {
    if (size1 === hi) {
      // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
      if (!complete) rootDown.push(rangePlan(lo, hi));
      break;
    }
    const k = splitPoint(hi - lo);
    if (size1 - lo <= k) {
      rootDown.push(rangePlan(lo + k, hi)); // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      hi = lo + k;
    } else {
      rootDown.push(rangePlan(lo, lo + k)); // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      lo += k;
      complete = false;
    }
  }
  return rootDown.reverse();
}

/** Folds each planned element from node hashes looked up by `hashOf`. */
export function resolvePlan(
  plan: readonly ElementPlan[],
  hashOf: (id: NodeId) => Uint8Array,
): Buffer[] {
  return plan.map((element) => {
    const hashes = element.map(hashOf);
    let h: Buffer = Buffer.from(hashes[hashes.length - 1] ?? Buffer.alloc(0));
    for (let i = hashes.length - 2; i >= 0; i--) h = nodeHash(hashes[i] as Uint8Array, h);
    return h;
  });
}

const nodeKey = (id: NodeId): string => `${id.level}/${id.index}`;

async function proofFromReader(reader: NodeHashReader, plan: ElementPlan[]): Promise<Buffer[]> {
  const unique = new Map<string, NodeId>();
  for (const element of plan) for (const id of element) unique.set(nodeKey(id), id);
  const ids = [...unique.values()];
  const hashes = ids.length === 0 ? [] : await reader.readNodes(ids);
  if (hashes.length !== ids.length) {
    throw new AppError('integrity_error', 'node store returned the wrong number of hashes');
  }
  const byKey = new Map<string, Uint8Array>();
  ids.forEach((id, i) => {
    const h = hashes[i];
    if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
      throw new AppError('integrity_error', 'node store returned a malformed hash');
    }
    byKey.set(nodeKey(id), h);
  });
  return resolvePlan(plan, (id) => byKey.get(nodeKey(id)) as Uint8Array);
}

/** RFC 9162 §2.1.3.1 inclusion proof (leaf to root) computed from a {@link NodeHashReader}. */
export async function inclusionProofFromReader(
  reader: NodeHashReader,
  leafIndex: number,
  treeSize: number,
): Promise<Buffer[]> {
  return proofFromReader(reader, inclusionPlan(leafIndex, treeSize));
}

/** RFC 9162 §2.1.4.1 consistency proof computed from a {@link NodeHashReader}. */
export async function consistencyProofFromReader(
  reader: NodeHashReader,
  size1: number,
  size2: number,
): Promise<Buffer[]> {
  return proofFromReader(reader, consistencyPlan(size1, size2));
}

/**
 * The simple reader: rebuilds each requested node by streaming its 2^level leaf hashes through a
 * {@link CompactRange}, `batchSize` leaves per `fetchLeafHashes` call. See the module comment for
 * its cost; a short or malformed answer from the store is an `integrity_error`.
 */
export function leafRangeReader(
  fetchLeafHashes: LeafHashesFetcher,
  options: { readonly batchSize?: number } = {},
): NodeHashReader {
  const batchSize = options.batchSize ?? 4096;
  assertSize('batchSize', batchSize);
  if (batchSize === 0) throw new TypeError('batchSize must be positive');
  return {
    async readNodes(ids) {
      const out: Buffer[] = [];
      for (const id of ids) {
        const width = 2 ** id.level;
        const begin = id.index * width;
        const range = new CompactRange();
        for (let from = begin; from < begin + width; from += batchSize) {
          const to = Math.min(from + batchSize, begin + width);
          const leaves = await fetchLeafHashes(from, to);
          if (leaves.length !== to - from) {
            throw new AppError('integrity_error', 'leaf store returned the wrong number of hashes');
          }
          for (const leaf of leaves) {
            if (!(leaf instanceof Uint8Array) || leaf.length !== HASH_SIZE) {
              throw new AppError('integrity_error', 'leaf store returned a malformed leaf hash');
            }
            range.append(leaf);
          }
        }
        out.push(range.root());
      }
      return out;
    },
  };
}
