/**
 * Reading the audit tables (migration 0003_audit.sql) as the application role. Whole-log reads
 * go through the SECURITY DEFINER functions `audit_records_range` / `audit_leaf_hashes` /
 * `audit_head`, so verification and checkpointing never need the owner; Merkle nodes and
 * checkpoints are readable directly (they hold no tenant data).
 */
import { AppError } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { StoredAuditRow } from './audit-record.js';
import type { NodeHashReader, NodeId } from './merkle.js';

/** A stored, signed checkpoint (row of `audit_checkpoints`). */
export interface StoredCheckpoint {
  readonly treeSize: number;
  readonly rootHash: Buffer;
  readonly origin: string;
  /** The complete C2SP signed note (tlog-checkpoint body + signature lines). */
  readonly note: string;
  /** signed-note key ID of the signing key, 8 lower-case hex digits. */
  readonly keyId: string;
  readonly createdAt: Date;
}

/** What the verifier needs from a log; {@link databaseAuditReader} is the production one. */
export interface AuditLogReader {
  /** Number of records by the highest seq (max(seq) + 1; 0 when empty). */
  head(): Promise<number>;
  /** Rows with from ≤ seq < to, ordered by seq (to − from ≤ 10 000). */
  records(from: number, to: number): Promise<readonly StoredAuditRow[]>;
  /** Up to `limit` checkpoints with tree size > `afterSize`, by tree size. */
  checkpoints(afterSize: number, limit: number): Promise<readonly StoredCheckpoint[]>;
  /** Largest checkpointed tree size (0 when none). */
  maxCheckpointSize(): Promise<number>;
}

interface AuditRowDb {
  seq: string;
  time: Date;
  db_time: Date;
  tenant_id: string | null;
  actor_kind: string;
  actor_user_id: string | null;
  actor_role: string | null;
  actor_session_id: string | null;
  action: string;
  outcome: string;
  subjects: unknown;
  source_ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  reason: string | null;
  details: unknown;
  prev_hash: Buffer;
  record: string;
  leaf_hash: Buffer;
  chain_hash: Buffer;
}

interface CheckpointDb {
  tree_size: string;
  root_hash: Buffer;
  origin: string;
  note: string;
  key_id: string;
  created_at: Date;
}

function toRow(r: AuditRowDb): StoredAuditRow {
  return {
    seq: Number(r.seq),
    time: r.time,
    dbTime: r.db_time,
    tenantId: r.tenant_id,
    actorKind: r.actor_kind,
    actorUserId: r.actor_user_id,
    actorRole: r.actor_role,
    actorSessionId: r.actor_session_id,
    action: r.action,
    outcome: r.outcome,
    subjects: r.subjects,
    sourceIp: r.source_ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    reason: r.reason,
    details: r.details,
    prevHash: r.prev_hash,
    record: r.record,
    leafHash: r.leaf_hash,
    chainHash: r.chain_hash,
  };
}

function toCheckpoint(r: CheckpointDb): StoredCheckpoint {
  return {
    treeSize: Number(r.tree_size),
    rootHash: r.root_hash,
    origin: r.origin,
    note: r.note,
    keyId: r.key_id,
    createdAt: r.created_at,
  };
}

const CHECKPOINT_COLUMNS = 'tree_size, root_hash, origin, note, key_id, created_at';

/** Audit-table reads inside an existing transaction. */
export const auditQueries = {
  async head(tx: Tx): Promise<number> {
    const { rows } = await tx.query<{ n: string }>('SELECT audit_head() AS n');
    return Number(rows[0]?.n ?? 0);
  },
  async records(tx: Tx, from: number, to: number): Promise<StoredAuditRow[]> {
    const { rows } = await tx.query<AuditRowDb>('SELECT * FROM audit_records_range($1, $2)', [
      from,
      to,
    ]);
    return rows.map(toRow);
  },
  async leafHashes(tx: Tx, from: number, to: number): Promise<Buffer[]> {
    const { rows } = await tx.query<{ seq: string; leaf_hash: Buffer }>(
      'SELECT seq, leaf_hash FROM audit_leaf_hashes($1, $2)',
      [from, to],
    );
    rows.forEach((r, i) => {
      if (Number(r.seq) !== from + i) {
        throw new AppError(
          'integrity_error',
          `audit log has a gap or duplicate at seq ${from + i}`,
        );
      }
    });
    if (rows.length !== to - from) {
      throw new AppError('integrity_error', `audit log is missing records below ${to}`);
    }
    return rows.map((r) => r.leaf_hash);
  },
  async checkpoints(tx: Tx, afterSize: number, limit: number): Promise<StoredCheckpoint[]> {
    const { rows } = await tx.query<CheckpointDb>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tree_size > $1 ORDER BY tree_size LIMIT $2`,
      [afterSize, limit],
    );
    return rows.map(toCheckpoint);
  },
  async checkpointAt(tx: Tx, treeSize: number): Promise<StoredCheckpoint | undefined> {
    const { rows } = await tx.query<CheckpointDb>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE tree_size = $1`,
      [treeSize],
    );
    return rows[0] === undefined ? undefined : toCheckpoint(rows[0]);
  },
  async latestCheckpoint(tx: Tx): Promise<StoredCheckpoint | undefined> {
    const { rows } = await tx.query<CheckpointDb>(
      `SELECT ${CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1`,
    );
    return rows[0] === undefined ? undefined : toCheckpoint(rows[0]);
  },
};

/** Reader over a {@link Database}: each call is its own short transaction (no tenant). */
export function databaseAuditReader(db: Database): AuditLogReader {
  return {
    head: () => db.withoutTenant((tx) => auditQueries.head(tx)),
    records: (from, to) => db.withoutTenant((tx) => auditQueries.records(tx, from, to)),
    checkpoints: (after, limit) =>
      db.withoutTenant((tx) => auditQueries.checkpoints(tx, after, limit)),
    maxCheckpointSize: () =>
      db.withoutTenant(async (tx) => (await auditQueries.latestCheckpoint(tx))?.treeSize ?? 0),
  };
}

/** Stored Merkle nodes as a {@link NodeHashReader}: one indexed query per proof. */
export function nodeReader(tx: Tx): NodeHashReader {
  return {
    async readNodes(ids: readonly NodeId[]) {
      const { rows } = await tx.query<{ level: number; idx: string; hash: Buffer }>(
        `SELECT n.level, n.idx, n.hash FROM audit_merkle_nodes n
           JOIN unnest($1::int[], $2::bigint[]) AS q(level, idx) ON n.level = q.level AND n.idx = q.idx`,
        [ids.map((id) => id.level), ids.map((id) => id.index)],
      );
      const byKey = new Map(rows.map((r) => [`${r.level}/${r.idx}`, r.hash]));
      return ids.map((id) => {
        const hash = byKey.get(`${id.level}/${id.index}`);
        if (hash === undefined) {
          throw new AppError('integrity_error', `Merkle node ${id.level}/${id.index} is missing`);
        }
        return hash;
      });
    },
  };
}

/** The perfect subtrees of [0, size), largest first: a CompactRange's state at `size`. */
export function perfectSubtrees(size: number): NodeId[] {
  const out: NodeId[] = [];
  let start = 0;
  for (let level = 62; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(size / width) % 2 === 1) {
      out.push({ level, index: start / width });
      start += width;
    }
  }
  return out;
}
