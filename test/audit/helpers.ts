import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import pg from 'pg';
import { systemClock, type Clock } from '../../src/core/index.js';
import { ensureRoles, migrate, openAppDatabase, type Database } from '../../src/db/index.js';
import {
  appendAudit,
  auditRecordBytes,
  buildAuditRecord,
  leafHash,
  type AuditEvent,
  type CheckpointSigner,
} from '../../src/audit/index.js';
import { chainHash } from '../../src/audit/audit-record.js';
import { scratchDatabase, testTarget } from '../db.js';

export const ORIGIN = 'scrip.test/audit';

/** A P-256 checkpoint key as key management will provide it (IEEE-P1363 signatures). */
export function testSigner(name = 'audit-test-key'): CheckpointSigner & { privateKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    name,
    publicKey,
    privateKey,
    sign: async (message) =>
      sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

export function platformEvent(i: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    tenantId: null,
    actor: { kind: 'system' },
    action: 'test.audit.event',
    outcome: 'success',
    details: { i },
    ...extra,
  };
}

export async function appendMany(
  db: Database,
  count: number,
  clock: Clock = systemClock,
  make: (i: number) => AuditEvent = platformEvent,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    await db.withoutTenant((tx) => appendAudit(tx, make(i), clock));
  }
}

export interface ScratchLog {
  readonly db: Database;
  readonly ownerUrl: string;
  readonly appUrl: string;
  withOwner<T>(fn: (c: pg.Client) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A brand-new migrated database (own audit log), opened as the application role. */
export async function scratchLog(): Promise<ScratchLog> {
  const scratch = await scratchDatabase();
  const withOwner = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: scratch.ownerUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  await withOwner(async (c) => {
    await ensureRoles(c, testTarget().appUser);
    await migrate(c);
  });
  const db = await openAppDatabase(
    { ...testTarget(), appUrl: scratch.appUrl },
    { max: 4, statementTimeoutMs: 20_000, applicationName: 'scrip-audit-test' },
  );
  return {
    db,
    ownerUrl: scratch.ownerUrl,
    appUrl: scratch.appUrl,
    withOwner,
    close: async () => {
      await db.close();
      await scratch.drop();
    },
  };
}

/** Runs `fn` as the owner with the append-only triggers off: what a database admin could do. */
export async function asTamperer(
  log: ScratchLog,
  fn: (c: pg.Client) => Promise<void>,
): Promise<void> {
  await log.withOwner(async (c) => {
    await c.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
    await c.query('ALTER TABLE audit_checkpoints DISABLE TRIGGER USER');
    try {
      await fn(c);
    } finally {
      await c.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
      await c.query('ALTER TABLE audit_checkpoints ENABLE TRIGGER USER');
    }
  });
}

export async function chainAt(c: pg.Client, seq: number): Promise<Buffer> {
  const { rows } = await c.query<{ chain_hash: Buffer }>(
    'SELECT chain_hash FROM audit_log WHERE seq = $1',
    [seq],
  );
  if (rows[0] === undefined) throw new Error(`no record ${seq}`);
  return rows[0].chain_hash;
}

/**
 * A record an attacker builds with the public algorithms: self-consistent bytes, leaf and chain,
 * stored with every column. With `replace`, the row at `seq` is overwritten instead of inserted.
 */
export async function writeForged(
  c: pg.Client,
  seq: number,
  prevChain: Buffer,
  event: AuditEvent,
  replace = false,
): Promise<Buffer> {
  const bytes = auditRecordBytes(buildAuditRecord(event, seq, new Date(), prevChain));
  const leaf = leafHash(bytes);
  const chain = chainHash(prevChain, leaf);
  if (replace) await c.query('DELETE FROM audit_log WHERE seq = $1', [seq]);
  await c.query(
    `INSERT INTO audit_log (seq, time, tenant_id, actor_kind, actor_user_id, actor_role,
       actor_session_id, action, outcome, subjects, source_ip, user_agent, request_id, reason,
       details, prev_hash, record, leaf_hash, chain_hash)
     SELECT $1, (r->>'time')::timestamptz, (r->>'tenantId')::uuid, r->'actor'->>'kind',
       r->'actor'->>'userId', r->'actor'->>'role', r->'actor'->>'sessionId', r->>'action',
       r->>'outcome', r->'subjects', r->'source'->>'ip', r->'source'->>'userAgent',
       r->>'requestId', r->>'reason', r->'details', $3, $2::text, $4, $5
     FROM (SELECT $6::jsonb AS r) AS x`,
    [seq, bytes.toString('utf8'), prevChain, leaf, chain, bytes.toString('utf8')],
  );
  return chain;
}

/** Renumbers rows with seq ≥ from by `delta` without tripping the primary key. */
export async function shiftSeqs(c: pg.Client, from: number, delta: number): Promise<void> {
  await c.query('UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= $1', [from]);
  await c.query('UPDATE audit_log SET seq = seq - 1000000 + $1 WHERE seq >= 1000000', [delta]);
}
