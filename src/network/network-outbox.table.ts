/**
 * The table-backed network outbox (network_outbox, migration 0021): a message row is written in
 * the caller's transaction, so the change that causes a message and the message commit together;
 * the worker (network-outbox.worker.ts) delivers it through the tenant's switch with the tenant's
 * client certificate. The XML is PHI and sealed.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { Keyring } from '../crypto/keyring.js';
import { sealRow, type EncryptedTable } from '../crypto/row-cipher.js';
import type { MessageType } from './ncpdp-script.types.js';
import type { NetworkOutbox } from './network-outbox.js';

export const NETWORK_OUTBOX: EncryptedTable = { table: 'network_outbox', columns: ['payload'] };

/** Any message between the two kinds of participant (prescriber answers go To P). */
export interface OutboundMessage {
  readonly type: MessageType;
  readonly to: { readonly qualifier: 'D' | 'P'; readonly value: string };
  readonly from: { readonly qualifier: 'D' | 'P'; readonly value: string };
  readonly messageId: string;
  readonly relatesToMessageId?: string | undefined;
  readonly xml: string;
  /** The prescription's JWS where one travels with the message (x-scrip-rx-jws). */
  readonly jws?: string | undefined;
  /** The prescription the message is about (its timeline gets the delivery events). */
  readonly prescriptionId?: string | undefined;
}

/** The sealed payload of a network_outbox row. */
export interface NetworkPayload {
  readonly xml: string;
  readonly jws: string | null;
}

export class TableNetworkOutbox implements NetworkOutbox {
  constructor(
    private readonly keyring: Keyring,
    private readonly clock: Clock,
    private readonly deadlineMs = 24 * 3_600_000,
  ) {}

  async enqueue(
    tx: Tx,
    tenantId: TenantId,
    msg: Parameters<NetworkOutbox['enqueue']>[2],
  ): Promise<void> {
    await this.enqueueAny(tx, tenantId, msg);
  }

  /** Writes one pending message of any kind; returns the row id. */
  async enqueueAny(tx: Tx, tenantId: TenantId, msg: OutboundMessage): Promise<string> {
    const id = randomUUID();
    const payload: NetworkPayload = { xml: msg.xml, jws: msg.jws ?? null };
    const { version, sealed } = await sealRow(tx, this.keyring, tenantId, NETWORK_OUTBOX, id, {
      payload: JSON.stringify(payload),
    });
    const now = this.clock.now();
    await tx.query(
      `INSERT INTO network_outbox (id, tenant_id, message_type, message_id, relates_to,
                                   from_qualifier, from_address, to_qualifier, to_address,
                                   prescription_id, dek_version, payload, status, attempts,
                                   next_attempt_at, deadline_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'pending', 0, $13, $14, $13, $13)`,
      [
        id,
        tenantId,
        msg.type,
        msg.messageId,
        msg.relatesToMessageId ?? null,
        msg.from.qualifier,
        msg.from.value,
        msg.to.qualifier,
        msg.to.value,
        msg.prescriptionId ?? null,
        version,
        sealed.payload,
        now,
        new Date(now.getTime() + this.deadlineMs),
      ],
    );
    return id;
  }
}
