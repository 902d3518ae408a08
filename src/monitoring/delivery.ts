/**
 * The alert delivery outbox: a row per new alert and sink, written in the detector's transaction,
 * sent by {@link deliverAlerts} with exponential backoff until it succeeds or runs out of
 * attempts. Rows are claimed with FOR UPDATE SKIP LOCKED, so several server processes share the
 * work without sending one row twice at once.
 */
import type { Clock, Random } from '../core/index.js';
import type { Database, Tx } from '../db/index.js';
import { isAppError } from '../core/index.js';
import type { AlertNotice, AlertSink } from './sinks.js';

/** Queues `notice` for each sink named in `sinks`; `tx` must be outside any tenant context. */
export async function enqueueDeliveries(
  tx: Tx,
  notice: AlertNotice,
  sinks: readonly string[],
  clock: Clock,
  random: Random,
): Promise<void> {
  for (const sink of sinks) {
    await tx.query(
      `INSERT INTO alert_deliveries (id, alert_id, sink, payload, status, next_attempt_at, created_at)
       VALUES ($1, $2, $3, $4, 'pending', $5, $5)`,
      [random.uuid(), notice.alertId, sink, JSON.stringify(notice), clock.now()],
    );
  }
}

export interface DeliverOptions {
  readonly batchSize?: number;
  /** After this many failed attempts a delivery is marked dead (default 12). */
  readonly maxAttempts?: number;
  /** First retry delay; doubles per attempt up to `maxBackoffMs` (defaults 30 s, 1 h). */
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
}

export interface DeliverResult {
  readonly sent: number;
  readonly retried: number;
  readonly dead: number;
}

/** Backoff before attempt `attempts + 1`, after `attempts` failures. */
export function backoffMs(attempts: number, base: number, max: number): number {
  return Math.min(max, base * 2 ** Math.max(0, attempts - 1));
}

/** Sends the due deliveries of the given sinks, one batch, and records each outcome. */
export async function deliverAlerts(
  db: Database,
  sinks: readonly AlertSink[],
  clock: Clock,
  options: DeliverOptions = {},
): Promise<DeliverResult> {
  const bySink = new Map(sinks.map((s) => [s.name, s]));
  if (bySink.size === 0) return { sent: 0, retried: 0, dead: 0 };
  const maxAttempts = options.maxAttempts ?? 12;
  const base = options.baseBackoffMs ?? 30_000;
  const max = options.maxBackoffMs ?? 3_600_000;
  return db.withoutTenant(async (tx) => {
    const now = clock.now();
    const { rows } = await tx.query<{
      id: string;
      sink: string;
      payload: AlertNotice;
      attempts: number;
    }>(
      `SELECT id, sink, payload, attempts FROM alert_deliveries
        WHERE status = 'pending' AND next_attempt_at <= $1 AND sink = ANY($2::text[])
        ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED`,
      [now, [...bySink.keys()], options.batchSize ?? 20],
    );
    let sent = 0;
    let retried = 0;
    let dead = 0;
    for (const row of rows) {
      const sink = bySink.get(row.sink);
      if (sink === undefined) continue;
      try {
        await sink.deliver(row.payload);
        await tx.query(
          `UPDATE alert_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = $2,
             last_error = NULL WHERE id = $1`,
          [row.id, clock.now()],
        );
        sent++;
      } catch (err) {
        const attempts = row.attempts + 1;
        const error = isAppError(err) ? err.message.slice(0, 200) : 'delivery failed';
        const give = attempts >= maxAttempts;
        await tx.query(
          `UPDATE alert_deliveries SET status = $2, attempts = $3, last_error = $4,
             next_attempt_at = $5 WHERE id = $1`,
          [
            row.id,
            give ? 'dead' : 'pending',
            attempts,
            error,
            new Date(clock.now().getTime() + backoffMs(attempts, base, max)),
          ],
        );
        if (give) dead++;
        else retried++;
      }
    }
    return { sent, retried, dead };
  });
}
