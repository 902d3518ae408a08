/**
 * The network outbox port, shared with src/pharmacy: a pharmacy-originated message To the
 * prescriber system, written in the caller's transaction (the table-backed implementation is
 * network-outbox.table.ts; the network worker delivers it).
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { MessageType } from './ncpdp-script.types.js';

/** Port: enqueue a pharmacy-originated message To the prescriber system (qualifier D). */
export interface NetworkOutbox {
  enqueue(
    tx: Tx,
    tenantId: TenantId,
    msg: {
      type: MessageType;
      to: { qualifier: 'D'; value: string };
      from: { qualifier: 'P'; value: string };
      messageId: string;
      relatesToMessageId?: string;
      xml: string;
    },
  ): Promise<void>;
}
