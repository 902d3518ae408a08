/**
 * `scrip audit verify`: recomputes the audit log from the database and reports the first bad
 * record (45 CFR 164.312(c)(1) integrity; 164.312(b) audit controls).
 *
 * It streams the log in batches (memory: one batch, a {@link CompactRange}, and a bounded window
 * of recent chain hashes) and checks, per record:
 * - seq continuity (a missing seq is `deleted`, a repeated one `inserted`);
 * - the stored canonical bytes against the stored leaf hash (RFC 9162 §2.1.1), and the bytes the
 *   structured columns describe against the stored bytes (a changed column is `modified`);
 * - the record's own seq and prevHash against its position and the recomputed chain; a record
 *   that is sound on its own but out of place is classified `inserted`, `deleted`, `reordered` or
 *   (its predecessor replaced and re-hashed) `modified`, using the chain window and a short
 *   look-ahead;
 * and, at every checkpoint's tree size, the C2SP signed note's signature with the log's public key
 * and its root against the recomputed RFC 9162 root (`checkpoint_signature`,
 * `checkpoint_mismatch`). A tail deleted below a checkpoint is `deleted`. Records appended after
 * the last checkpoint can be forged undetectably by whoever controls the database: publish
 * checkpoints (witnesses) to bound that window.
 */
import type { KeyObject } from 'node:crypto';
import { Database } from '../db/index.js';
import { bytesFromColumns, chainHash, GENESIS_HASH, type StoredAuditRow } from './audit-record.js';
import { databaseAuditReader, type AuditLogReader, type StoredCheckpoint } from './audit-store.js';
import { openCheckpoint } from './checkpoint.js';
import { CompactRange, leafHash } from './merkle.js';
import { createNoteVerifier } from './note-keys.js';

export type AuditProblemKind =
  | 'modified'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'checkpoint_mismatch'
  | 'checkpoint_signature';

/** The first thing wrong; `seq` is the first record affected. */
export interface AuditProblem {
  readonly kind: AuditProblemKind;
  readonly seq: number;
  readonly message: string;
  /** For checkpoint problems: the checkpoint's tree size. */
  readonly checkpointSize?: number;
}

export interface AuditVerifyProgress {
  readonly verified: number;
  readonly total: number;
  readonly checkpoints: number;
}

export interface AuditVerifyOptions {
  readonly batchSize?: number;
  /** Require every checkpoint to be for this origin (default: the first checkpoint's). */
  readonly origin?: string;
  readonly onProgress?: (progress: AuditVerifyProgress) => void;
}

export interface AuditVerifyReport {
  readonly ok: boolean;
  /** Records verified (all of them when ok). */
  readonly records: number;
  /** Checkpoints whose signature and root verified. */
  readonly checkpoints: number;
  /** RFC 9162 root of the verified records, hex. */
  readonly rootHash: string;
  readonly problem?: AuditProblem;
}

const LOOKAHEAD = 32;
const WINDOW = 1024;
const CHECKPOINT_PAGE = 100;

function ownFields(record: string): { seq: number; prevHash: string } | undefined {
  try {
    const parsed = JSON.parse(record) as unknown;
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { seq, prevHash } = parsed as { seq?: unknown; prevHash?: unknown };
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
    if (typeof prevHash !== 'string' || !/^[0-9a-f]{64}$/.test(prevHash)) return undefined;
    return { seq, prevHash };
  } catch {
    return undefined;
  }
}

function columnsMatch(row: StoredAuditRow, seq: number, bytes: Buffer): boolean {
  try {
    return bytesFromColumns(row, seq).equals(bytes);
  } catch {
    return false; // a column holds something no record could (e.g. an invalid time)
  }
}

class LogVerifier {
  readonly #reader: AuditLogReader;
  readonly #publicKeys: readonly KeyObject[];
  readonly #range = new CompactRange();
  #chain: Buffer = GENESIS_HASH;
  readonly #recent = new Map<string, number>();
  #origin: string | undefined;
  #checkpoints: StoredCheckpoint[] = [];
  #checkpointCursor = 0;
  #checkpointsDone = false;
  #lastGoodCheckpoint = 0;
  verifiedCheckpoints = 0;

  constructor(
    reader: AuditLogReader,
    publicKeys: readonly KeyObject[],
    origin: string | undefined,
  ) {
    this.#reader = reader;
    this.#publicKeys = publicKeys;
    this.#origin = origin;
  }

  get root(): Buffer {
    return this.#range.root();
  }

  /** Checks the row expected at seq `e`; on success it becomes part of the recomputed log. */
  async checkRow(row: StoredAuditRow, e: number): Promise<AuditProblem | undefined> {
    if (row.seq > e) {
      return { kind: 'deleted', seq: e, message: `records ${e}..${row.seq - 1} are missing` };
    }
    if (row.seq < e) {
      return { kind: 'inserted', seq: row.seq, message: `seq ${row.seq} appears more than once` };
    }
    const bytes = Buffer.from(row.record, 'utf8');
    const leaf = leafHash(bytes);
    const modified = (message: string): AuditProblem => ({ kind: 'modified', seq: e, message });
    if (!leaf.equals(row.leafHash)) return modified('the record does not match its leaf hash');
    const own = ownFields(row.record);
    if (own === undefined) return modified('the record is not a well-formed audit record');
    if (!columnsMatch(row, own.seq, bytes)) {
      return modified('a stored column differs from the hashed record');
    }
    if (!chainHash(row.prevHash, leaf).equals(row.chainHash)) {
      return modified('the stored chain hash is wrong');
    }
    if (own.seq !== e || !row.prevHash.equals(this.#chain)) {
      return this.#classifyBreak(row, e, own.seq);
    }
    this.#chain = row.chainHash;
    this.#recent.set(row.chainHash.toString('hex'), e);
    if (this.#recent.size > WINDOW) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
    this.#range.append(leaf);
    return this.#checkpointsAt(this.#range.size);
  }

  /** A row that is sound on its own but does not continue the chain at position e. */
  async #classifyBreak(row: StoredAuditRow, e: number, ownSeq: number): Promise<AuditProblem> {
    const follows = this.#recent.get(row.prevHash.toString('hex'));
    if (follows !== undefined && follows < e - 1) {
      return {
        kind: 'inserted',
        seq: follows + 1,
        message: `records ${follows + 1}..${e - 1} are not in the chain (record ${e} follows ${follows})`,
      };
    }
    const ahead = await this.#reader.records(e + 1, e + 1 + LOOKAHEAD);
    const displaced = ahead.find(
      (r) => ownFields(r.record)?.seq === e || r.prevHash.equals(this.#chain),
    );
    if (displaced !== undefined) {
      return {
        kind: 'reordered',
        seq: e,
        message: `record ${e} is stored at seq ${displaced.seq}; seq ${e} holds record ${ownSeq}`,
      };
    }
    if (ownSeq > e) {
      return {
        kind: 'deleted',
        seq: e,
        message: `records ${e}..${ownSeq - 1} are missing and later records were renumbered`,
      };
    }
    if (ownSeq < e) {
      return { kind: 'inserted', seq: e, message: `seq ${e} holds a copy of record ${ownSeq}` };
    }
    const next = ahead[0];
    if (e > 0 && next?.seq === e + 1 && next.prevHash.equals(row.chainHash)) {
      return {
        kind: 'modified',
        seq: e - 1,
        message: `record ${e - 1} was replaced and re-hashed: record ${e} does not follow it`,
      };
    }
    return { kind: 'inserted', seq: e, message: `record ${e} does not follow record ${e - 1}` };
  }

  async #nextCheckpoint(): Promise<StoredCheckpoint | undefined> {
    if (this.#checkpoints.length === 0 && !this.#checkpointsDone) {
      this.#checkpoints = [
        ...(await this.#reader.checkpoints(this.#checkpointCursor, CHECKPOINT_PAGE)),
      ];
      const last = this.#checkpoints.at(-1);
      if (last === undefined) this.#checkpointsDone = true;
      else this.#checkpointCursor = last.treeSize;
    }
    return this.#checkpoints[0];
  }

  async #checkpointsAt(size: number): Promise<AuditProblem | undefined> {
    for (let cp = await this.#nextCheckpoint(); cp?.treeSize === size;) {
      const problem = this.#checkCheckpoint(cp);
      if (problem !== undefined) return problem;
      this.#checkpoints.shift();
      cp = await this.#nextCheckpoint();
    }
    return undefined;
  }

  #checkCheckpoint(cp: StoredCheckpoint): AuditProblem | undefined {
    const at = { seq: this.#lastGoodCheckpoint, checkpointSize: cp.treeSize };
    this.#origin ??= cp.origin;
    if (cp.origin !== this.#origin) {
      return {
        kind: 'checkpoint_mismatch',
        ...at,
        message: `checkpoint ${cp.treeSize} is for another origin`,
      };
    }
    let signed;
    try {
      // Any published platform key may have signed it (signing keys rotate; old ones stay trusted).
      const verifiers = this.#publicKeys.map((k) => createNoteVerifier(cp.origin, k));
      signed = openCheckpoint(cp.note, verifiers, { origin: this.#origin }).checkpoint;
    } catch (err) {
      const why = err instanceof Error ? err.message : 'invalid';
      return {
        kind: 'checkpoint_signature',
        ...at,
        message: `checkpoint ${cp.treeSize} is not signed by the log key: ${why}`,
      };
    }
    if (signed.size !== cp.treeSize || !signed.rootHash.equals(cp.rootHash)) {
      return {
        kind: 'checkpoint_mismatch',
        ...at,
        message: `checkpoint ${cp.treeSize}: stored size or root differ from its signed note`,
      };
    }
    if (!this.#range.root().equals(signed.rootHash)) {
      return {
        kind: 'checkpoint_mismatch',
        ...at,
        message: `records ${at.seq}..${cp.treeSize - 1} do not give the signed root of checkpoint ${cp.treeSize}`,
      };
    }
    this.#lastGoodCheckpoint = cp.treeSize;
    this.verifiedCheckpoints++;
    return undefined;
  }
}

/**
 * Verifies the whole audit log (as of the start) from `source`, checking checkpoint signatures
 * with `publicKey` (ECDSA P-256; the note key name is the checkpoint origin). Returns a report;
 * only infrastructure failures throw.
 */
export async function verifyAuditLog(
  source: Database | AuditLogReader,
  publicKey: KeyObject | readonly KeyObject[],
  options: AuditVerifyOptions = {},
): Promise<AuditVerifyReport> {
  const reader = source instanceof Database ? databaseAuditReader(source) : source;
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new TypeError('batchSize must be an integer in [1, 10000]');
  }
  // Checkpoints first: one made after we read the head cannot then look like a deleted tail.
  const maxCheckpoint = await reader.maxCheckpointSize();
  const total = await reader.head();
  const verifier = new LogVerifier(
    reader,
    Array.isArray(publicKey) ? publicKey : [publicKey as KeyObject],
    options.origin,
  );
  const report = (records: number, problem?: AuditProblem): AuditVerifyReport => ({
    ok: problem === undefined,
    records,
    checkpoints: verifier.verifiedCheckpoints,
    rootHash: verifier.root.toString('hex'),
    ...(problem === undefined ? {} : { problem }),
  });
  let e = 0;
  while (e < total) {
    const rows = await reader.records(e, Math.min(total, e + batchSize));
    if (rows.length === 0) {
      const last = Math.min(total, e + batchSize) - 1;
      return report(e, { kind: 'deleted', seq: e, message: `records ${e}..${last} are missing` });
    }
    for (const row of rows) {
      const problem = await verifier.checkRow(row, e);
      if (problem !== undefined) return report(e, problem);
      e++;
    }
    options.onProgress?.({ verified: e, total, checkpoints: verifier.verifiedCheckpoints });
  }
  if (maxCheckpoint > total) {
    return report(e, {
      kind: 'deleted',
      seq: total,
      message: `checkpoint ${maxCheckpoint} covers records ${total}..${maxCheckpoint - 1}, which are missing`,
    });
  }
  return report(e);
}
