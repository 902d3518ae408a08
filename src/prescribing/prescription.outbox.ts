import { randomUUID } from 'node:crypto';
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { sealRow, type EncryptedTable } from '../crypto/row-cipher.js';
import type { CanonicalPrescription } from './canonical-prescription.js';
import { recordDeliveryEvent } from '../network/delivery-timeline.js';

/**
 * The transactional outbox (see 0019_prescriptions.sql for the columns): a message row is written
 * in the same transaction as the change that causes it, and the network worker delivers it
 * (claiming rows with FOR UPDATE SKIP LOCKED). The payload is PHI and sealed like any other
 * column: open it with {@link OUTBOX} and `openRow`.
 */
export const OUTBOX: EncryptedTable = { table: 'outbox', columns: ['payload'] };

export type OutboxKind = 'NewRx' | 'CancelRx' | 'RxRenewalRequest' | 'RxChangeRequest';

/** The sealed payload of every prescription message. */
export interface OutboxPayload {
  readonly prescription: CanonicalPrescription;
  readonly jws: string;
}

export interface EnqueueOptions {
  /** How long the network may keep trying before the message fails (default 24 hours). */
  readonly deadlineMs?: number;
}

/** Writes one pending message; returns its message id (NCPDP Header MessageID). */
export async function enqueueMessage(
  tx: Tx,
  keyring: Keyring,
  clock: Clock,
  tenantId: TenantId,
  prescriptionId: string,
  kind: OutboxKind,
  payload: OutboxPayload,
  options: EnqueueOptions = {},
): Promise<string> {
  const id = randomUUID();
  const messageId = randomUUID();
  const { version, sealed } = await sealRow(tx, keyring, tenantId, OUTBOX, id, {
    payload: JSON.stringify(payload),
  });
  const now = clock.now();
  const deadline = new Date(now.getTime() + (options.deadlineMs ?? 24 * 3_600_000));
  await tx.query(
    `INSERT INTO outbox (id, tenant_id, prescription_id, message_id, kind, dek_version, payload, status,
                         attempts, next_attempt_at, deadline_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, $8, $8)`,
    [id, tenantId, prescriptionId, messageId, kind, version, sealed.payload, now, deadline],
  );
  // The delivery timeline starts in the same transaction (SCRIPT MessageID form: no hyphens).
  await recordDeliveryEvent(
    tx,
    clock,
    tenantId,
    prescriptionId,
    kind === 'CancelRx' ? 'cancel_requested' : 'queued',
    { messageId: messageId.replace(/-/g, '') },
  );
  return messageId;
}
