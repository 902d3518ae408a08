/**
 * Signed checkpoints of the audit log (C2SP tlog-checkpoint, https://c2sp.org/tlog-checkpoint)
 * and the Merkle node store behind O(log n) proofs.
 *
 * {@link createCheckpoint} resumes the RFC 9162 tree from the stored perfect subtrees of the last
 * checkpoint, streams the new leaf hashes through a {@link CompactRange}, stores every completed
 * node (the `onNode` hook) through `audit_nodes_add` (which checks each against the log), signs
 * the note with the injected ECDSA P-256 key (signed-note type 0x02) and stores it through
 * `audit_checkpoint_add` (which checks the root against the stored nodes). One transaction,
 * serialised across processes by an advisory lock.
 */
import type { KeyObject } from 'node:crypto';
import { systemClock, type Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { signCheckpoint } from './checkpoint.js';
import { CompactRange, type NodeId } from './merkle.js';
import { createNoteSigner, noteKeyId } from './note-keys.js';
import { auditQueries, nodeReader, perfectSubtrees, type StoredCheckpoint } from './audit-store.js';

/** The checkpoint signing key, provided by key management (ECDSA P-256, IEEE-P1363 signatures). */
export interface CheckpointSigner {
  readonly name: string;
  readonly publicKey: KeyObject;
  sign(message: Buffer): Promise<Buffer>;
}

export interface CreateCheckpointOptions {
  readonly clock?: Clock;
  /** Wait for another process's checkpoint to finish (default) or give up and return null. */
  readonly wait?: boolean;
  readonly batchSize?: number;
}

const CHECKPOINT_LOCK = '8314615134238763888'; // 'scripckp', as in 0003_audit.sql

async function storeNodes(tx: Tx, nodes: { id: NodeId; hash: Buffer }[]): Promise<void> {
  if (nodes.length === 0) return;
  await tx.query('SELECT audit_nodes_add($1::int[], $2::bigint[], $3::bytea[])', [
    nodes.map((n) => n.id.level),
    nodes.map((n) => n.id.index),
    nodes.map((n) => n.hash),
  ]);
  nodes.length = 0;
}

/**
 * Checkpoints the whole log as it stands: the signed note for tree size = number of records,
 * with the checkpoint key name equal to `origin` (the tlog-checkpoint convention). Returns null
 * when there is nothing new to sign, or when `wait: false` and another process holds the lock.
 */
export async function createCheckpoint(
  db: Database,
  signer: CheckpointSigner,
  origin: string,
  options: CreateCheckpointOptions = {},
): Promise<StoredCheckpoint | null> {
  const clock = options.clock ?? systemClock;
  const batchSize = options.batchSize ?? 5000;
  const noteSigner = createNoteSigner(origin, signer.publicKey, (m) => signer.sign(m));
  return db.withoutTenant(async (tx) => {
    if (options.wait === false) {
      const { rows } = await tx.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_xact_lock($1) AS ok',
        [CHECKPOINT_LOCK],
      );
      if (rows[0]?.ok !== true) return null;
    } else {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CHECKPOINT_LOCK]);
    }
    const last = (await auditQueries.latestCheckpoint(tx))?.treeSize ?? 0;
    const size = await auditQueries.head(tx);
    if (size <= last) return null;
    const pending: { id: NodeId; hash: Buffer }[] = [];
    const onNode = (id: NodeId, hash: Buffer): void => {
      pending.push({ id, hash });
    };
    const resumeIds = perfectSubtrees(last);
    const resumeHashes = resumeIds.length === 0 ? [] : await nodeReader(tx).readNodes(resumeIds);
    const range = CompactRange.fromState(
      { size: last, hashes: resumeHashes.map((h) => Buffer.from(h)) },
      { onNode },
    );
    for (let from = last; from < size; from += batchSize) {
      const to = Math.min(size, from + batchSize);
      for (const leaf of await auditQueries.leafHashes(tx, from, to)) range.append(leaf);
      await storeNodes(tx, pending);
    }
    const rootHash = range.root();
    const note = await signCheckpoint({ origin, size, rootHash }, noteSigner);
    const keyId = noteKeyId(origin, signer.publicKey).toString(16).padStart(8, '0');
    const createdAt = clock.now();
    await tx.query('SELECT audit_checkpoint_add($1, $2, $3, $4, $5, $6)', [
      size,
      rootHash,
      origin,
      note,
      keyId,
      createdAt,
    ]);
    return { treeSize: size, rootHash, origin, note, keyId, createdAt };
  });
}

/** Periodic callbacks, as a port so tests drive them by hand. */
export interface Ticker {
  /** Calls `fn` every `ms` until the returned function is called. */
  every(ms: number, fn: () => void): () => void;
}

/** setInterval, unref'd so it never keeps the process alive. */
export const intervalTicker: Ticker = {
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    timer.unref();
    return () => {
      clearInterval(timer);
    };
  },
};

export interface CheckpointSchedulerOptions {
  readonly db: Database;
  readonly signer: CheckpointSigner;
  readonly origin: string;
  /** Checkpoint once this many records are past the last checkpoint. */
  readonly everyRecords: number;
  /** ... or once this many seconds passed since it, if any record is new. */
  readonly everySeconds: number;
  readonly clock?: Clock;
  readonly ticker?: Ticker;
  /** How often to look (default 1000 ms). */
  readonly pollMs?: number;
  readonly onCheckpoint?: (checkpoint: StoredCheckpoint) => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * Checkpoints every N records or T seconds, whichever comes first. Every server process may run
 * one: the advisory lock makes one of them do the work, the others skip that tick.
 */
export class CheckpointScheduler {
  readonly #options: CheckpointSchedulerOptions;
  readonly #clock: Clock;
  readonly #startedAt: Date;
  #cancel: (() => void) | undefined;
  #running: Promise<StoredCheckpoint | null> | undefined;

  constructor(options: CheckpointSchedulerOptions) {
    if (!Number.isSafeInteger(options.everyRecords) || options.everyRecords < 1) {
      throw new TypeError('everyRecords must be a positive integer');
    }
    if (!(options.everySeconds > 0)) throw new TypeError('everySeconds must be positive');
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#startedAt = this.#clock.now();
  }

  start(): void {
    if (this.#cancel !== undefined) return;
    const ticker = this.#options.ticker ?? intervalTicker;
    this.#cancel = ticker.every(this.#options.pollMs ?? 1000, () => {
      this.tick().catch((err: unknown) => this.#options.onError?.(err));
    });
  }

  /** Stops ticking and waits for a checkpoint in progress. */
  async stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    await this.#running?.catch(() => undefined);
  }

  /** One decision: checkpoint if due. Overlapping calls share the one in flight. */
  tick(): Promise<StoredCheckpoint | null> {
    this.#running ??= this.#tick().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #tick(): Promise<StoredCheckpoint | null> {
    const { db, everyRecords, everySeconds } = this.#options;
    const { head, last } = await db.withoutTenant(async (tx) => ({
      head: await auditQueries.head(tx),
      last: await auditQueries.latestCheckpoint(tx),
    }));
    const pending = head - (last?.treeSize ?? 0);
    if (pending <= 0) return null;
    const since = (last?.createdAt ?? this.#startedAt).getTime();
    const due =
      pending >= everyRecords || this.#clock.now().getTime() - since >= everySeconds * 1000;
    if (!due) return null;
    const checkpoint = await createCheckpoint(db, this.#options.signer, this.#options.origin, {
      clock: this.#clock,
      wait: false,
    });
    if (checkpoint !== null) this.#options.onCheckpoint?.(checkpoint);
    return checkpoint;
  }
}
