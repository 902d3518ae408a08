import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  CompactRange,
  consistencyProof,
  consistencyProofFromReader,
  consistencyProofLength,
  inclusionProof,
  inclusionProofFromReader,
  inclusionProofLength,
  leafHash,
  leafRangeReader,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
  type NodeHashReader,
} from './merkle.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): (max: number) => number {
  let a = seed >>> 0;
  return (max) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * max;
  };
}
const rand = prng(0x5c819);
const randInt = (lo: number, hi: number): number => lo + Math.floor(rand(hi - lo + 1));

const makeLeaves = (n: number): Buffer[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`audit record ${i}`)));
const leaves300 = makeLeaves(300);

/** Independent RFC 9162 §2.1.1 MTH, written straight from the recursive definition. */
function naiveRoot(d: readonly Buffer[]): Buffer {
  if (d.length === 0) return createHash('sha256').digest();
  if (d.length === 1) return d[0] as Buffer;
  let k = 1;
  while (k * 2 < d.length) k *= 2;
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(naiveRoot(d.slice(0, k)))
    .update(naiveRoot(d.slice(k)))
    .digest();
}

function flipped(b: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(b);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

/** True when `verify` returns false or throws validation_failed. */
function fails(verify: () => boolean): boolean {
  try {
    return !verify();
  } catch (err) {
    if (err instanceof AppError && err.code === 'validation_failed') return true;
    throw err;
  }
}

/** Every single-bit change of every element must make `verify` fail (false or throw). */
function everyBitFlipFails(
  hashes: readonly Buffer[],
  verify: (changed: Buffer[]) => boolean,
): number {
  let checked = 0;
  hashes.forEach((h, i) => {
    for (let bit = 0; bit < h.length * 8; bit++) {
      const changed = [...hashes];
      changed[i] = flipped(h, bit);
      expect(
        fails(() => verify(changed)),
        `element ${i} bit ${bit}`,
      ).toBe(true);
      checked++;
    }
  });
  return checked;
}

const randomSizes = [
  1,
  2,
  3,
  127,
  128,
  129,
  255,
  256,
  257,
  300,
  ...Array.from({ length: 10 }, () => randInt(4, 300)),
];

describe('roots', () => {
  it('CompactRange, rootFromLeafHashes and the naive recursion agree for every size 0..130', () => {
    const range = new CompactRange();
    for (let n = 0; n <= 130; n++) {
      const want = naiveRoot(leaves300.slice(0, n));
      expect(range.root().equals(want), `size ${n}`).toBe(true);
      expect(rootFromLeafHashes(leaves300.slice(0, n)).equals(want)).toBe(true);
      range.append(leaves300[n] as Buffer);
    }
  });
});

describe('exhaustive small trees (n ≤ 40)', () => {
  it('every inclusion and consistency proof verifies and has the predicted length', () => {
    for (let n = 1; n <= 40; n++) {
      const tree = leaves300.slice(0, n);
      const root = rootFromLeafHashes(tree);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, tree);
        expect(proof.length).toBe(inclusionProofLength(i, n));
        expect(verifyInclusion(i, n, tree[i] as Buffer, proof, root), `${i}/${n}`).toBe(true);
      }
      for (let m = 1; m < n; m++) {
        const proof = consistencyProof(m, n, tree);
        expect(proof.length).toBe(consistencyProofLength(m, n));
        const root1 = rootFromLeafHashes(tree.slice(0, m));
        expect(verifyConsistency(m, n, root1, root, proof), `${m}->${n}`).toBe(true);
      }
    }
  });
});

describe.each(randomSizes)('random tree of size %i', (n) => {
  const tree = leaves300.slice(0, n);
  const root = rootFromLeafHashes(tree);

  it('every leaf has a verifying inclusion proof', () => {
    for (let i = 0; i < n; i++) {
      expect(verifyInclusion(i, n, tree[i] as Buffer, inclusionProof(i, tree), root)).toBe(true);
    }
  });

  it('flipping any bit of proof, leaf or root fails inclusion', () => {
    const i = randInt(0, n - 1);
    const proof = inclusionProof(i, tree);
    const leaf = tree[i] as Buffer;
    everyBitFlipFails(proof, (p) => verifyInclusion(i, n, leaf, p, root));
    everyBitFlipFails([leaf, root], ([l, r]) =>
      verifyInclusion(i, n, l as Buffer, proof, r as Buffer),
    );
    if (n > 1) expect(fails(() => verifyInclusion((i + 1) % n, n, leaf, proof, root))).toBe(true);
  });

  it('consistency proofs verify and flipping any bit fails', () => {
    const m = randInt(1, n);
    const root1 = rootFromLeafHashes(tree.slice(0, m));
    const proof = consistencyProof(m, n, tree);
    expect(verifyConsistency(m, n, root1, root, proof)).toBe(true);
    everyBitFlipFails(proof, (p) => verifyConsistency(m, n, root1, root, p));
    everyBitFlipFails([root1, root], ([r1, r2]) =>
      verifyConsistency(m, n, r1 as Buffer, r2 as Buffer, proof),
    );
  });
});

describe('CompactRange', () => {
  it('reports every perfect subtree exactly once with its correct hash', () => {
    const seen = new Map<string, Buffer>();
    const range = new CompactRange({
      onNode: ({ level, index }, hash) => {
        const key = `${level}/${index}`;
        expect(seen.has(key)).toBe(false);
        seen.set(key, hash);
      },
    });
    for (const l of leaves300.slice(0, 100)) range.append(l);
    expect(seen.size).toBe(100 + 50 + 25 + 12 + 6 + 3 + 1);
    for (const [key, hash] of seen) {
      const [level, index] = key.split('/').map(Number) as [number, number];
      const width = 2 ** level;
      expect(hash.equals(naiveRoot(leaves300.slice(index * width, (index + 1) * width)))).toBe(
        true,
      );
    }
  });

  it('resumes from persisted state', () => {
    const a = new CompactRange();
    for (const l of leaves300.slice(0, 77)) a.append(l);
    const b = CompactRange.fromState(
      JSON.parse(JSON.stringify(a.state()), (_k, v: unknown) =>
        v !== null && typeof v === 'object' && 'type' in v && v.type === 'Buffer' && 'data' in v
          ? Buffer.from(v.data as number[])
          : v,
      ) as ReturnType<CompactRange['state']>,
    );
    for (const l of leaves300.slice(77, 200)) {
      a.append(l);
      b.append(l);
    }
    expect(b.size).toBe(200);
    expect(b.root().equals(a.root())).toBe(true);
    expect(b.root().equals(naiveRoot(leaves300.slice(0, 200)))).toBe(true);
  });

  it('rejects corrupt state and bad leaf hashes', () => {
    const state = { size: 5, hashes: [leaves300[0] as Buffer] };
    expect(() => CompactRange.fromState(state)).toThrow(AppError);
    expect(() => CompactRange.fromState({ size: 1, hashes: [Buffer.alloc(31)] })).toThrow(AppError);
    expect(() => {
      new CompactRange().append(Buffer.alloc(33));
    }).toThrow(TypeError);
  });
});

describe('proofs from a store', () => {
  function countingFetcher(tree: readonly Buffer[]) {
    const stats = { calls: 0, leaves: 0 };
    const fetch = async (from: number, to: number): Promise<Buffer[]> => {
      stats.calls++;
      stats.leaves += to - from;
      return Promise.resolve(tree.slice(from, to));
    };
    return { fetch, stats };
  }

  it('leafRangeReader proofs equal the in-memory proofs', async () => {
    for (const n of [1, 2, 5, 8, 13, 64, 65, 300]) {
      const tree = leaves300.slice(0, n);
      const { fetch, stats } = countingFetcher(tree);
      const reader = leafRangeReader(fetch, { batchSize: 7 });
      for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 9))) {
        expect(await inclusionProofFromReader(reader, i, n)).toEqual(inclusionProof(i, tree));
      }
      for (let m = 1; m <= n; m += Math.max(1, Math.floor(n / 7))) {
        expect(await consistencyProofFromReader(reader, m, n)).toEqual(
          consistencyProof(m, n, tree),
        );
      }
      if (n > 1) expect(stats.leaves).toBeGreaterThan(0);
    }
  });

  it('a stored-node reader (nodes captured from CompactRange.onNode) gives the same proofs', async () => {
    const nodes = new Map<string, Buffer>();
    const range = new CompactRange({ onNode: (id, h) => nodes.set(`${id.level}/${id.index}`, h) });
    for (const l of leaves300) range.append(l);
    let lookups = 0;
    const reader: NodeHashReader = {
      readNodes: async (ids) => {
        lookups += ids.length;
        return Promise.resolve(ids.map((id) => nodes.get(`${id.level}/${id.index}`) as Buffer));
      },
    };
    for (const [i, n] of [
      [0, 300],
      [150, 300],
      [299, 300],
      [17, 129],
    ] as const) {
      expect(await inclusionProofFromReader(reader, i, n)).toEqual(
        inclusionProof(i, leaves300.slice(0, n)),
      );
    }
    expect(await consistencyProofFromReader(reader, 77, 300)).toEqual(
      consistencyProof(77, 300, leaves300),
    );
    expect(lookups).toBeLessThan(100); // O(log n) per proof, not O(n)
  });

  it('a store that answers short or malformed is an integrity_error', async () => {
    const short = leafRangeReader(async (from, to) =>
      Promise.resolve(leaves300.slice(from, to - 1)),
    );
    await expect(inclusionProofFromReader(short, 0, 8)).rejects.toMatchObject({
      code: 'integrity_error',
    });
    const bad: NodeHashReader = {
      readNodes: async (ids) => Promise.resolve(ids.map(() => Buffer.alloc(3))),
    };
    await expect(inclusionProofFromReader(bad, 0, 8)).rejects.toMatchObject({
      code: 'integrity_error',
    });
  });
});
