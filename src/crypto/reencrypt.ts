import { randomUUID } from 'node:crypto';
import { AppError, type Clock, type TenantId } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { Keyring } from './keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from './row-cipher.js';

/**
 * Data-key rotation for one tenant: a new key takes new writes at once, and a background job
 * re-encrypts existing rows table by table in small transactions, recording its cursor after
 * each batch. Killed at any point, it resumes where the last committed batch stopped (rows
 * already under the new key are skipped). When no row references an older key any more, that
 * key is destroyed. Every step is reported through `events` for the audit log.
 */
export interface ReencryptionJob {
  readonly id: string;
  readonly toVersion: number;
  readonly rowsTotal: number;
  readonly rowsDone: number;
  readonly status: 'running' | 'done';
}

/** A key event for the audit log: ids, versions and counts only, never key material. */
export interface KeyEvent {
  readonly action: string;
  readonly tenantId: TenantId | null;
  /** The administrator who acted (dual control), when a person did. */
  readonly actor?: string;
  readonly outcome?: 'success' | 'failure' | 'denied';
  readonly details: Record<string, string | number | boolean | null>;
}

/** Written in the transaction of the change it records (the audit log's append, in production). */
export type KeyEventSink = (tx: Tx, event: KeyEvent) => Promise<void>;

export interface RunOptions {
  readonly batchSize?: number;
  readonly onProgress?: (job: ReencryptionJob) => void;
  /** Stop after this many batches (the job stays resumable); for tests and throttling. */
  readonly maxBatches?: number;
}

interface JobRow {
  id: string;
  to_version: number;
  rows_total: number;
  rows_done: number;
  status: 'running' | 'done';
  cursor_table: string | null;
  cursor_id: string | null;
}

function toJob(r: JobRow): ReencryptionJob {
  return {
    id: r.id,
    toVersion: r.to_version,
    rowsTotal: r.rows_total,
    rowsDone: r.rows_done,
    status: r.status,
  };
}

async function countStale(
  tx: Tx,
  tables: readonly EncryptedTable[],
  version: number,
): Promise<number> {
  let n = 0;
  for (const t of tables) {
    const { rows } = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${t.table} WHERE dek_version <> $1`,
      [version],
    );
    n += rows[0]?.n ?? 0;
  }
  return n;
}

export class Reencryptor {
  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly tables: readonly EncryptedTable[],
    private readonly clock: Clock,
    private readonly events: KeyEventSink,
  ) {}

  /** Starts a new data key and a job, or returns the tenant's job that is still running. */
  async start(tenantId: TenantId): Promise<{ job: ReencryptionJob; resumed: boolean }> {
    return this.db.withTenant(tenantId, async (tx) => {
      const running = await tx.query<JobRow>(
        `SELECT * FROM reencryption_jobs WHERE status = 'running' FOR UPDATE`,
      );
      const existing = running.rows[0];
      if (existing !== undefined) return { job: toJob(existing), resumed: true };
      const toVersion = await this.keyring.startNewFieldKey(tx, tenantId);
      const total = await countStale(tx, this.tables, toVersion);
      const now = this.clock.now();
      const { rows } = await tx.query<JobRow>(
        `INSERT INTO reencryption_jobs (id, tenant_id, to_version, status, rows_total, started_at, updated_at)
         VALUES ($1, $2, $3, 'running', $4, $5, $5) RETURNING *`,
        [randomUUID(), tenantId, toVersion, total, now],
      );
      const job = rows[0];
      if (job === undefined)
        throw new AppError('internal', 'could not create the re-encryption job');
      await this.events(tx, {
        action: 'key.dek.rotate',
        tenantId,
        details: { toVersion, rows: total },
      });
      return { job: toJob(job), resumed: false };
    });
  }

  /** Runs (or resumes) the tenant's job to completion, or until `maxBatches`. */
  async run(tenantId: TenantId, options: RunOptions = {}): Promise<ReencryptionJob> {
    const batchSize = options.batchSize ?? 200;
    let batches = 0;
    for (;;) {
      if (options.maxBatches !== undefined && batches >= options.maxBatches) {
        return this.db.withTenant(tenantId, async (tx) => toJob(await this.#job(tx)));
      }
      const step = await this.db.withTenant(tenantId, (tx) => this.#batch(tx, tenantId, batchSize));
      batches += 1;
      options.onProgress?.(step.job);
      if (step.job.status === 'done') return step.job;
    }
  }

  async #job(tx: Tx): Promise<JobRow> {
    const { rows } = await tx.query<JobRow>(
      `SELECT * FROM reencryption_jobs WHERE status = 'running' FOR UPDATE`,
    );
    const job = rows[0];
    if (job === undefined)
      throw new AppError('not_found', 'no re-encryption job is running for this tenant');
    return job;
  }

  /** One batch in one transaction: rows, their new ciphertexts and the cursor commit together. */
  async #batch(tx: Tx, tenantId: TenantId, batchSize: number): Promise<{ job: ReencryptionJob }> {
    const job = await this.#job(tx);
    const names = this.tables.map((t) => t.table);
    let index = job.cursor_table === null ? 0 : names.indexOf(job.cursor_table);
    if (index < 0) index = 0;
    let cursorId = job.cursor_id;
    for (; index < this.tables.length; index += 1, cursorId = null) {
      const spec = this.tables[index];
      if (spec === undefined) break;
      const { rows } = await tx.query<Record<string, Buffer | null> & { id: string }>(
        `SELECT id, ${spec.columns.join(', ')} FROM ${spec.table}
          WHERE dek_version <> $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3 FOR UPDATE`,
        [job.to_version, cursorId, batchSize],
      );
      if (rows.length === 0) continue;
      const key = await this.keyring.fieldKey(tx, tenantId, job.to_version);
      if (key === undefined) throw new AppError('internal', 'the new data key is missing');
      for (const row of rows) {
        const { id, ...sealedOld } = row;
        const plain = await openRow(tx, this.keyring, tenantId, spec, id, sealedOld);
        if (plain === SHREDDED) continue; // nothing left to re-encrypt; its key is already gone
        const { sealed } = await sealRow(tx, this.keyring, tenantId, spec, id, plain, key);
        const sets = spec.columns.map((c, i) => `${c} = $${String(i + 3)}`).join(', ');
        await tx.query(`UPDATE ${spec.table} SET dek_version = $2, ${sets} WHERE id = $1`, [
          id,
          job.to_version,
          ...spec.columns.map((c) => sealed[c] ?? null),
        ]);
      }
      const last = rows[rows.length - 1]?.id ?? null;
      const { rows: updated } = await tx.query<JobRow>(
        `UPDATE reencryption_jobs SET rows_done = rows_done + $2, cursor_table = $3, cursor_id = $4, updated_at = $5
          WHERE id = $1 RETURNING *`,
        [job.id, rows.length, spec.table, last, this.clock.now()],
      );
      const u = updated[0];
      if (u === undefined) throw new AppError('internal', 're-encryption job vanished');
      return { job: toJob(u) };
    }
    return { job: await this.#finish(tx, tenantId, job) };
  }

  /**
   * Every table scanned once: under the exclusive key lock (no writer can be mid-transaction with
   * an old key), re-check; if rows under old keys remain (written during the job), scan again;
   * otherwise destroy the superseded keys and close the job.
   */
  async #finish(tx: Tx, tenantId: TenantId, job: JobRow): Promise<ReencryptionJob> {
    await this.keyring.lockExclusive(tx, tenantId);
    const stale = await countStale(tx, this.tables, job.to_version);
    if (stale > 0) {
      const { rows } = await tx.query<JobRow>(
        `UPDATE reencryption_jobs SET cursor_table = NULL, cursor_id = NULL, rows_total = rows_total + $2 WHERE id = $1 RETURNING *`,
        [job.id, stale],
      );
      const again = rows[0];
      if (again === undefined) throw new AppError('internal', 're-encryption job vanished');
      return toJob(again);
    }
    const { rows: old } = await tx.query<{ version: number }>(
      `SELECT version FROM tenant_keys WHERE purpose = 'field' AND status = 'retired' AND version < $1 ORDER BY version`,
      [job.to_version],
    );
    for (const k of old) {
      await this.keyring.destroyKey(tx, tenantId, 'field', k.version);
      await this.events(tx, {
        action: 'key.dek.destroy',
        tenantId,
        details: { version: k.version, reason: 'superseded' },
      });
    }
    const { rows } = await tx.query<JobRow>(
      `UPDATE reencryption_jobs SET status = 'done', finished_at = $2, updated_at = $2, rows_done = rows_total WHERE id = $1 RETURNING *`,
      [job.id, this.clock.now()],
    );
    const done = rows[0];
    if (done === undefined) throw new AppError('internal', 're-encryption job vanished');
    await this.events(tx, {
      action: 'key.dek.reencrypted',
      tenantId,
      details: { toVersion: job.to_version, rows: done.rows_total },
    });
    return toJob(done);
  }
}
