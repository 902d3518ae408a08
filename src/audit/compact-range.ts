/**
 * Streaming Merkle tree builder with O(log n) memory: a "compact range" [0, size), i.e. the
 * frontier of perfect subtrees given by the binary decomposition of `size` (RFC 9162 §2.1.1
 * splits every tree at the largest power of two, so those subtrees are exactly its left spine).
 *
 * The audit-log verifier streams millions of records through one of these: `append()` each leaf
 * hash, compare `root()` with every signed checkpoint it passes. The checkpoint worker persists
 * `state()` to resume without re-reading the log, and may persist every node reported to `onNode`
 * so that proofs can later be served from stored node hashes (see merkle-nodes.ts).
 */
import { AppError } from '../core/index.js';
import {
  HASH_SIZE,
  assertHash,
  isSize,
  emptyRoot,
  leafHash,
  lsb,
  nodeHash,
  popCount,
  type NodeId,
} from './merkle-hash.js';

/** Serializable state of a {@link CompactRange}: `hashes` from the largest subtree down. */
export interface CompactRangeState {
  readonly size: number;
  readonly hashes: readonly Buffer[];
}

/** Options for {@link CompactRange}. */
export interface CompactRangeOptions {
  /**
   * Called for every perfect subtree as soon as it is complete (each leaf, then each node a merge
   * creates), in increasing order of position. A node's hash never changes once reported.
   */
  readonly onNode?: (id: NodeId, hash: Buffer) => void;
}

/** Incremental RFC 9162 Merkle tree over leaf hashes; see the module comment. */
export class CompactRange {
  #size = 0;
  /** Perfect-subtree roots, one per set bit of #size, largest (leftmost) first. */
  readonly #hashes: Buffer[] = [];
  readonly #onNode: ((id: NodeId, hash: Buffer) => void) | undefined;

  constructor(options: CompactRangeOptions = {}) {
    this.#onNode = options.onNode;
  }

  /**
   * Resumes from a persisted {@link CompactRangeState}. The state is data read back from storage,
   * so an inconsistent one is reported as an `integrity_error`.
   */
  static fromState(state: CompactRangeState, options: CompactRangeOptions = {}): CompactRange {
    if (!isSize(state.size) || state.hashes.length !== popCount(state.size)) {
      throw new AppError('integrity_error', 'compact range state: hash count does not match size');
    }
    if (!state.hashes.every((h) => h instanceof Uint8Array && h.length === HASH_SIZE)) {
      throw new AppError('integrity_error', 'compact range state: malformed hash');
    }
    const range = new CompactRange(options);
    range.#size = state.size;
    range.#hashes.push(...state.hashes.map((h) => Buffer.from(h)));
    return range;
  }

  /** Number of leaves appended so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends one leaf hash (already SHA-256(0x00 ‖ data)); O(log n) worst, O(1) amortized. */
  append(hash: Uint8Array): void {
    assertHash('leaf hash', hash);
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new TypeError('compact range is full');
    let h: Buffer = Buffer.from(hash);
    let index = this.#size;
    let level = 0;
    this.#onNode?.({ level, index }, h);
    // A node with an odd index is a right child: its left sibling is the last stored subtree.
    while (lsb(index)) {
      const left = this.#hashes.pop();
      if (left === undefined) throw new Error('compact range invariant violated');
      h = nodeHash(left, h);
      index = (index - 1) / 2;
      level++;
      this.#onNode?.({ level, index }, h);
    }
    this.#hashes.push(h);
    this.#size++;
  }

  /** Convenience: appends `leafHash(data)`. */
  appendLeaf(data: Uint8Array): void {
    this.append(leafHash(data));
  }

  /**
   * RFC 9162 §2.1.1 MTH(D[0:size]): the subtrees folded right to left, which is exactly the
   * recursive split at the largest power of two. SHA-256("") when empty.
   */
  root(): Buffer {
    const last = this.#hashes.at(-1);
    if (last === undefined) return emptyRoot();
    let h = last;
    for (let i = this.#hashes.length - 2; i >= 0; i--) h = nodeHash(this.#hashes[i] as Buffer, h);
    return h;
  }

  /** Snapshot for persistence; copies, so later appends do not alter it. */
  state(): CompactRangeState {
    return { size: this.#size, hashes: this.#hashes.map((h) => Buffer.from(h)) };
  }
}
