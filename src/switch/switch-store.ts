/**
 * Stored messages of the switch (table `switch_messages`, migration 0022): the SCRIPT XML and the
 * prescription JWS are PHI and sealed with the switch tenant's data key (row cipher, AAD bound to
 * tenant, table, column and row id); addresses, MessageIDs, types and states stay clear for the
 * queries.
 */
import type { Keyring } from '../crypto/keyring.js';
import { openRow, sealRow, SHREDDED, type EncryptedTable } from '../crypto/row-cipher.js';
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { SwitchAddress } from './participants.js';

export const SWITCH_MESSAGES: EncryptedTable = {
  table: 'switch_messages',
  columns: ['body', 'jws'],
};

export interface NewStoredMessage {
  readonly id: string;
  readonly senderId: string;
  readonly from: SwitchAddress;
  readonly messageId: string;
  readonly recipientId: string;
  readonly to: SwitchAddress;
  readonly type: string;
  readonly controlled: boolean;
  readonly xml: string;
  readonly jws: string | undefined;
  readonly deadline: Date;
}

/** Inserts an accepted message; false when (From, MessageID) is already stored (a duplicate). */
export async function storeMessage(
  tx: Tx,
  keyring: Keyring,
  clock: Clock,
  tenantId: TenantId,
  m: NewStoredMessage,
): Promise<boolean> {
  const { version, sealed } = await sealRow(tx, keyring, tenantId, SWITCH_MESSAGES, m.id, {
    body: m.xml,
    jws: m.jws ?? null,
  });
  const now = clock.now();
  const r = await tx.query(
    `INSERT INTO switch_messages (id, tenant_id, sender_id, from_qualifier, from_value, message_id,
            recipient_id, to_qualifier, to_value, message_type, controlled, dek_version, body, jws,
            status, next_attempt_at, deadline_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'pending', $15, $16,
             $15, $15)
     ON CONFLICT (tenant_id, from_qualifier, from_value, message_id) DO NOTHING`,
    [
      m.id,
      tenantId,
      m.senderId,
      m.from.qualifier,
      m.from.value,
      m.messageId,
      m.recipientId,
      m.to.qualifier,
      m.to.value,
      m.type,
      m.controlled,
      version,
      sealed.body,
      sealed.jws,
      now,
      m.deadline,
    ],
  );
  return r.rowCount === 1;
}

/** The stored row of (From, MessageID), if any. */
export async function findMessage(
  tx: Tx,
  tenantId: TenantId,
  from: SwitchAddress,
  messageId: string,
): Promise<{ id: string; status: string } | undefined> {
  const { rows } = await tx.query<{ id: string; status: string }>(
    `SELECT id, status FROM switch_messages
      WHERE tenant_id = $1 AND from_qualifier = $2 AND from_value = $3 AND message_id = $4`,
    [tenantId, from.qualifier, from.value, messageId],
  );
  return rows[0];
}

/** Opens a stored message's XML and JWS; undefined when its data key was destroyed. */
export async function openMessage(
  tx: Tx,
  keyring: Keyring,
  tenantId: TenantId,
  id: string,
  sealed: { body: Buffer; jws: Buffer | null },
): Promise<{ xml: string; jws: string | undefined } | undefined> {
  const plain = await openRow(tx, keyring, tenantId, SWITCH_MESSAGES, id, sealed);
  if (plain === SHREDDED || plain.body == null) return undefined;
  return { xml: plain.body, jws: plain.jws ?? undefined };
}
