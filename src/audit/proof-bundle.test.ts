import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/index.js';
import { signCheckpoint } from './checkpoint.js';
import { consistencyProof, inclusionProof, leafHash, rootFromLeafHashes } from './merkle.js';
import { createNoteSigner, createNoteVerifier, type NoteSignFn } from './note-keys.js';
import {
  createConsistencyBundle,
  createInclusionBundle,
  verifyProofBundle,
  type ConsistencyProofBundle,
  type InclusionProofBundle,
} from './proof-bundle.js';

const ORIGIN = 'scrip.example/audit/v1';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p1363 =
  (key: KeyObject): NoteSignFn =>
  async (m) =>
    Promise.resolve(cryptoSign('sha256', m, { key, dsaEncoding: 'ieee-p1363' }));
const signer = createNoteSigner(ORIGIN, ec.publicKey, p1363(ec.privateKey));

const records = Array.from({ length: 21 }, (_, i) =>
  Buffer.from(`{"seq":${i},"action":"rx.sign"}`),
);
const leaves = records.map((r) => leafHash(r));
const checkpointAt = async (size: number, origin = ORIGIN, s = signer): Promise<string> =>
  signCheckpoint({ origin, size, rootHash: rootFromLeafHashes(leaves.slice(0, size)) }, s);

function errorCode(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    if (err instanceof AppError) return err.code;
    return err instanceof TypeError ? 'TypeError' : 'other';
  }
  return undefined;
}

/** JSON round trip, as the CLI will read a downloaded file. */
const viaJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('inclusion bundles', async () => {
  const note = await checkpointAt(21);
  const bundle = viaJson(
    createInclusionBundle({
      checkpoint: note,
      leafIndex: 7,
      leaf: records[7],
      proof: inclusionProof(7, leaves),
    }),
  );

  it('verify offline with only the public key', () => {
    const result = verifyProofBundle(bundle, ec.publicKey, { origin: ORIGIN });
    expect(result).toMatchObject({ kind: 'inclusion', origin: ORIGIN, leafIndex: 7, treeSize: 21 });
    expect(result.kind === 'inclusion' && result.leafHash.equals(leaves[7] as Buffer)).toBe(true);
  });

  it('verify with a leaf hash instead of the record, and with explicit verifiers', () => {
    const byHash = viaJson(
      createInclusionBundle({
        checkpoint: note,
        leafIndex: 7,
        leafHash: leaves[7],
        proof: inclusionProof(7, leaves),
      }),
    );
    expect(verifyProofBundle(byHash, [createNoteVerifier(ORIGIN, ec.publicKey)]).kind).toBe(
      'inclusion',
    );
  });

  const tamper = (
    change: Partial<Record<keyof InclusionProofBundle | 'extra', unknown>>,
  ): unknown => ({
    ...bundle,
    ...change,
  });
  const otherRecordB64 = Buffer.from('{"seq":7,"action":"rx.cancel"}').toString('base64');

  it.each([
    ['another record', { leaf: otherRecordB64 }, 'integrity_error'],
    ['leaf and leafHash disagree', { leafHash: leaves[8]?.toString('base64') }, 'integrity_error'],
    ['another leaf index', { leafIndex: 6 }, 'integrity_error'],
    ['a treeSize that differs from the checkpoint', { treeSize: 20 }, 'integrity_error'],
    [
      'a modified proof hash',
      { proof: bundle.proof.map((p, i) => (i === 1 ? bundle.proof[0] : p)) },
      'integrity_error',
    ],
    ['a truncated proof', { proof: bundle.proof.slice(1) }, 'validation_failed'],
    [
      'a checkpoint with another size',
      { checkpoint: bundle.checkpoint.replace('\n21\n', '\n22\n') },
      'integrity_error',
    ],
    [
      "an origin other than the checkpoint's",
      { origin: 'scrip.example/audit/v2' },
      'integrity_error',
    ],
    ['an unknown field', { extra: 1 }, 'validation_failed'],
    ['an unknown version', { version: 2 }, 'validation_failed'],
    ['a string leafIndex', { leafIndex: '7' }, 'validation_failed'],
    [
      'URL-safe base64 in the proof',
      { proof: bundle.proof.map((p) => p.replaceAll('+', '-').replaceAll('/', '_')) },
      'validation_failed',
    ],
    ['an unparsable proof entry', { proof: [bundle.proof[0], 'not base64!'] }, 'validation_failed'],
  ])('rejects %s', (_desc, change, code) => {
    expect(errorCode(() => verifyProofBundle(tamper(change), ec.publicKey))).toBe(code);
  });

  it('rejects a checkpoint signed by another key, and the wrong expected origin', async () => {
    const impostor = createNoteSigner(ORIGIN, ec2.publicKey, p1363(ec2.privateKey));
    const forged = { ...bundle, checkpoint: await checkpointAt(21, ORIGIN, impostor) };
    expect(errorCode(() => verifyProofBundle(forged, ec.publicKey))).toBe('integrity_error');
    expect(errorCode(() => verifyProofBundle(bundle, ec2.publicKey))).toBe('integrity_error');
    expect(
      errorCode(() => verifyProofBundle(bundle, ec.publicKey, { origin: 'x.example/log' })),
    ).toBe('integrity_error');
  });

  it('rejects non-objects and unknown types', () => {
    for (const bad of [null, 'text', [], { ...bundle, type: 'other' }]) {
      expect(errorCode(() => verifyProofBundle(bad, ec.publicKey))).toBe('validation_failed');
    }
  });
});

describe('consistency bundles', async () => {
  const older = await checkpointAt(13);
  const newer = await checkpointAt(21);
  const bundle = viaJson(
    createConsistencyBundle({
      checkpoint1: older,
      checkpoint2: newer,
      proof: consistencyProof(13, 21, leaves),
    }),
  );

  it('verify offline', () => {
    expect(verifyProofBundle(bundle, ec.publicKey)).toMatchObject({
      kind: 'consistency',
      size1: 13,
      size2: 21,
    });
  });

  it('reject a forked log, swapped checkpoints and foreign origins', async () => {
    const forkLeaves = [...leaves.slice(0, 20), leafHash(Buffer.from('rewritten history'))];
    const fork = await signCheckpoint(
      { origin: ORIGIN, size: 21, rootHash: rootFromLeafHashes(forkLeaves) },
      signer,
    );
    const forked: ConsistencyProofBundle = { ...bundle, checkpoint2: fork };
    expect(errorCode(() => verifyProofBundle(forked, ec.publicKey))).toBe('integrity_error');
    const swapped = { ...bundle, checkpoint1: newer, checkpoint2: older };
    expect(errorCode(() => verifyProofBundle(swapped, ec.publicKey))).toBe('validation_failed');
    const foreign = { ...bundle, checkpoint2: await checkpointAt(21, 'other.example/log') };
    expect(errorCode(() => verifyProofBundle(foreign, ec.publicKey))).toBe('integrity_error');
  });
});
