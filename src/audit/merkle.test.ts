import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import {
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  nodeHash,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const vectors = path.resolve(repoRoot, '../shared/vectors');

interface Reference {
  hasherVectors: {
    desc: string;
    want: string;
    leafHex?: string;
    leafAscii?: string;
    leftAscii?: string;
    rightAscii?: string;
    input?: string;
  }[];
  leavesHex: string[];
  rootsBySize: Record<string, string>;
  nodeHashesByLevel: string[][];
  inclusionProofs_leafIndex0Based: { leafIndex: number; treeSize: number; proof: string[] }[];
  consistencyProofs: { size1: number; size2: number; proof: string[] }[];
}

const ref = JSON.parse(
  readFileSync(path.join(vectors, 'merkle_rfc6962_reference.json'), 'utf8'),
) as Reference;
const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const leaves = ref.leavesHex.map((h) => leafHash(hex(h)));

/** 'ok' when verified, 'mismatch' on false, 'malformed' on validation_failed; rethrows the rest. */
function outcome(verify: () => boolean): 'ok' | 'mismatch' | 'malformed' {
  try {
    return verify() ? 'ok' : 'mismatch';
  } catch (err) {
    if (err instanceof AppError && err.code === 'validation_failed') return 'malformed';
    throw err;
  }
}

describe('RFC 6962 reference tree (merkle_rfc6962_reference.json)', () => {
  it.each(ref.hasherVectors)('hasher: $desc', (v) => {
    let got: Buffer;
    if (v.leftAscii !== undefined && v.rightAscii !== undefined) {
      got = nodeHash(Buffer.from(v.leftAscii), Buffer.from(v.rightAscii));
    } else if (v.leafAscii !== undefined) {
      got = leafHash(Buffer.from(v.leafAscii));
    } else if (v.leafHex !== undefined) {
      got = leafHash(hex(v.leafHex));
    } else {
      got = emptyRoot();
    }
    expect(got.toString('hex')).toBe(v.want);
  });

  it.each(Object.entries(ref.rootsBySize))('root of the first %s leaves', (size, want) => {
    expect(rootFromLeafHashes(leaves.slice(0, Number(size))).toString('hex')).toBe(want);
  });

  it('level-0 node hashes are the leaf hashes', () => {
    expect(leaves.map((l) => l.toString('hex'))).toEqual(ref.nodeHashesByLevel[0]);
  });

  it.each(ref.inclusionProofs_leafIndex0Based)(
    'inclusion leafIndex=$leafIndex treeSize=$treeSize: generated and verified',
    ({ leafIndex, treeSize, proof }) => {
      const tree = leaves.slice(0, treeSize);
      expect(inclusionProof(leafIndex, tree).map((p) => p.toString('hex'))).toEqual(proof);
      const root = hex(ref.rootsBySize[String(treeSize)] ?? '');
      const leaf = leaves[leafIndex] as Buffer;
      expect(verifyInclusion(leafIndex, treeSize, leaf, proof.map(hex), root)).toBe(true);
    },
  );

  it.each(ref.consistencyProofs)(
    'consistency $size1 -> $size2: generated and verified',
    ({ size1, size2, proof }) => {
      expect(consistencyProof(size1, size2, leaves).map((p) => p.toString('hex'))).toEqual(proof);
      const root1 = hex(ref.rootsBySize[String(size1)] ?? '');
      const root2 = hex(ref.rootsBySize[String(size2)] ?? '');
      expect(verifyConsistency(size1, size2, root1, root2, proof.map(hex))).toBe(true);
    },
  );
});

// transparency-dev/merkle probes. JSON numbers above 2^53 (leafIdx = 2^64 − 1 in the "sub @1"
// probes) are kept as exact decimal strings so a lossy JSON.parse cannot make a probe pass by
// accident; they are handed to the verifier as the (unsafe) number they round to, which it must
// reject as malformed.
const probeRoot = path.join(vectors, 'merkle-transparency-dev/testdata');
const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

function listJson(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listJson(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .filter((f) => f.endsWith('.json'))
    .sort();
}

function readProbe(file: string): Record<string, unknown> {
  const text = readFileSync(file, 'utf8').replace(
    /("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(\d{16,})/g,
    '$1"$2"',
  );
  return JSON.parse(text) as Record<string, unknown>;
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) {
    const n = Number(v);
    // An exact value would have been left as a number by readProbe.
    expect(Number.isSafeInteger(n) && BigInt(v) === BigInt(n)).toBe(false);
    return n;
  }
  throw new Error(`probe field is not an integer: ${String(v)}`);
}

const bytes = (v: unknown): Buffer => (typeof v === 'string' ? b64(v) : Buffer.alloc(0));
const proofOf = (v: unknown): Buffer[] => (Array.isArray(v) ? v.map((p) => bytes(p)) : []);

const inclusionFiles = listJson(path.join(probeRoot, 'inclusion'));
const consistencyFiles = listJson(path.join(probeRoot, 'consistency'));
const rel = (f: string): string => path.relative(probeRoot, f);

describe('transparency-dev/merkle probes', () => {
  it('discovers all 196 probes', () => {
    expect(inclusionFiles.length + consistencyFiles.length).toBe(196);
  });

  it.each(inclusionFiles.map((f) => [rel(f), f]))('%s', (_name, file) => {
    const p = readProbe(file);
    const got = outcome(() =>
      verifyInclusion(
        num(p.leafIdx),
        num(p.treeSize),
        bytes(p.leafHash),
        proofOf(p.proof),
        bytes(p.root),
      ),
    );
    expect(got !== 'ok').toBe(p.wantErr);
  });

  it.each(consistencyFiles.map((f) => [rel(f), f]))('%s', (_name, file) => {
    const p = readProbe(file);
    const got = outcome(() =>
      verifyConsistency(
        num(p.size1),
        num(p.size2),
        bytes(p.root1),
        bytes(p.root2),
        proofOf(p.proof),
      ),
    );
    expect(got !== 'ok').toBe(p.wantErr);
  });
});

describe('verifier input contract', () => {
  const root8 = rootFromLeafHashes(leaves);
  const proof = inclusionProof(5, leaves);
  const leaf5 = leaves[5] as Buffer;

  it('returns false on a hash mismatch and throws validation_failed on malformed input', () => {
    expect(outcome(() => verifyInclusion(5, 8, leaf5, proof, root8))).toBe('ok');
    expect(outcome(() => verifyInclusion(4, 8, leaf5, proof, root8))).toBe('mismatch');
    expect(outcome(() => verifyInclusion(8, 8, leaf5, proof, root8))).toBe('malformed');
    expect(outcome(() => verifyInclusion(5, 8, leaf5, proof.slice(1), root8))).toBe('malformed');
    expect(outcome(() => verifyInclusion(5, 8, leaf5.subarray(1), proof, root8))).toBe('malformed');
    expect(outcome(() => verifyInclusion(-1, 8, leaf5, proof, root8))).toBe('malformed');
    expect(outcome(() => verifyInclusion(0.5, 8, leaf5, proof, root8))).toBe('malformed');
    expect(outcome(() => verifyConsistency(0, 0, root8, root8, []))).toBe('malformed');
    expect(outcome(() => verifyConsistency(8, 8, root8, root8, []))).toBe('ok');
    expect(outcome(() => verifyConsistency(8, 8, root8, leaf5, []))).toBe('mismatch');
  });

  it('throws TypeError for programmer misuse', () => {
    expect(() => verifyInclusion('5' as unknown as number, 8, leaf5, proof, root8)).toThrow(
      TypeError,
    );
    expect(() => verifyInclusion(5, 8, leaf5, ['x'] as unknown as Buffer[], root8)).toThrow(
      TypeError,
    );
    expect(() => verifyConsistency(1, 2, root8, 'r' as unknown as Buffer, [])).toThrow(TypeError);
  });

  it('proof generation rejects out-of-range requests with bad_request', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof AppError ? err.code : 'other';
      }
      return undefined;
    };
    expect(code(() => inclusionProof(8, leaves))).toBe('bad_request');
    expect(code(() => inclusionProof(0, []))).toBe('bad_request');
    expect(code(() => consistencyProof(0, 3, leaves))).toBe('bad_request');
    expect(code(() => consistencyProof(4, 3, leaves))).toBe('bad_request');
    expect(consistencyProof(3, 3, leaves)).toEqual([]);
  });
});
