/**
 * Appending to the audit log, inside the caller's transaction (a change and its audit record
 * commit together or not at all).
 *
 * Protocol (see migration 0003_audit.sql):
 * 1. `audit_reserve()` takes the global append lock (pg_advisory_xact_lock, held until the caller
 *    commits or rolls back) and returns the next seq and chain_{seq-1};
 * 2. the application builds the record and its RFC 8785 canonical bytes (JCS is not something
 *    PL/pgSQL can reproduce byte-exactly: jsonb orders keys by length first);
 * 3. `audit_append(text)` checks that the text carries exactly that seq and prevHash, derives the
 *    structured columns from it, and computes leaf and chain hashes itself, so the database never
 *    trusts the application with the chain.
 * Seqs are assigned in commit order: one global order across tenants and processes, and a
 * rolled-back append leaves no row and no gap. The cost is that appends serialise for the rest of
 * the caller's transaction, so append the audit record last, just before commit.
 */
import { AppError, type Clock } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import {
  auditRecordBytes,
  buildAuditRecord,
  validateAuditEvent,
  type AuditEvent,
} from './audit-record.js';
import { completeFromContext, currentAuditContext } from './audit-context.js';
import { leafHash } from './merkle.js';

/** Where a record landed: its 0-based seq (= Merkle leaf index) and hex leaf hash. */
export interface AppendedAudit {
  readonly seq: number;
  readonly leafHash: string;
}

/**
 * Appends `event` in transaction `tx` (which must be READ COMMITTED, the default), timestamped by
 * `clock`. Request fields the event leaves empty (role, session, source, request id) are taken
 * from the current HTTP request, if any (audit-context.ts). Invalid events throw `TypeError`; a
 * database that computes a different leaf hash than the application (a broken or tampered
 * function) is `AppError('integrity_error')`.
 */
export async function appendAudit(tx: Tx, given: AuditEvent, clock: Clock): Promise<AppendedAudit> {
  const event = completeFromContext(given, currentAuditContext());
  validateAuditEvent(event);
  const reserved = await tx.query<{ next_seq: string; prev_hash: Buffer }>(
    'SELECT next_seq, prev_hash FROM audit_reserve()',
  );
  const head = reserved.rows[0];
  if (head === undefined) throw new AppError('internal', 'audit_reserve returned no row');
  const seq = Number(head.next_seq);
  const bytes = auditRecordBytes(buildAuditRecord(event, seq, clock.now(), head.prev_hash));
  const appended = await tx.query<{ seq: string; leaf_hash: Buffer }>(
    'SELECT seq, leaf_hash FROM audit_append($1)',
    [bytes.toString('utf8')],
  );
  const row = appended.rows[0];
  const expected = leafHash(bytes);
  if (row === undefined || Number(row.seq) !== seq || !expected.equals(row.leaf_hash)) {
    throw new AppError('integrity_error', 'audit_append stored a different record than was sent');
  }
  return { seq, leafHash: expected.toString('hex') };
}

/** Difference between the database clock and the server clock, measured once. */
export interface ClockSkew {
  /** database time − server time, in ms, at the midpoint of the round trip. */
  readonly skewMs: number;
  readonly roundTripMs: number;
  readonly measuredAt: Date;
}

/**
 * Measures the skew between `clock` (which stamps audit records) and the database's
 * `clock_timestamp()` (stored beside each record as `db_time`). Run it at start and expose it, so
 * a reviewer can reconcile the two time columns.
 */
export async function measureClockSkew(db: Database, clock: Clock): Promise<ClockSkew> {
  return db.withoutTenant(async (tx) => {
    const before = clock.now().getTime();
    const { rows } = await tx.query<{ t: Date }>('SELECT clock_timestamp() AS t');
    const after = clock.now().getTime();
    const dbTime = rows[0]?.t.getTime() ?? Number.NaN;
    return {
      skewMs: dbTime - (before + after) / 2,
      roundTripMs: after - before,
      measuredAt: new Date(after),
    };
  });
}
