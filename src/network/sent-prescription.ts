import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { openRow, SHREDDED } from '../crypto/row-cipher.js';
import { OUTBOX, type OutboxPayload } from '../prescribing/prescription.outbox.js';

/**
 * What Scrip sent for a prescription: the sealed payload of its NewRx outbox row (the signed
 * canonical prescription and its JWS), in the tenant's context; undefined when no NewRx was
 * queued or its data key was shredded.
 */
export async function sentPrescription(
  tx: Tx,
  keyring: Keyring,
  tenantId: TenantId,
  rxId: string,
): Promise<OutboxPayload | undefined> {
  const { rows } = await tx.query<{ id: string; payload: Buffer }>(
    `SELECT id, payload FROM outbox WHERE prescription_id = $1 AND kind = 'NewRx'
      ORDER BY created_at LIMIT 1`,
    [rxId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const plain = await openRow(tx, keyring, tenantId, OUTBOX, row.id, { payload: row.payload });
  if (plain === SHREDDED || plain.payload == null) return undefined;
  return JSON.parse(plain.payload) as OutboxPayload;
}
