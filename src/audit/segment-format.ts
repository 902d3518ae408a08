/**
 * The sealed-segment format: what an export target holds for the records [from, to) of the log,
 * enough to verify them offline with nothing but the log's public key.
 *
 *   segments/<to, 20 digits>.records.jsonl   each record's stored canonical bytes (RFC 8785 JCS,
 *                                            which never contains a raw newline), one per line
 *   segments/<to, 20 digits>.segment.json    the manifest (below), written after the records
 *
 * Manifest { "type": "scrip.audit.segment", "version": 1, "origin", "from", "to",
 *   "records": { "object", "sha256" (hex), "count" },
 *   "leafHashes": [base64 SHA-256(0x00 ‖ record)]  RFC 9162 §2.1.1 leaves of the segment,
 *   "prefix": [base64]      the perfect-subtree roots of [0, from), largest first (the compact
 *                           range a verifier resumes from; empty when from = 0),
 *   "previousCheckpoint":   the signed C2SP tlog-checkpoint at size `from` (null when from = 0),
 *   "consistencyProof": [base64]  RFC 9162 §2.1.4 PROOF(from, to) ([] when from = 0),
 *   "checkpoint":           the signed C2SP tlog-checkpoint note at size `to` }
 * The prefix is bound to the previous checkpoint's signed root, the segment's leaves appended to
 * it must give the checkpoint's signed root, and the consistency proof lets a plain RFC 9162 tool
 * check the two checkpoints without our code. The manifest bytes are a pure function of the log,
 * so re-exporting after a crash writes identical bytes (write-once `putOnce` then succeeds).
 */
import { AppError } from '../core/index.js';
import { chainHash, GENESIS_HASH } from './audit-record.js';
import { decodeBase64Strict } from './base64.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { CompactRange, leafHash, verifyConsistency } from './merkle.js';
import type { NoteVerifier } from './note-keys.js';

export const SEGMENT_TYPE = 'scrip.audit.segment';
export const SEGMENT_PREFIX = 'segments/';
export const WITNESS_PREFIX = 'checkpoints/';

export interface SegmentManifest {
  readonly type: typeof SEGMENT_TYPE;
  readonly version: 1;
  readonly origin: string;
  readonly from: number;
  readonly to: number;
  readonly records: { readonly object: string; readonly sha256: string; readonly count: number };
  readonly leafHashes: readonly string[];
  readonly prefix: readonly string[];
  readonly previousCheckpoint: string | null;
  readonly consistencyProof: readonly string[];
  readonly checkpoint: string;
}

const pad = (n: number): string => String(n).padStart(20, '0');
export const recordsObjectName = (to: number): string =>
  `${SEGMENT_PREFIX}${pad(to)}.records.jsonl`;
export const manifestObjectName = (to: number): string =>
  `${SEGMENT_PREFIX}${pad(to)}.segment.json`;
export const witnessObjectName = (size: number): string => `${WITNESS_PREFIX}${pad(size)}.note`;
export const isManifestName = (name: string): boolean =>
  /^segments\/\d{20}\.segment\.json$/.test(name);
export const isWitnessName = (name: string): boolean => /^checkpoints\/\d{20}\.note$/.test(name);

/** Records file bytes: each canonical record followed by `\n`. */
export function recordsFileBytes(records: readonly string[]): Buffer {
  return Buffer.from(records.map((r) => `${r}\n`).join(''), 'utf8');
}

/** Deterministic manifest bytes (fixed key order, trailing newline). */
export function manifestBytes(m: SegmentManifest): Buffer {
  const ordered: SegmentManifest = {
    type: m.type,
    version: m.version,
    origin: m.origin,
    from: m.from,
    to: m.to,
    records: { object: m.records.object, sha256: m.records.sha256, count: m.records.count },
    leafHashes: m.leafHashes,
    prefix: m.prefix,
    previousCheckpoint: m.previousCheckpoint,
    consistencyProof: m.consistencyProof,
    checkpoint: m.checkpoint,
  };
  return Buffer.from(`${JSON.stringify(ordered)}\n`, 'utf8');
}

const bad = (why: string): AppError =>
  new AppError('validation_failed', `segment manifest: ${why}`);
const unverified = (why: string): AppError => new AppError('integrity_error', why);

function hashes(value: unknown, field: string): Buffer[] {
  if (!Array.isArray(value)) throw bad(`"${field}" must be an array`);
  return value.map((v: unknown) => {
    const b = typeof v === 'string' ? decodeBase64Strict(v) : undefined;
    if (b?.length !== 32) throw bad(`"${field}" entries must be base64 SHA-256 hashes`);
    return b;
  });
}

const isSize = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses manifest bytes strictly (`validation_failed` on anything unexpected). */
export function parseManifest(bytes: Buffer): SegmentManifest {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  if (typeof value !== 'object' || value === null) throw bad('not an object');
  const m = value as Record<string, unknown>;
  if (m.type !== SEGMENT_TYPE || m.version !== 1) throw bad('unknown type or version');
  if (typeof m.origin !== 'string' || !isSize(m.from) || !isSize(m.to) || m.from >= m.to) {
    throw bad('bad origin or range');
  }
  const r = m.records as Record<string, unknown> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    typeof r.object !== 'string' ||
    typeof r.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(r.sha256) ||
    r.count !== m.to - m.from
  ) {
    throw bad('bad "records"');
  }
  if (typeof m.checkpoint !== 'string') throw bad('bad "checkpoint"');
  if (m.previousCheckpoint !== null && typeof m.previousCheckpoint !== 'string') {
    throw bad('bad "previousCheckpoint"');
  }
  const parsed = m as unknown as SegmentManifest;
  hashes(parsed.leafHashes, 'leafHashes');
  hashes(parsed.prefix, 'prefix');
  hashes(parsed.consistencyProof, 'consistencyProof');
  if (manifestBytes(parsed).length !== bytes.length) throw bad('unexpected fields');
  return parsed;
}

interface RecordHead {
  seq?: unknown;
  prevHash?: unknown;
  time?: unknown;
}

function recordHead(line: string): RecordHead {
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null ? v : {};
  } catch {
    return {};
  }
}

/** Where the offline verification of the previous segment left off. */
export interface SegmentChainState {
  readonly size: number;
  readonly range: CompactRange;
  readonly chain: Buffer;
  readonly checkpoint: Checkpoint;
  /** `time` of the segment's last record (ISO 8601 UTC, as stored). */
  readonly lastRecordTime: string;
}

/**
 * Verifies one segment offline against its manifest and the trusted `verifiers`, continuing from
 * `previous` (the state after the preceding segment, or undefined for the first one available).
 * Any mismatch is `AppError('integrity_error')` naming the first problem. Returns the new state.
 */
export function verifySegment(
  m: SegmentManifest,
  recordsBytes: Buffer,
  verifiers: readonly NoteVerifier[],
  previous: SegmentChainState | undefined,
): SegmentChainState {
  const where = `segment [${m.from}, ${m.to})`;
  if (previous !== undefined && previous.size !== m.from) {
    throw unverified(`${where}: expected a segment starting at ${previous.size} (missing segment)`);
  }
  const checkpoint = openCheckpoint(m.checkpoint, verifiers, { origin: m.origin }).checkpoint;
  if (checkpoint.size !== m.to)
    throw unverified(`${where}: checkpoint is for size ${checkpoint.size}`);
  const prefix = hashes(m.prefix, 'prefix');
  const start = CompactRange.fromState({ size: m.from, hashes: prefix });
  let prevCheckpoint: Checkpoint | undefined;
  if (m.from > 0) {
    if (m.previousCheckpoint === null) throw unverified(`${where}: no previous checkpoint`);
    prevCheckpoint = openCheckpoint(m.previousCheckpoint, verifiers, {
      origin: m.origin,
    }).checkpoint;
    if (prevCheckpoint.size !== m.from || !start.root().equals(prevCheckpoint.rootHash)) {
      throw unverified(`${where}: prefix does not match the previous signed checkpoint`);
    }
    const proof = hashes(m.consistencyProof, 'consistencyProof');
    if (!verifyConsistency(m.from, m.to, prevCheckpoint.rootHash, checkpoint.rootHash, proof)) {
      throw unverified(`${where}: consistency proof does not verify`);
    }
  }
  if (previous !== undefined && !previous.range.root().equals(start.root())) {
    throw unverified(`${where}: does not extend the previous segment (fork)`);
  }
  const text = recordsBytes.toString('utf8');
  const lines = text.split('\n');
  if (lines.pop() !== '' || lines.length !== m.to - m.from) {
    throw unverified(`${where}: records file does not hold ${m.to - m.from} records`);
  }
  const leaves = hashes(m.leafHashes, 'leafHashes');
  if (leaves.length !== lines.length) throw unverified(`${where}: leaf count mismatch`);
  let chain = previous?.chain ?? (m.from === 0 ? GENESIS_HASH : undefined);
  let lastRecordTime = '';
  lines.forEach((line, i) => {
    const seq = m.from + i;
    const leaf = leafHash(Buffer.from(line, 'utf8'));
    if (!leaf.equals(leaves[i] as Buffer))
      throw unverified(`record ${seq}: does not hash to its leaf`);
    const own = recordHead(line);
    if (own.seq !== seq) throw unverified(`record ${seq}: states seq ${String(own.seq)}`);
    if (typeof own.prevHash !== 'string') throw unverified(`record ${seq}: no prevHash`);
    const prev = chain ?? Buffer.from(own.prevHash, 'hex');
    if (own.prevHash !== prev.toString('hex')) throw unverified(`record ${seq}: hash chain broken`);
    chain = chainHash(prev, leaf);
    lastRecordTime = typeof own.time === 'string' ? own.time : '';
    start.append(leaf);
  });
  if (!start.root().equals(checkpoint.rootHash)) {
    throw unverified(`${where}: records do not build the signed checkpoint root`);
  }
  const chainEnd = chain ?? GENESIS_HASH;
  return { size: m.to, range: start, chain: chainEnd, checkpoint, lastRecordTime };
}
