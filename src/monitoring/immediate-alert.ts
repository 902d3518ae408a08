/**
 * Alerts a domain raises itself, in the transaction of the event, instead of waiting for the
 * audit-stream detector (45 CFR 164.312(a)(2)(ii): an emergency access must reach the security
 * officers at once). The dedup key is the one the detector would compute for the same record
 * (`rule:subject:s<seq>`), so even a detector that saw the record would merge into this alert
 * rather than open a second one; the domain also marks the record (`alertRaised`), which the
 * detector's rule skips. The alert is stored at once, and {@link wakeAlertDelivery} notifies the
 * monitoring workers when the transaction commits (PostgreSQL NOTIFY is transactional), so the
 * detector passes the record and the sinks get the alert at once rather than a poll later.
 */
import type { Random } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { AuditDetailValue } from '../audit/index.js';
import { upsertAlert } from './alert-store.js';
import { RULE_SEVERITY, type RuleId } from './rules.js';

export interface ImmediateAlert {
  readonly tenantId: string;
  readonly rule: RuleId;
  readonly subject: string;
  readonly at: Date;
  /** The audit record's seq (the alert points at it). */
  readonly seq: number;
  readonly details: Readonly<Record<string, AuditDetailValue>>;
}

/** Raises `a` in `tx` (which must be in `a.tenantId`'s context); returns the alert id. */
export type ImmediateAlerter = (tx: Tx, a: ImmediateAlert) => Promise<string>;

/** The PostgreSQL channel on which a committed, directly raised alert wakes the workers. */
export const ALERT_WAKE_CHANNEL = 'scrip_alert_raised';

/**
 * Wakes every listening monitoring worker (alert-wake.ts) once `tx` commits; nothing if it rolls
 * back. Call after raising an alert outside the detector. The payload is empty: no PHI, no ids.
 */
export async function wakeAlertDelivery(tx: Tx): Promise<void> {
  await tx.query("SELECT pg_notify($1, '')", [ALERT_WAKE_CHANNEL]);
}

export function immediateAlerter(random: Random): ImmediateAlerter {
  return async (tx, a) => {
    const { alert } = await upsertAlert(
      tx,
      {
        tenantId: a.tenantId,
        rule: a.rule,
        severity: RULE_SEVERITY[a.rule],
        dedupKey: `${a.rule}:${a.subject}:s${String(a.seq)}`,
        subject: a.subject,
        at: a.at,
        seq: a.seq,
        details: a.details,
      },
      random,
    );
    await wakeAlertDelivery(tx);
    return alert.id;
  };
}
