/**
 * RFC 9162 §2.1.1 Merkle Tree Hash primitives (identical to RFC 6962 §2.1) over SHA-256, plus
 * the integer helpers the proof algorithms share. Node:crypto only.
 *
 * Tree sizes and leaf indices are plain `number`s restricted to safe integers (< 2^53): an audit
 * log will never approach that, and staying in `number` keeps every caller free of `bigint`.
 * Bit operations are done arithmetically because JavaScript's `>>`, `&` work on 32 bits only.
 */
import { createHash } from 'node:crypto';

/** Size in bytes of every hash in the tree (SHA-256). */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

/** RFC 9162 §2.1.1: the hash of an empty list, MTH({}) = SHA-256(""). */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

/** RFC 9162 §2.1.1: the leaf hash MTH({d(0)}) = SHA-256(0x00 ‖ d(0)). */
export function leafHash(data: Uint8Array): Buffer {
  if (!(data instanceof Uint8Array)) throw new TypeError('leafHash: data must be a Uint8Array');
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

/** RFC 9162 §2.1.1: an interior node, SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * Identifies a perfect (complete, 2^level leaves) subtree: `level` 0 is a leaf, and node
 * (level, index) covers leaves [index·2^level, (index+1)·2^level). Every node of an RFC 9162 tree
 * that is not on its right edge is such a subtree, and its hash never changes as the log grows,
 * which is what makes it safe to store and reuse.
 */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/** True for a non-negative safe integer (a usable tree size or leaf index). */
export function isSize(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Asserts a caller-supplied integer argument: a wrong type or range here is programmer misuse. */
export function assertSize(name: string, n: unknown): asserts n is number {
  if (!isSize(n)) throw new TypeError(`${name} must be a non-negative safe integer`);
}

/** Asserts a hash argument of exactly {@link HASH_SIZE} bytes (programmer misuse otherwise). */
export function assertHash(name: string, h: unknown): asserts h is Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== HASH_SIZE) {
    throw new TypeError(`${name} must be a ${HASH_SIZE}-byte Uint8Array`);
  }
}

/** Number of bits needed to write n (0 for 0). Exact for safe integers. */
export function bitLength(n: number): number {
  return n === 0 ? 0 : n.toString(2).length;
}

/** Number of set bits in n. */
export function popCount(n: number): number {
  let count = 0;
  for (const c of n.toString(2)) if (c === '1') count++;
  return count;
}

/** Exact floor(n / 2^k) for safe non-negative integers. */
export function shiftRight(n: number, k = 1): number {
  return Math.floor(n / 2 ** k);
}

/** Least-significant bit of n. */
export function lsb(n: number): boolean {
  return n % 2 === 1;
}

/** XOR of two safe non-negative integers (JavaScript's `^` truncates to 32 bits). */
export function xor(a: number, b: number): number {
  const hi = Math.floor(a / 2 ** 32) ^ Math.floor(b / 2 ** 32);
  const lo = ((a % 2 ** 32) ^ (b % 2 ** 32)) >>> 0;
  return (hi >>> 0) * 2 ** 32 + lo;
}

/** RFC 9162 §2.1.1: k, the largest power of two strictly smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  return 2 ** (bitLength(n - 1) - 1);
}

/** True when n is a power of two (n ≥ 1). */
export function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** (bitLength(n) - 1) === n;
}
