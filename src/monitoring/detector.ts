/**
 * The audit-stream detector (45 CFR 164.308(a)(1)(ii)(D) information system activity review,
 * 164.312(b)): reads new audit records in seq order from a per-detector cursor, evaluates each
 * tenant's rules (and the platform's, for platform records), and stores alerts.
 *
 * Each batch is one transaction: the cursor row is locked FOR UPDATE SKIP LOCKED (another process
 * already working skips the tick), window state, alerts, queued deliveries and the advanced
 * cursor commit together. A crash before commit leaves no trace, and the batch is read again: no
 * alert is lost and none is counted twice. Seqs are assigned in commit order (0003_audit.sql), so
 * every record below the head is committed and the cursor never skips one.
 *
 * Alerts a domain raised itself in the transaction of a record (break-glass, outbox failure, BAA
 * expiry; immediate-alert.ts) are queued for the sinks when the detector passes that record, at
 * most once across detectors: every new alert reaches the sinks, whoever opened it.
 */
import { cryptoRandom, type Clock, type Random } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import type { AuditRecord } from '../audit/index.js';
import { upsertAlert, noticeOf, alertsOpenedBy, type Alert } from './alert-store.js';
import { auditHead, readAuditRange, useTenantContext } from './audit-stream.js';
import { enqueueDeliveries } from './delivery.js';
import {
  evaluateRecord,
  evaluateWindow,
  observeRecord,
  windowMs,
  type AlertCandidate,
  type WindowObservation,
} from './evaluate.js';
import { MAX_WINDOW_MINUTES, loadRuleSet, type RuleSet } from './rules.js';

export interface DetectorOptions {
  /** Cursor name (default `audit-stream`); one per independent detector. */
  readonly name?: string;
  /** Records per transaction (default 500, at most 10 000). */
  readonly batchSize?: number;
  /** Sink names to queue a delivery for, per new alert. */
  readonly sinks?: readonly string[];
  /** Where a cursor created now starts: the whole log (default) or only records after now. */
  readonly startAt?: 'beginning' | 'head';
  /**
   * Only records of tenants (or the platform, `null`) for which this returns true are evaluated;
   * the others are skipped. For sharding detectors over tenants, and for tests sharing one log.
   */
  readonly scope?: (tenantId: string | null) => boolean;
  readonly random?: Random;
  /** Called inside the batch transaction just before commit (tests simulate crashes here). */
  readonly beforeCommit?: (batch: DetectorBatch) => Promise<void> | void;
}

export interface DetectorBatch {
  /** Records processed (seqs from..to−1); 0 when caught up or when another process holds it. */
  readonly processed: number;
  readonly from: number;
  readonly to: number;
  /** False when another process holds the cursor. */
  readonly locked: boolean;
  readonly opened: readonly Alert[];
  readonly updated: number;
}

async function lockCursor(tx: Tx, name: string, startAt: 'beginning' | 'head', now: Date) {
  const start = startAt === 'head' ? (await auditHead(tx)) - 1 : -1;
  await tx.query(
    `INSERT INTO monitoring_cursors (detector, last_seq, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (detector) DO NOTHING`,
    [name, start, now],
  );
  const { rows } = await tx.query<{ last_seq: string }>(
    'SELECT last_seq FROM monitoring_cursors WHERE detector = $1 FOR UPDATE SKIP LOCKED',
    [name],
  );
  return rows[0] === undefined ? undefined : Number(rows[0].last_seq);
}

async function storeObservations(
  tx: Tx,
  name: string,
  tenantId: string | null,
  obs: WindowObservation[],
) {
  if (obs.length === 0) return;
  await tx.query(
    `INSERT INTO monitoring_window_events (detector, tenant_id, rule, subject, item, at, seq)
     SELECT $1, $2, * FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::bigint[])
     ON CONFLICT DO NOTHING`,
    [
      name,
      tenantId,
      obs.map((o) => o.rule),
      obs.map((o) => o.subject),
      obs.map((o) => o.item),
      obs.map((o) => o.at),
      obs.map((o) => o.seq),
    ],
  );
}

/** Window candidates for the subjects this batch touched, from the stored observations. */
async function windowCandidates(
  tx: Tx,
  name: string,
  tenantId: string | null,
  rules: RuleSet,
  obs: WindowObservation[],
): Promise<AlertCandidate[]> {
  const groups = new Map<string, WindowObservation[]>();
  for (const o of obs) {
    const key = JSON.stringify([o.rule, o.subject]);
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [o]);
    else list.push(o);
  }
  const out: AlertCandidate[] = [];
  for (const list of groups.values()) {
    const first = list[0];
    if (first === undefined) continue;
    const ms = windowMs(first.rule, rules);
    const times = list.map((o) => o.at.getTime());
    const { rows } = await tx.query<{ item: string; at: Date; seq: string }>(
      `SELECT item, at, seq FROM monitoring_window_events
        WHERE detector = $1 AND rule = $2 AND subject = $3 AND at > $4 AND at <= $5`,
      [
        name,
        first.rule,
        first.subject,
        new Date(Math.min(...times) - ms),
        new Date(Math.max(...times)),
      ],
    );
    const events = rows.map((r) => ({ item: r.item, at: r.at, seq: Number(r.seq) }));
    const fresh = new Set(list.map((o) => o.seq));
    out.push(...evaluateWindow(first.rule, rules, tenantId, first.subject, events, fresh));
  }
  return out;
}

/**
 * The directly raised alerts not queued yet (another detector, with its own cursor, may have
 * queued them); `tx` must be outside any tenant context (the outbox is a platform table).
 */
async function notYetQueued(tx: Tx, alerts: readonly Alert[]): Promise<Alert[]> {
  if (alerts.length === 0) return [];
  const { rows } = await tx.query<{ alert_id: string }>(
    'SELECT DISTINCT alert_id FROM alert_deliveries WHERE alert_id = ANY($1::uuid[])',
    [alerts.map((a) => a.id)],
  );
  const queued = new Set(rows.map((r) => r.alert_id));
  return alerts.filter((a) => !queued.has(a.id));
}

/** Processes at most one batch of new audit records; see the module comment. */
export async function runDetectorBatch(
  db: Database,
  clock: Clock,
  options: DetectorOptions = {},
): Promise<DetectorBatch> {
  const name = options.name ?? 'audit-stream';
  const batchSize = Math.min(options.batchSize ?? 500, 10_000);
  const random = options.random ?? cryptoRandom;
  return db.withoutTenant(async (tx) => {
    const last = await lockCursor(tx, name, options.startAt ?? 'beginning', clock.now());
    if (last === undefined) {
      return { processed: 0, from: 0, to: 0, locked: false, opened: [], updated: 0 };
    }
    const from = last + 1;
    const to = Math.min(await auditHead(tx), from + batchSize);
    const records = await readAuditRange(tx, from, to);
    const byTenant = new Map<string | null, AuditRecord[]>();
    for (const r of records) {
      if (options.scope !== undefined && !options.scope(r.tenantId)) continue;
      const list = byTenant.get(r.tenantId);
      if (list === undefined) byTenant.set(r.tenantId, [r]);
      else list.push(r);
    }
    const opened: Alert[] = [];
    const forwarded: Alert[] = [];
    let updated = 0;
    for (const [tenantId, list] of byTenant) {
      await useTenantContext(tx, tenantId);
      const rules = await loadRuleSet(tx);
      const obs = list.flatMap((r) => observeRecord(r, rules));
      await storeObservations(tx, name, tenantId, obs);
      const candidates = [
        ...list.flatMap((r) => evaluateRecord(r, rules)),
        ...(await windowCandidates(tx, name, tenantId, rules, obs)),
      ].sort((a, b) => a.seq - b.seq);
      const mine = new Set<string>();
      for (const c of candidates) {
        const { alert, created } = await upsertAlert(tx, c, random);
        if (created) {
          opened.push(alert);
          mine.add(alert.id);
        } else updated++;
      }
      // Alerts a domain raised itself in the transaction of one of these records (break-glass,
      // outbox failure, BAA expiry): the detector skipped those records, so it queues them here.
      const direct = await alertsOpenedBy(
        tx,
        tenantId,
        list.map((r) => r.seq),
      );
      forwarded.push(...direct.filter((a) => !mine.has(a.id)));
      const newest = Math.max(...list.map((r) => Date.parse(r.time)));
      await tx.query('DELETE FROM monitoring_window_events WHERE detector = $1 AND at < $2', [
        name,
        new Date(newest - MAX_WINDOW_MINUTES * 60_000),
      ]);
    }
    await useTenantContext(tx, null);
    for (const alert of opened) {
      await enqueueDeliveries(tx, noticeOf(alert), options.sinks ?? [], clock, random);
    }
    for (const alert of await notYetQueued(tx, forwarded)) {
      await enqueueDeliveries(tx, noticeOf(alert), options.sinks ?? [], clock, random);
    }
    if (to > from) {
      await tx.query(
        'UPDATE monitoring_cursors SET last_seq = $2, updated_at = $3 WHERE detector = $1',
        [name, to - 1, clock.now()],
      );
    }
    const batch = { processed: Math.max(0, to - from), from, to, locked: true, opened, updated };
    await options.beforeCommit?.(batch);
    return batch;
  });
}

/** Runs batches until caught up (or `maxBatches`); returns every alert opened. */
export async function runDetector(
  db: Database,
  clock: Clock,
  options: DetectorOptions = {},
  maxBatches = 100,
): Promise<{ processed: number; opened: Alert[]; updated: number }> {
  let processed = 0;
  let updated = 0;
  const opened: Alert[] = [];
  for (let i = 0; i < maxBatches; i++) {
    const batch = await runDetectorBatch(db, clock, options);
    processed += batch.processed;
    updated += batch.updated;
    opened.push(...batch.opened);
    if (batch.processed === 0) break;
  }
  return { processed, opened, updated };
}
