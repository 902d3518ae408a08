/**
 * Offline-checkable proof bundles: JSON documents a person downloads and verifies without database
 * access (`scrip audit verify-proof`), given only the log's public key.
 *
 * Inclusion (RFC 9162 §2.1.3):
 *   { "type": "scrip.audit.inclusion-proof", "version": 1, "origin", "leafIndex" (0-based),
 *     "treeSize", "leafHash"? (base64 SHA-256(0x00 ‖ leaf)), "leaf"? (base64 canonical record
 *     bytes; at least one of the two), "proof": [base64 …], "checkpoint": signed note text }
 * Consistency (RFC 9162 §2.1.4):
 *   { "type": "scrip.audit.consistency-proof", "version": 1, "origin", "proof": [base64 …],
 *     "checkpoint1", "checkpoint2": signed note texts (older, newer) }
 *
 * Verification authenticates each checkpoint (C2SP signed note + tlog-checkpoint), then checks the
 * proof against the signed root(s). Every field is untrusted: unknown fields, wrong types and bad
 * encodings are `AppError('validation_failed')`; anything that does not verify is
 * `AppError('integrity_error')`.
 */
import type { KeyObject } from 'node:crypto';
import { AppError } from '../core/index.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { openCheckpoint, parseCheckpoint, type Checkpoint } from './checkpoint.js';
import { leafHash as hashLeaf } from './merkle-hash.js';
import { verifyConsistency, verifyInclusion } from './merkle-verify.js';
import { createNoteVerifier, isValidKeyName, type NoteVerifier } from './note-keys.js';
import { parseNote, type NoteKeyRef } from './signed-note.js';

export const INCLUSION_BUNDLE_TYPE = 'scrip.audit.inclusion-proof';
export const CONSISTENCY_BUNDLE_TYPE = 'scrip.audit.consistency-proof';

/** JSON form of an inclusion proof bundle. */
export interface InclusionProofBundle {
  readonly type: typeof INCLUSION_BUNDLE_TYPE;
  readonly version: 1;
  readonly origin: string;
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly leafHash?: string;
  readonly leaf?: string;
  readonly proof: readonly string[];
  readonly checkpoint: string;
}

/** JSON form of a consistency proof bundle. */
export interface ConsistencyProofBundle {
  readonly type: typeof CONSISTENCY_BUNDLE_TYPE;
  readonly version: 1;
  readonly origin: string;
  readonly proof: readonly string[];
  readonly checkpoint1: string;
  readonly checkpoint2: string;
}

/**
 * Whom to trust: the log's public key (its signed-note key name is taken to be the bundle's
 * origin, the tlog-checkpoint convention), or explicit verifiers.
 */
export type BundleTrust = KeyObject | readonly NoteVerifier[];

/** Options for bundle verification. */
export interface VerifyBundleOptions {
  /** Require the bundle to be for this log origin. */
  readonly origin?: string;
}

export interface VerifiedInclusion {
  readonly kind: 'inclusion';
  readonly origin: string;
  readonly leafIndex: number;
  readonly treeSize: number;
  readonly leafHash: Buffer;
  readonly rootHash: Buffer;
  readonly verifiedBy: readonly NoteKeyRef[];
}

export interface VerifiedConsistency {
  readonly kind: 'consistency';
  readonly origin: string;
  readonly size1: number;
  readonly size2: number;
  readonly root1: Buffer;
  readonly root2: Buffer;
  readonly verifiedBy: readonly NoteKeyRef[];
}

/** Longest proof accepted: a tree of 2^53 leaves needs at most 2·53 hashes. */
const MAX_PROOF_HASHES = 128;

function malformed(why: string): AppError {
  return new AppError('validation_failed', `proof bundle: ${why}`);
}

function unverified(why: string): AppError {
  return new AppError('integrity_error', `proof bundle: ${why}`);
}

type Fields = Record<string, unknown>;

function fieldsOf(bundle: unknown, type: string, required: string[], optional: string[]): Fields {
  if (typeof bundle !== 'object' || bundle === null || Array.isArray(bundle)) {
    throw malformed('not a JSON object');
  }
  const fields = bundle as Fields;
  if (fields.type !== type) throw malformed(`type must be "${type}"`);
  if (fields.version !== 1) throw malformed('unsupported version');
  const allowed = new Set(['type', 'version', ...required, ...optional]);
  for (const key of Object.keys(fields))
    if (!allowed.has(key)) throw malformed(`unknown field "${key}"`);
  for (const key of required) if (!(key in fields)) throw malformed(`missing field "${key}"`);
  if (typeof fields.origin !== 'string' || fields.origin.length === 0)
    throw malformed('bad origin');
  return fields;
}

function stringField(fields: Fields, key: string): string {
  const value = fields[key];
  if (typeof value !== 'string') throw malformed(`"${key}" must be a string`);
  return value;
}

function integerField(fields: Fields, key: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw malformed(`"${key}" must be a non-negative integer`);
  }
  return value;
}

function bytesField(fields: Fields, key: string): Buffer {
  const bytes = decodeBase64Strict(stringField(fields, key));
  if (bytes === undefined) throw malformed(`"${key}" is not standard base64`);
  return bytes;
}

function proofField(fields: Fields): Buffer[] {
  const proof = fields.proof;
  if (!Array.isArray(proof) || proof.length > MAX_PROOF_HASHES) throw malformed('bad "proof"');
  return proof.map((p: unknown) => {
    const bytes = typeof p === 'string' ? decodeBase64Strict(p) : undefined;
    if (bytes === undefined) throw malformed('"proof" entries must be standard base64');
    return bytes;
  });
}

function verifiersFor(trust: BundleTrust, origin: string): readonly NoteVerifier[] {
  if (Array.isArray(trust)) return trust as readonly NoteVerifier[];
  if (!isValidKeyName(origin)) throw malformed('origin cannot be a signed-note key name');
  return [createNoteVerifier(origin, trust as KeyObject)];
}

function open(note: string, origin: string, verifiers: readonly NoteVerifier[]) {
  return openCheckpoint(note, verifiers, { origin });
}

function expectOrigin(origin: string, options: VerifyBundleOptions): void {
  if (options.origin !== undefined && origin !== options.origin) {
    throw unverified('bundle is for a different log origin');
  }
}

/** Builds an inclusion bundle; `origin` and `treeSize` are read from the (signed) checkpoint. */
export function createInclusionBundle(args: {
  readonly checkpoint: string;
  readonly leafIndex: number;
  readonly proof: readonly Uint8Array[];
  readonly leafHash?: Uint8Array;
  readonly leaf?: Uint8Array;
}): InclusionProofBundle {
  if (args.leafHash === undefined && args.leaf === undefined) {
    throw new TypeError('createInclusionBundle needs leafHash or leaf');
  }
  const cp: Checkpoint = parseCheckpoint(parseNote(args.checkpoint).text);
  return {
    type: INCLUSION_BUNDLE_TYPE,
    version: 1,
    origin: cp.origin,
    leafIndex: args.leafIndex,
    treeSize: cp.size,
    ...(args.leafHash === undefined ? {} : { leafHash: encodeBase64(args.leafHash) }),
    ...(args.leaf === undefined ? {} : { leaf: encodeBase64(args.leaf) }),
    proof: args.proof.map(encodeBase64),
    checkpoint: args.checkpoint,
  };
}

/** Builds a consistency bundle from two signed checkpoints of the same log (older first). */
export function createConsistencyBundle(args: {
  readonly checkpoint1: string;
  readonly checkpoint2: string;
  readonly proof: readonly Uint8Array[];
}): ConsistencyProofBundle {
  const cp = parseCheckpoint(parseNote(args.checkpoint1).text);
  return {
    type: CONSISTENCY_BUNDLE_TYPE,
    version: 1,
    origin: cp.origin,
    proof: args.proof.map(encodeBase64),
    checkpoint1: args.checkpoint1,
    checkpoint2: args.checkpoint2,
  };
}

/**
 * Verifies an inclusion bundle: the checkpoint is signed by a trusted key and is for the bundle's
 * origin and tree size, and the proof (RFC 9162 §2.1.3.2) places the leaf at `leafIndex` under the
 * signed root. When both `leaf` and `leafHash` are present they must agree.
 */
export function verifyInclusionBundle(
  bundle: unknown,
  trust: BundleTrust,
  options: VerifyBundleOptions = {},
): VerifiedInclusion {
  const f = fieldsOf(
    bundle,
    INCLUSION_BUNDLE_TYPE,
    ['origin', 'leafIndex', 'treeSize', 'proof', 'checkpoint'],
    ['leafHash', 'leaf'],
  );
  const origin = stringField(f, 'origin');
  expectOrigin(origin, options);
  const leafIndex = integerField(f, 'leafIndex');
  const treeSize = integerField(f, 'treeSize');
  const proof = proofField(f);
  const fromLeaf = 'leaf' in f ? hashLeaf(bytesField(f, 'leaf')) : undefined;
  const given = 'leafHash' in f ? bytesField(f, 'leafHash') : undefined;
  const leafHash = fromLeaf ?? given;
  if (leafHash === undefined) throw malformed('needs "leafHash" or "leaf"');
  if (fromLeaf !== undefined && given !== undefined && !fromLeaf.equals(given)) {
    throw unverified('"leaf" does not hash to "leafHash"');
  }
  const opened = open(stringField(f, 'checkpoint'), origin, verifiersFor(trust, origin));
  const { size, rootHash } = opened.checkpoint;
  if (size !== treeSize) throw unverified('"treeSize" does not match the checkpoint');
  if (!verifyInclusion(leafIndex, treeSize, leafHash, proof, rootHash)) {
    throw unverified('inclusion proof does not match the signed root');
  }
  return {
    kind: 'inclusion',
    origin,
    leafIndex,
    treeSize,
    leafHash,
    rootHash,
    verifiedBy: opened.verifiedBy,
  };
}

/**
 * Verifies a consistency bundle: both checkpoints are signed by a trusted key for the bundle's
 * origin, and the proof (RFC 9162 §2.1.4.2) shows the newer tree extends the older one.
 */
export function verifyConsistencyBundle(
  bundle: unknown,
  trust: BundleTrust,
  options: VerifyBundleOptions = {},
): VerifiedConsistency {
  const f = fieldsOf(
    bundle,
    CONSISTENCY_BUNDLE_TYPE,
    ['origin', 'proof', 'checkpoint1', 'checkpoint2'],
    [],
  );
  const origin = stringField(f, 'origin');
  expectOrigin(origin, options);
  const proof = proofField(f);
  const verifiers = verifiersFor(trust, origin);
  const first = open(stringField(f, 'checkpoint1'), origin, verifiers);
  const second = open(stringField(f, 'checkpoint2'), origin, verifiers);
  const { size: size1, rootHash: root1 } = first.checkpoint;
  const { size: size2, rootHash: root2 } = second.checkpoint;
  if (!verifyConsistency(size1, size2, root1, root2, proof)) {
    throw unverified('consistency proof does not match the signed roots');
  }
  return { kind: 'consistency', origin, size1, size2, root1, root2, verifiedBy: second.verifiedBy };
}

/** Verifies either kind of bundle, chosen by its `type` field. */
export function verifyProofBundle(
  bundle: unknown,
  trust: BundleTrust,
  options: VerifyBundleOptions = {},
): VerifiedInclusion | VerifiedConsistency {
  const type = typeof bundle === 'object' && bundle !== null ? (bundle as Fields).type : undefined;
  if (type === INCLUSION_BUNDLE_TYPE) return verifyInclusionBundle(bundle, trust, options);
  if (type === CONSISTENCY_BUNDLE_TYPE) return verifyConsistencyBundle(bundle, trust, options);
  throw malformed('unknown bundle type');
}
