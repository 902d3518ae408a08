/**
 * Each prescription's delivery timeline (issue 8 item 8: "the prescriber sees each prescription's
 * delivery state with timestamps"): one row per event, written in the transaction of the change
 * it records. Codes only (SCRIPT status and error codes, refusal tokens), never PHI.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';

export const DELIVERY_EVENTS = [
  'queued',
  'sent',
  'acknowledged',
  'accepted',
  'dispensed',
  'partially_dispensed',
  'not_dispensed',
  'error',
  'cancel_requested',
  'cancel_confirmed',
  'cancel_denied',
  'held',
  'failed',
  'renewal_requested',
  'change_requested',
  'renewal_approved',
  'renewal_denied',
  'change_approved',
  'change_denied',
  'printed',
] as const;
export type DeliveryEventKind = (typeof DELIVERY_EVENTS)[number];

export interface DeliveryEvent {
  readonly event: DeliveryEventKind;
  readonly code: string | null;
  readonly messageId: string | null;
  readonly at: Date;
}

const CODE_RE = /^[A-Za-z0-9_.:-]{1,80}$/;

/** Appends one event (in the caller's transaction, in the tenant's context). */
export async function recordDeliveryEvent(
  tx: Tx,
  clock: Clock,
  tenantId: TenantId,
  prescriptionId: string,
  event: DeliveryEventKind,
  extra: { readonly code?: string | undefined; readonly messageId?: string | undefined } = {},
): Promise<void> {
  const code = extra.code === undefined ? null : extra.code.slice(0, 80);
  await tx.query(
    `INSERT INTO delivery_events (id, tenant_id, prescription_id, event, code, message_id, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [
      randomUUID(),
      tenantId,
      prescriptionId,
      event,
      code !== null && CODE_RE.test(code) ? code : null,
      extra.messageId ?? null,
      clock.now(),
    ],
  );
}

/** The prescription's events, oldest first. */
export async function deliveryTimeline(tx: Tx, prescriptionId: string): Promise<DeliveryEvent[]> {
  const { rows } = await tx.query<{
    event: DeliveryEventKind;
    code: string | null;
    message_id: string | null;
    at: Date;
  }>(
    `SELECT event, code, message_id, at FROM delivery_events
      WHERE prescription_id = $1 ORDER BY seq`,
    [prescriptionId],
  );
  return rows.map((r) => ({ event: r.event, code: r.code, messageId: r.message_id, at: r.at }));
}
