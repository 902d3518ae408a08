/**
 * The network outbox port: a domain that must send a SCRIPT message hands it over here, in the
 * same transaction as the state change that causes it (transactional outbox), and the network
 * layer delivers it later over mutual TLS, retrying until it is answered. The pharmacy inbox uses
 * it for the messages a pharmacy sends back to the prescriber system (Status, RxFill,
 * CancelRxResponse, RxRenewalRequest, RxChangeRequest), addressed To qualifier D.
 */
import type { TenantId } from '../core/index.js';
import type { Tx } from '../db/index.js';
import type { MessageType } from './ncpdp-script.types.js';

/** One outgoing SCRIPT message, already built by the codec (`xml` parses back to `type`). */
export interface OutgoingScriptMessage {
  readonly type: MessageType;
  readonly to: { readonly qualifier: 'D'; readonly value: string };
  readonly from: { readonly qualifier: 'P'; readonly value: string };
  /** Header/MessageID: the receiver's idempotency key. */
  readonly messageId: string;
  readonly relatesToMessageId?: string;
  readonly xml: string;
}

export interface NetworkOutbox {
  /** Queues `msg` for delivery; runs in the caller's transaction, so it commits or rolls back with it. */
  enqueue(tx: Tx, tenantId: TenantId, msg: OutgoingScriptMessage): Promise<void>;
}
